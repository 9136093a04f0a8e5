// An Open-Xchange App Suite in memory, for tests and demos, on the emulator framework (../emulator/). It follows
// ../../../../shared/backends/openxchange.md and the REST seed: the SOAP provisioning services OXContextService (the
// master admin's) and OXUserService (each context's admin's) under /webservices/, with their WSDL at `?wsdl`
// (advertising port 80, as OX does) and OX's faults; and the REST admin API — the health check (which can be told
// to report a check DOWN), closing sessions, and the mail resolver. Its parts are in ./emulator/.

import { textAnswer } from '../emulator/answers.ts';
import { createRouteDispatcher, routeTable, type RouteHandler } from '../emulator/router.ts';
import { createSoapService, soapFault } from '../emulator/soap.ts';
import { runningParts, startEmulator, type EmulatorOptions, type RunningEmulator } from '../emulator/server.ts';
import { oxException } from './emulator/calls.ts';
import { contextOperations } from './emulator/contexts.ts';
import { badRequest, HEALTH_CHECKS, notFound, restRoutes } from './emulator/rest.ts';
import { mappingsOf, openSession, passwordHash, createOXStore } from './emulator/store.ts';
import { userOperations } from './emulator/users.ts';
import { wsdlDocument, type WsdlOperations } from './emulator/wsdl.ts';
import { SERVICE_NAMESPACE } from './soap.ts';

export interface OpenXchangeEmulatorOptions extends EmulatorOptions {
  /** The master admin. Default oxadminmaster / secret. */
  user?: string;
  password?: string;
  /** The REST API's basic-auth login (com.openexchange.rest.services.basic-auth.*). Default: the master admin. */
  restUser?: string;
  restPassword?: string;
  /** Health checks that report DOWN from the start. */
  healthDown?: readonly string[];
}

export interface OXContextView {
  readonly id: number;
  readonly name: string;
  readonly enabled: boolean;
  readonly maxQuota: number;
  readonly loginMappings: readonly string[];
  readonly admin: string;
  readonly moduleQuotas: Readonly<Record<string, number>>;
}

export interface OXUserView {
  readonly contextId: number;
  readonly id: number;
  readonly name: string;
  readonly displayName: string;
  readonly givenName: string;
  readonly surName: string;
  readonly primaryEmail: string;
  readonly email1: string;
  readonly aliases: readonly string[];
  readonly mailEnabled: boolean;
  readonly maxQuota: number;
  readonly language: string;
  readonly timezone: string;
}

export interface OpenXchangeEmulator extends RunningEmulator {
  /** A copy of every context, taken when read. */
  readonly contexts: readonly OXContextView[];
  /** A copy of every user of every context (context admins included), taken when read. */
  readonly users: readonly OXUserView[];
  /** The sessions open now, as (contextId, userId). */
  readonly sessions: ReadonlyArray<{ id: string; contextId: number; userId: number }>;
  /** Test hook: a user logs in (by context id and login name); returns the session id. */
  login(contextId: number, userName: string): string;
  /** Test hook: a health check reports DOWN (or UP again). */
  setHealthCheck(name: string, status: 'UP' | 'DOWN'): void;
  /** Test hook: whether the password is the user's. */
  passwordMatches(contextId: number, userName: string, password: string): boolean;
  /** Meter of the store's collections (see ../emulator/store.ts). */
  readonly entriesVisited: number;
}

const CONTEXT_OPERATIONS: WsdlOperations = {
  create: [['ctx', 'ax21:Context'], ['admin_user', 'ax21:User']],
  change: [['ctx', 'ax21:Context']],
  delete: [['ctx', 'ax21:Context']],
  enable: [['ctx', 'ax21:Context']],
  disable: [['ctx', 'ax21:Context']],
  exists: [['ctx', 'ax21:Context']],
  getData: [['ctx', 'ax21:Context']],
  list: [['search_pattern', 'xs:string']],
  listAll: [],
  changeQuota: [['ctx', 'ax21:Context'], ['module', 'xs:string'], ['quota_value', 'xs:long']],
};

const USER_OPERATIONS: WsdlOperations = {
  create: [['ctx', 'ax21:Context'], ['usrdata', 'ax21:User']],
  change: [['ctx', 'ax21:Context'], ['usrdata', 'ax21:User']],
  delete: [['ctx', 'ax21:Context'], ['user', 'ax21:User']],
  getData: [['ctx', 'ax21:Context'], ['user', 'ax21:User']],
  getMultipleData: [['ctx', 'ax21:Context'], ['users', 'ax21:User[]']],
  exists: [['ctx', 'ax21:Context'], ['user', 'ax21:User']],
  listAll: [['ctx', 'ax21:Context']],
  list: [['ctx', 'ax21:Context'], ['search_pattern', 'xs:string']],
};

export async function startOpenXchangeEmulator(options: OpenXchangeEmulatorOptions = {}): Promise<OpenXchangeEmulator> {
  const store = createOXStore();
  const master = { user: options.user ?? 'oxadminmaster', passwordHash: passwordHash(options.password ?? 'secret') };
  const basic = options.restUser !== undefined || options.restPassword !== undefined
    ? { user: options.restUser ?? master.user, passwordHash: passwordHash(options.restPassword ?? options.password ?? 'secret') }
    : master;
  const health = { down: new Set(options.healthDown ?? []) };

  /** One SOAP service: POST for calls, GET `?wsdl` for its description. */
  const service = (name: string, operations: WsdlOperations, table: ReturnType<typeof contextOperations>): Array<readonly [string, string, RouteHandler]> => {
    const soap = createSoapService({ namespace: SERVICE_NAMESPACE, operations: table });
    return [
      ['POST', `/webservices/${name}`, (call) => soap(call.request)],
      ['GET', `/webservices/${name}`, (call) =>
        call.query.has('wsdl')
          ? textAnswer(wsdlDocument(name, call.request.headers.host ?? '', operations), 'text/xml; charset=UTF-8')
          : badRequest(`${name} is a SOAP service: POST SOAP 1.1 envelopes to it, or GET ?wsdl for its description`)],
    ];
  };

  const routes = [
    ...routeTable<RouteHandler>([
      ...service('OXContextService', CONTEXT_OPERATIONS, contextOperations(store, master)),
      ...service('OXUserService', USER_OPERATIONS, userOperations(store)),
    ]),
    ...restRoutes(store, { master, basic }, health),
  ];
  const dispatch = createRouteDispatcher(routes, { malformedPath: () => badRequest('Malformed path'), notFound });
  // An internal failure (and an injected `status` fault) is what OX answers when its database fails: a
  // StorageException fault on HTTP 500.
  const emulator = await startEmulator(
    {
      name: 'openxchange',
      handle: dispatch,
      serverError: (message) => {
        const fault = oxException('StorageException', message);
        return soapFault('Server', fault.message, fault.detail);
      },
    },
    options,
  );

  return {
    ...runningParts(emulator),
    get contexts() {
      return [...store.contexts.values()].sort((a, b) => a.id - b.id).map((context) => ({
        id: context.id,
        name: context.name,
        enabled: context.enabled,
        maxQuota: context.maxQuota,
        loginMappings: mappingsOf(context),
        admin: context.users.get(context.adminId)?.name ?? '',
        moduleQuotas: Object.fromEntries(context.moduleQuotas),
      }));
    },
    get users() {
      return [...store.contexts.values()].flatMap((context) =>
        [...context.users.values()].map(({ passwordHash: _hash, ...user }) => ({ contextId: context.id, ...user, aliases: [...user.aliases] })),
      );
    },
    get sessions() {
      return [...store.sessions.values()].map((session) => ({ ...session }));
    },
    login(contextId, userName) {
      const context = store.contexts.get(contextId);
      const userId = context?.userByName.get(userName);
      if (context === undefined || userId === undefined) throw new Error(`no user ${userName} in context ${contextId}`);
      return openSession(store, contextId, userId);
    },
    setHealthCheck(name, status) {
      if (status === 'DOWN') health.down.add(name);
      else health.down.delete(name);
    },
    passwordMatches(contextId, userName, password) {
      const context = store.contexts.get(contextId);
      const user = context?.users.get(context.userByName.get(userName) ?? -1);
      return user?.passwordHash === passwordHash(password);
    },
    get entriesVisited() {
      return store.collections.meter.visited;
    },
  };
}

export { HEALTH_CHECKS };
