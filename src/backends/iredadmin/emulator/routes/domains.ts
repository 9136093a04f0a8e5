// /api/domains and /api/domain/<domain>: list, create, update (profile, status, quotas, alias domains), delete
// (keeping mailboxes for N days). Quotas are in MB. Facts: iredadmin.md.

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { notFound } from '../answers.ts';
import type { RouteContext } from '../context.ts';
import { isIRedMailDomain, type Params } from '../params.ts';
import {
  allocatedQuota,
  deleteAliasAccount,
  deleteMailbox,
  domainHosted,
  throttleKey,
  timestamp,
  type DomainRecord,
  type IRedAdminStore,
} from '../store.ts';

/** A domain's profile as the API exports its SQL record (settings as a dict, alias domains alongside). */
export function domainJson(store: IRedAdminStore, record: DomainRecord): Record<string, unknown> {
  return {
    domain: record.domain,
    description: record.description,
    maxquota: record.maxquota,
    active: record.active ? 1 : 0,
    transport: record.transport,
    backupmx: 0,
    mailboxes: record.mailboxes,
    aliases: record.aliases,
    settings: {
      ...(record.language ? { default_language: record.language } : {}),
      ...(record.defaultUserQuota ? { default_user_quota: record.defaultUserQuota } : {}),
      ...(record.maxUserQuota ? { max_user_quota: record.maxUserQuota } : {}),
    },
    alias_domains: [...store.aliasDomainsOf.get(record.domain)].sort(),
    created: record.created,
    modified: record.modified,
  };
}

export function domainRoutes(context: RouteContext): Route<RouteHandler>[] {
  const { store, reply } = context;
  const domainParam = (call: RouteCall): string => {
    const domain = call.param('domain').toLowerCase();
    return isIRedMailDomain(domain) ? domain : reply.refuse('INVALID_DOMAIN_NAME');
  };
  const existing = (call: RouteCall): DomainRecord => store.domains.get(domainParam(call)) ?? reply.refuse('INVALID_DOMAIN_NAME');

  const remove = (call: RouteCall) => {
    const domain = domainParam(call);
    if (!/^\d*$/.test(call.param('days'))) return notFound();
    const days = Number(call.param('days') || '0');
    if (!store.domains.has(domain)) return reply.ok();
    for (const username of [...store.mailboxesByDomain.get(domain)]) deleteMailbox(store, username, days);
    for (const address of [...store.aliasesByDomain.get(domain)]) deleteAliasAccount(store, address);
    for (const alias of [...store.aliasDomainsOf.get(domain)]) unlinkAliasDomain(store, domain, alias);
    for (const kind of ['inbound', 'outbound'] as const) store.throttles.delete(throttleKey(`@${domain}`, kind));
    store.domains.delete(domain);
    return reply.ok();
  };

  return routeTable<RouteHandler>([
    ['GET', '/api/domains', (call) => {
      const params = context.params(call);
      const records = [...store.domains.values()]
        .filter((record) => !params.has('disabled_only') || !record.active)
        .sort((a, b) => a.domain.localeCompare(b.domain));
      if (params.has('name_only')) return reply.ok(records.map((record) => record.domain));
      return reply.ok(Object.fromEntries(records.map((record) => [record.domain, domainJson(store, record)])));
    }],
    ['GET', '/api/domain/:domain', (call) => {
      const record = existing(call);
      return reply.ok({ ...domainJson(store, record), allocated_quota: allocatedQuota(store, record.domain) });
    }],
    ['POST', '/api/domain/:domain', (call) => {
      const domain = domainParam(call);
      if (domainHosted(store, domain)) reply.refuse('ALREADY_EXISTS');
      const params = context.params(call);
      const now = timestamp(store);
      const record: DomainRecord = {
        domain,
        description: params.text('name') ?? '',
        maxquota: 0,
        active: true,
        transport: params.text('transport') || 'dovecot',
        language: params.text('language') ?? '',
        defaultUserQuota: 0,
        maxUserQuota: 0,
        mailboxes: 0,
        aliases: 0,
        created: now,
        modified: now,
      };
      applyLimits(record, params);
      store.domains.set(domain, record);
      return reply.ok();
    }],
    ['PUT', '/api/domain/:domain', (call) => {
      const record = existing(call);
      const params = context.params(call);
      const aliasDomains = aliasDomainChanges(store, record.domain, params, reply.refuse);
      const active = params.accountStatus();
      applyLimits(record, params);
      if (params.has('name')) record.description = params.text('name') ?? '';
      if (active !== undefined) record.active = active;
      if (params.has('transport')) record.transport = params.text('transport') ?? '';
      if (params.has('language')) record.language = params.text('language') ?? '';
      for (const alias of aliasDomains.removed) unlinkAliasDomain(store, record.domain, alias);
      for (const alias of aliasDomains.added) {
        store.aliasDomains.set(alias, record.domain);
        store.aliasDomainsOf.add(record.domain, alias);
      }
      record.modified = timestamp(store);
      return reply.ok();
    }],
    ['DELETE', '/api/domain/:domain', remove],
    ['DELETE', '/api/domain/:domain/keep_mailbox_days/:days', remove],
  ]);
}

/** The MB quotas and account limits a create or update carries; checked before anything is written. */
function applyLimits(record: DomainRecord, params: Params): void {
  const quota = params.integer('quota', 'INVALID_QUOTA_SIZE');
  const defaultQuota = params.integer('defaultQuota', 'INVALID_QUOTA_SIZE');
  const maxUserQuota = params.integer('maxUserQuota', 'INVALID_QUOTA_SIZE');
  const numberOfUsers = params.integer('numberOfUsers', 'INVALID_NUMBER', { min: -1 });
  const numberOfAliases = params.integer('numberOfAliases', 'INVALID_NUMBER', { min: -1 });
  if (quota !== undefined) record.maxquota = quota;
  if (defaultQuota !== undefined) record.defaultUserQuota = defaultQuota;
  if (maxUserQuota !== undefined) record.maxUserQuota = maxUserQuota;
  if (numberOfUsers !== undefined) record.mailboxes = numberOfUsers;
  if (numberOfAliases !== undefined) record.aliases = numberOfAliases;
}

/** `aliasDomains` (full replace) or `addAliasDomain`/`removeAliasDomain`, validated against what exists. */
function aliasDomainChanges(store: IRedAdminStore, domain: string, params: Params, refuse: (msg: string) => never): { added: string[]; removed: string[] } {
  const current = [...store.aliasDomainsOf.get(domain)];
  const replace = params.has('aliasDomains');
  const wanted = replace ? params.list('aliasDomains') : [...current.filter((a) => !params.list('removeAliasDomain').includes(a)), ...params.list('addAliasDomain')];
  const added = [...new Set(wanted)].filter((alias) => !current.includes(alias));
  for (const alias of added) {
    if (!isIRedMailDomain(alias)) refuse('INVALID_DOMAIN_NAME');
    if (alias === domain || store.domains.has(alias)) refuse('CAN_NOT_BE_LOCAL_DOMAIN');
    if (store.aliasDomains.has(alias)) refuse('ALREADY_EXISTS');
  }
  return { added, removed: current.filter((alias) => !wanted.includes(alias)) };
}

function unlinkAliasDomain(store: IRedAdminStore, domain: string, alias: string): void {
  store.aliasDomains.delete(alias);
  store.aliasDomainsOf.delete(domain, alias);
}
