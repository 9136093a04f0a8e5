// An iRedAdmin-Pro RESTful API (SQL edition) in memory, for tests and demos, on the emulator framework
// (../emulator/). It follows ../../../../shared/backends/iredadmin.md, and where the sheet is silent the behaviour of
// iRedAdmin-Pro's own helpers: failures answered at HTTP 200 with `_success: false`, a login that sets a session
// cookie which expires when left unused, the optional allow-list of client addresses (NOT_AUTHORIZED), quotas in MB
// cut to the domain's ceilings, and the server's reasons for bad input. Its parts, in ./emulator/: the store, the
// envelope, parameters, and one route file per area.

import { BlockList, isIP } from 'node:net';
import { ActionParameters, readForm } from '../emulator/actions.ts';
import { createCookieSessions } from '../emulator/credentials.ts';
import { createRouteDispatcher, routeTable, type RouteHandler } from '../emulator/router.ts';
import { runningParts, startEmulator, type EmulatorOptions, type EmulatorRequest, type EmulatorResponse, type RunningEmulator } from '../emulator/server.ts';
import { badRequest, envelope, internalError, notFound } from './emulator/answers.ts';
import { routeContext } from './emulator/context.ts';
import { isIRedMailAddress } from './emulator/params.ts';
import { aliasJson, aliasRoutes } from './emulator/routes/aliases.ts';
import { domainJson, domainRoutes } from './emulator/routes/domains.ts';
import { throttleRoutes } from './emulator/routes/throttle.ts';
import { mailboxJson, userRoutes } from './emulator/routes/users.ts';
import { createIRedAdminStore, passwordHash, type DeletedMailbox, type ThrottleRecord } from './emulator/store.ts';

export type { DeletedMailbox, ThrottleRecord } from './emulator/store.ts';

export interface IRedAdminEmulatorOptions extends EmulatorOptions {
  /** The global admin's email address (the login `username`). Default `postmaster@example.org`. */
  user?: string;
  /** The admin's password. Default `postmaster-password`. */
  password?: string;
  /** How long a session lives unused (iRedAdmin's session timeout). Default 30 minutes. */
  sessionTtlMs?: number;
  /**
   * RESTRICT_API_ACCESS with RESTFUL_API_CLIENTS: only these client addresses or networks (`192.0.2.0/24`) may call
   * the API; others get NOT_AUTHORIZED. Default: any client.
   */
  apiClients?: readonly string[];
  /** Answer in the envelope of releases before SQL 2.6 / LDAP 2.8: `{success, msg}` (and `data`). */
  legacyEnvelope?: boolean;
  /** The server's clock (epoch ms): sessions expire and purge dates are set by it. For tests; default Date.now. */
  now?: () => number;
}

/** A copy of the emulator's state, taken when read: what the API's GET calls show, and the purge queue. */
export interface IRedAdminStateView {
  readonly domains: Readonly<Record<string, Record<string, unknown>>>;
  readonly users: Readonly<Record<string, Record<string, unknown>>>;
  readonly aliases: Readonly<Record<string, Record<string, unknown>>>;
  /** By `<account> <inbound|outbound>`: `@. outbound`, `@example.com inbound`, `user@example.com outbound`. */
  readonly throttles: Readonly<Record<string, ThrottleRecord>>;
  readonly deletedMailboxes: readonly DeletedMailbox[];
}

export interface IRedAdminEmulator extends RunningEmulator {
  readonly state: IRedAdminStateView;
  /** Test hook: every open session ends, as when they time out; the next call gets LOGIN_REQUIRED. */
  expireSessions(): void;
  /** Test hook: the allow-list switch; null lets any client in. */
  setApiClients(clients: readonly string[] | null): void;
  /** Test hook: whether the password is the user's. */
  passwordMatches(mail: string, password: string): boolean;
  /** How many logins succeeded. */
  readonly logins: number;
  /** Test hook, a cost meter without a clock (see ../emulator/store.ts). */
  readonly entriesVisited: number;
}

const SESSION_COOKIE = 'iRedAdmin-Pro';

function allowList(clients: readonly string[]): BlockList {
  const list = new BlockList();
  for (const client of clients) {
    const [address = '', prefix] = client.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(address) === 0) throw new RangeError(`not an IP address or network: "${client}"`);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

export async function startIRedAdminEmulator(options: IRedAdminEmulatorOptions = {}): Promise<IRedAdminEmulator> {
  const admin = (options.user ?? 'postmaster@example.org').toLowerCase();
  if (!isIRedMailAddress(admin)) throw new RangeError(`the iRedAdmin-Pro admin logs in with an email address, got "${admin}"`);
  const adminPassword = passwordHash(options.password ?? 'postmaster-password');
  const now = options.now ?? Date.now;
  const store = createIRedAdminStore(() => new Date(now()));
  const reply = envelope(options.legacyEnvelope ?? false);
  const context = routeContext(store, reply);
  const sessions = createCookieSessions({ cookieName: SESSION_COOKIE, idleTimeoutMs: options.sessionTtlMs ?? 30 * 60_000, now });
  const opened = new Set<string>();
  let clients = options.apiClients ? allowList(options.apiClients) : null;
  let logins = 0;

  const allowed = (request: EmulatorRequest) => clients === null || (isIP(request.remoteAddress) !== 0 && clients.check(request.remoteAddress, isIP(request.remoteAddress) === 6 ? 'ipv6' : 'ipv4'));

  const login: RouteHandler = (call) => {
    const form = new ActionParameters(readForm(call.request), reply.refuse);
    const username = (form.optional('username') ?? '').trim().toLowerCase();
    if (!isIRedMailAddress(username)) reply.refuse('INVALID_USERNAME');
    const password = (form.optional('password') ?? '').trim();
    if (password === '') reply.refuse('EMPTY_PASSWORD');
    if (username !== admin || passwordHash(password) !== adminPassword) reply.refuse('INVALID_CREDENTIALS');
    const { session, setCookie } = sessions.open(username);
    opened.add(session.id);
    logins += 1;
    return { ...reply.ok(), headers: { 'content-type': 'application/json; charset=utf-8', 'set-cookie': setCookie } };
  };

  const routes = [
    ...routeTable<RouteHandler>([
      ['POST', '/api/login', login],
      ['GET', '/api/login', () => reply.failed('INVALID_HTTP_METHOD')],
    ]),
    ...domainRoutes(context),
    ...userRoutes(context),
    ...aliasRoutes(context),
    ...throttleRoutes(context),
  ];
  const dispatch = createRouteDispatcher(routes, {
    malformedPath: badRequest,
    notFound,
    // The API's decorators: first the allow-list, then the session (api_require_domain_access).
    guard: (request, segments): EmulatorResponse | undefined => {
      if (segments[0] !== 'api') return undefined;
      if (!allowed(request)) return reply.failed('NOT_AUTHORIZED');
      if (segments[1] === 'login') return undefined;
      return sessions.find(request) === undefined ? reply.failed('LOGIN_REQUIRED') : undefined;
    },
  });

  const emulator = await startEmulator({ name: 'iredadmin', handle: dispatch, serverError: internalError }, options);

  const byKey = <V, T>(map: Map<string, V>, view: (value: V) => T) => Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => [key, view(value)]));
  return {
    ...runningParts(emulator),
    get state() {
      return {
        domains: byKey(store.domains, (record) => domainJson(store, record)),
        users: byKey(store.mailboxes, mailboxJson),
        aliases: byKey(store.aliases, aliasJson),
        throttles: byKey(store.throttles, (setting) => ({ ...setting })),
        deletedMailboxes: [...store.deletedMailboxes],
      };
    },
    expireSessions() {
      for (const id of opened) sessions.end(id);
      opened.clear();
    },
    setApiClients(list) {
      clients = list ? allowList(list) : null;
    },
    passwordMatches: (mail, password) => store.mailboxes.get(mail.toLowerCase())?.passwordHash === passwordHash(password),
    get logins() { return logins; },
    get entriesVisited() { return store.collections.meter.visited; },
  };
}
