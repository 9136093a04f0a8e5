// /api/aliases/<domain> and /api/alias/<mail>: alias accounts and their members (`members` replaces them all,
// `addMember`/`removeMember` change a few). Members of the alias's own domain that no account has are left out, as
// the server does; a malformed member, or one in a domain this server does not host, is refused. Facts: iredadmin.md.

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { listOfDomain, type RouteContext } from '../context.ts';
import { domainOfAddress, isIRedMailAddress, type Params } from '../params.ts';
import { addressTaken, deleteAliasAccount, domainHosted, timestamp, type AliasRecord } from '../store.ts';

export function aliasJson(record: AliasRecord): Record<string, unknown> {
  return {
    address: record.address,
    name: record.name,
    domain: record.domain,
    accesspolicy: record.accesspolicy,
    active: record.active ? 1 : 0,
    members: [...record.members].sort(),
    created: record.created,
  };
}

export function aliasRoutes(context: RouteContext): Route<RouteHandler>[] {
  const { store, reply } = context;
  const mailParam = (call: RouteCall): string => {
    const mail = call.param('mail').toLowerCase();
    return isIRedMailAddress(mail) ? mail : reply.refuse('INVALID_MAIL');
  };

  /** The members after `members` or `addMember`/`removeMember`; undefined when none is given. */
  const memberChanges = (address: string, current: ReadonlySet<string>, params: Params): string[] | undefined => {
    if (!params.has('members') && !params.has('addMember') && !params.has('removeMember')) return undefined;
    const removed = params.list('removeMember');
    const wanted = params.has('members') ? params.list('members') : [...[...current].filter((m) => !removed.includes(m)), ...params.list('addMember')];
    const domain = domainOfAddress(address);
    for (const member of wanted) {
      if (!isIRedMailAddress(member)) reply.refuse('INVALID_MAIL');
      if (!domainHosted(store, domainOfAddress(member))) reply.refuse('UNKNOWN_MEMBER_DOMAIN');
    }
    return [...new Set(wanted)].filter((member) => member !== address && (domainOfAddress(member) !== domain || addressTaken(store, member)));
  };

  return routeTable<RouteHandler>([
    ['GET', '/api/aliases/:domain', listOfDomain(context, (domain) => store.aliasesByDomain.get(domain), (address) => store.aliases.get(address)!, aliasJson)],
    ['GET', '/api/alias/:mail', (call) => reply.ok(aliasJson(store.aliases.get(mailParam(call)) ?? reply.refuse('NO_SUCH_ACCOUNT')))],
    ['POST', '/api/alias/:mail', (call) => {
      const address = mailParam(call);
      const domainName = domainOfAddress(address);
      const domain = store.domains.get(domainName) ?? reply.refuse('INVALID_DOMAIN_NAME');
      if (addressTaken(store, address)) reply.refuse('ALREADY_EXISTS');
      if (domain.aliases === -1) reply.refuse('NOT_ALLOWED');
      if (domain.aliases > 0 && store.aliasesByDomain.get(domainName).size >= domain.aliases) reply.refuse('EXCEEDED_DOMAIN_ACCOUNT_LIMIT');
      const params = context.params(call);
      const members = memberChanges(address, new Set(), params) ?? [];
      store.aliases.set(address, {
        address,
        domain: domainName,
        name: params.text('name') ?? '',
        accesspolicy: params.text('accessPolicy') || 'public',
        active: true,
        members: store.collections.set(members),
        created: timestamp(store),
      });
      store.aliasesByDomain.add(domainName, address);
      return reply.ok();
    }],
    ['PUT', '/api/alias/:mail', (call) => {
      const address = mailParam(call);
      const record = store.aliases.get(address) ?? reply.refuse('NO_SUCH_ACCOUNT');
      const params = context.params(call);
      const active = params.accountStatus();
      const members = memberChanges(address, record.members, params);
      if (params.has('name')) record.name = params.text('name') ?? '';
      if (params.has('accessPolicy')) record.accesspolicy = params.text('accessPolicy') || 'public';
      if (active !== undefined) record.active = active;
      if (members) {
        record.members.clear();
        for (const member of members) record.members.add(member);
      }
      return reply.ok();
    }],
    ['DELETE', '/api/alias/:mail', (call) => {
      deleteAliasAccount(store, mailParam(call));
      return reply.ok();
    }],
  ]);
}
