// /api/users/<domain> and /api/user/<mail>: list, create, update (profile, password, quota in MB, status, per-user
// alias addresses, forwardings), rename, delete (keeping the mailbox for N days), and password checks. Where the
// server's helpers quietly leave out what they cannot keep, so does the emulator: per-user aliases outside the
// user's domain, and forwardings to addresses of the user's domain that no account has. Facts: iredadmin.md.

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { notFound } from '../answers.ts';
import { listOfDomain, passwordProblems, type RouteContext } from '../context.ts';
import { domainOfAddress, isIRedMailAddress, isIRedMailDomain, type Params } from '../params.ts';
import {
  addressTaken,
  allocatedQuota,
  deleteMailbox,
  passwordHash,
  throttleKey,
  timestamp,
  type DomainRecord,
  type IRedAdminStore,
  type MailboxRecord,
} from '../store.ts';

/** A mailbox profile as GET /api/user/<mail> exports it; the password stays hidden (API_HIDDEN_USER_PROFILES). */
export function mailboxJson(record: MailboxRecord): Record<string, unknown> {
  const forwardings = [...record.forwardings].sort();
  return {
    username: record.username,
    name: record.name,
    language: record.language,
    quota: record.quota,
    domain: record.domain,
    active: record.active ? 1 : 0,
    employeeid: record.employeeid,
    transport: record.transport,
    maildir: `${record.domain}/${record.username.split('@')[0]}/`,
    aliases: [...record.aliases].sort(),
    // A user forwarding only to itself forwards nothing (libs/sqllib/user.py profile()).
    forwardings: forwardings.length === 1 && forwardings[0] === record.username ? [] : forwardings,
    stored_bytes: record.storedBytes,
    stored_messages: 0,
    last_login: '',
    created: record.created,
    modified: record.modified,
  };
}

export function userRoutes(context: RouteContext): Route<RouteHandler>[] {
  const { store, reply } = context;
  const mailParam = (call: RouteCall, name = 'mail'): string => {
    const mail = call.param(name).toLowerCase();
    return isIRedMailAddress(mail) ? mail : reply.refuse('INVALID_MAIL');
  };
  const existing = (call: RouteCall): MailboxRecord => store.mailboxes.get(mailParam(call)) ?? reply.refuse('NO_SUCH_ACCOUNT');

  /** assign_given_mailbox_quota: the MB a user gets, cut to the domain's ceilings; refused when the domain is full. */
  const assignQuota = (domain: DomainRecord, requested: number | undefined, user?: MailboxRecord): number => {
    let quota = requested ?? domain.defaultUserQuota;
    if (domain.maxquota > 0) {
      const spare = domain.maxquota - allocatedQuota(store, domain.domain) + (user?.quota ?? 0);
      if (spare <= 0) reply.refuse('EXCEEDED_DOMAIN_QUOTA_SIZE');
      if (spare < quota) quota = spare;
      if (quota === 0) quota = domain.defaultUserQuota || domain.maxUserQuota || spare;
    }
    if (domain.maxUserQuota > 0 && quota > domain.maxUserQuota) quota = domain.maxUserQuota;
    return quota;
  };

  const checkedPassword = (params: Params): string | undefined => {
    if (!params.has('password')) return undefined;
    const password = params.text('password') ?? '';
    const problems = passwordProblems(password);
    return problems === undefined ? password : reply.refuse(problems);
  };

  const remove = (call: RouteCall) => {
    const mail = mailParam(call);
    if (!/^\d*$/.test(call.param('days'))) return notFound();
    deleteMailbox(store, mail, Number(call.param('days') || '0'));
    return reply.ok();
  };

  return routeTable<RouteHandler>([
    ['GET', '/api/users/:domain', listOfDomain(context, (domain) => store.mailboxesByDomain.get(domain), (mail) => store.mailboxes.get(mail)!, mailboxJson)],
    ['PUT', '/api/users/:domain', (call) => {
      const domain = call.param('domain').toLowerCase();
      if (!isIRedMailDomain(domain)) reply.refuse('INVALID_DOMAIN_NAME');
      const params = context.params(call);
      const active = params.accountStatus();
      const password = checkedPassword(params);
      for (const username of store.mailboxesByDomain.get(domain)) {
        const record = store.mailboxes.get(username)!;
        if (active !== undefined) record.active = active;
        if (password !== undefined) record.passwordHash = passwordHash(password);
        if (params.has('language')) record.language = params.text('language') ?? '';
        if (params.has('transport')) record.transport = params.text('transport') ?? '';
      }
      return reply.ok();
    }],
    ['GET', '/api/user/:mail', (call) => reply.ok(mailboxJson(existing(call)))],
    ['POST', '/api/user/:mail', (call) => {
      const mail = mailParam(call);
      const domainName = domainOfAddress(mail);
      const domain = store.domains.get(domainName) ?? reply.refuse('INVALID_DOMAIN_NAME');
      if (addressTaken(store, mail)) reply.refuse('ALREADY_EXISTS');
      if (domain.mailboxes === -1) reply.refuse('NOT_ALLOWED');
      if (domain.mailboxes > 0 && store.mailboxesByDomain.get(domainName).size >= domain.mailboxes) reply.refuse('EXCEEDED_DOMAIN_ACCOUNT_LIMIT');
      const params = context.params(call);
      const quota = assignQuota(domain, params.integer('quota', 'INVALID_QUOTA_SIZE'));
      const password = checkedPassword(params) ?? reply.refuse('PW_EMPTY');
      const now = timestamp(store);
      store.mailboxes.set(mail, {
        username: mail,
        domain: domainName,
        passwordHash: passwordHash(password),
        name: params.text('name') ?? '',
        language: params.text('language') ?? domain.language,
        quota,
        active: true,
        employeeid: '',
        transport: '',
        aliases: store.collections.set(),
        forwardings: store.collections.set(),
        storedBytes: 0,
        created: now,
        modified: now,
      });
      store.mailboxesByDomain.add(domainName, mail);
      return reply.ok();
    }],
    ['PUT', '/api/user/:mail', (call) => {
      const record = existing(call);
      const params = context.params(call);
      const domain = store.domains.get(record.domain) ?? reply.refuse('INVALID_DOMAIN_NAME');
      // Everything is checked before anything is written.
      const password = checkedPassword(params);
      const active = params.accountStatus();
      const requestedQuota = params.integer('quota', 'INVALID_QUOTA_SIZE');
      const quota = requestedQuota === undefined ? undefined : assignQuota(domain, requestedQuota, record);
      const aliases = userAliasChanges(store, record, params, reply.refuse);
      const forwardings = forwardingChanges(store, record, params);

      if (password !== undefined) record.passwordHash = passwordHash(password);
      if (params.has('name')) record.name = params.text('name') ?? '';
      if (params.has('language')) record.language = params.text('language') ?? '';
      if (params.has('employeeid')) record.employeeid = params.text('employeeid') ?? '';
      if (params.has('transport')) record.transport = params.text('transport') ?? '';
      if (active !== undefined) record.active = active;
      if (quota !== undefined) record.quota = quota;
      if (aliases) {
        for (const alias of record.aliases) store.userAliases.delete(alias);
        record.aliases.clear();
        for (const alias of aliases) {
          record.aliases.add(alias);
          store.userAliases.set(alias, record.username);
        }
      }
      if (forwardings) {
        record.forwardings.clear();
        for (const target of forwardings) record.forwardings.add(target);
      }
      record.modified = timestamp(store);
      return reply.ok();
    }],
    ['DELETE', '/api/user/:mail', remove],
    ['DELETE', '/api/user/:mail/keep_mailbox_days/:days', remove],
    ['POST', '/api/user/:mail/change_email/:newMail', (call) => {
      const mail = call.param('mail').toLowerCase();
      const newMail = call.param('newMail').toLowerCase();
      if (!isIRedMailAddress(mail)) reply.refuse('INVALID_OLD_EMAIL');
      if (!isIRedMailAddress(newMail)) reply.refuse('INVALID_NEW_EMAIL');
      if (domainOfAddress(mail) !== domainOfAddress(newMail)) reply.refuse('PERMISSION_DENIED');
      const record = store.mailboxes.get(mail) ?? reply.refuse('OLD_EMAIL_NOT_EXIST');
      if (addressTaken(store, newMail)) reply.refuse('NEW_EMAIL_ALREADY_EXISTS');
      const moved: MailboxRecord = { ...record, username: newMail, modified: timestamp(store) };
      // The forwardings table follows the address: as source, as a forward of itself, and as a member elsewhere.
      if (moved.forwardings.delete(mail)) moved.forwardings.add(newMail);
      for (const alias of moved.aliases) store.userAliases.set(alias, newMail);
      for (const other of store.mailboxesByDomain.get(record.domain)) {
        const forwards = store.mailboxes.get(other)!.forwardings;
        if (forwards.delete(mail)) forwards.add(newMail);
      }
      for (const address of store.aliasesByDomain.get(record.domain)) {
        const members = store.aliases.get(address)!.members;
        if (members.delete(mail)) members.add(newMail);
      }
      for (const kind of ['inbound', 'outbound'] as const) {
        const throttle = store.throttles.get(throttleKey(mail, kind));
        store.throttles.delete(throttleKey(mail, kind));
        if (throttle) store.throttles.set(throttleKey(newMail, kind), { ...throttle, account: newMail });
      }
      store.mailboxes.delete(mail);
      store.mailboxes.set(newMail, moved);
      store.mailboxesByDomain.delete(record.domain, mail);
      store.mailboxesByDomain.add(record.domain, newMail);
      return reply.ok();
    }],
    // A wrong password is `{"_success": false}` without a reason (api_misc.APIVerifyPassword).
    ['POST', '/api/verify_password/user/:mail', (call) => {
      const mail = mailParam(call);
      const password = context.params(call).text('password') ?? '';
      if (password === '') reply.refuse('EMPTY_PASSSWORD');
      const record = store.mailboxes.get(mail) ?? reply.refuse('NO_SUCH_ACCOUNT');
      return record.passwordHash === passwordHash(password) ? reply.ok() : reply.failed();
    }],
  ]);
}

/** The per-user alias addresses after `aliases` (full replace) or `addAlias`/`removeAlias`; undefined when neither is given. */
function userAliasChanges(store: IRedAdminStore, record: MailboxRecord, params: Params, refuse: (msg: string) => never): string[] | undefined {
  if (!params.has('aliases') && !params.has('addAlias') && !params.has('removeAlias')) return undefined;
  const removed = params.list('removeAlias');
  const wanted = params.has('aliases') ? params.list('aliases') : [...[...record.aliases].filter((a) => !removed.includes(a)), ...params.list('addAlias')];
  // reset_aliases/update_aliases keep only valid addresses in the user's own domain.
  const kept = [...new Set(wanted)].filter((alias) => isIRedMailAddress(alias) && domainOfAddress(alias) === record.domain && alias !== record.username);
  for (const alias of kept) if (!record.aliases.has(alias) && addressTaken(store, alias)) refuse('ALREADY_EXISTS');
  return kept;
}

/** The forwardings after `forwarding` (full replace) or `addForwarding`/`removeForwarding`; undefined when neither is given. */
function forwardingChanges(store: IRedAdminStore, record: MailboxRecord, params: Params): string[] | undefined {
  if (!params.has('forwarding') && !params.has('addForwarding') && !params.has('removeForwarding')) return undefined;
  const removed = params.list('removeForwarding');
  const wanted = params.has('forwarding') ? params.list('forwarding') : [...[...record.forwardings].filter((f) => !removed.includes(f)), ...params.list('addForwarding')];
  // reset_forwardings: invalid addresses, and addresses of the user's domain that no account has, are left out.
  return [...new Set(wanted)].filter((target) => isIRedMailAddress(target) && (domainOfAddress(target) !== record.domain || addressTaken(store, target)));
}

