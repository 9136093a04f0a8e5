// An Apache James WebAdmin (3.8.1, memory app) in memory, for tests and demos, on the emulator framework
// (../emulator/). It follows ../../../../shared/backends/james.md — "Seen on the real server" first — and, where
// the sheet is silent, the 3.8.1 sources; messages and error types are copied from them, and the suite
// test/backends/james/emulator.test.ts checks it against a real James. Its parts, in ./emulator/: names, the store
// and the rewrite table, the mapping rules, tasks, authentication, and one route file per area.

import { decodePath, createRouteDispatcher } from '../emulator/router.ts';
import { runningParts, startEmulator, type EmulatorOptions, type EmulatorRequest, type RunningEmulator } from '../emulator/server.ts';
import { jamesError, JSON_CONTENT, malformedUrl, routeNotFound } from './emulator/answers.ts';
import { createAuthentication, type JamesAuthOptions } from './emulator/auth.ts';
import { parseDomain, parseUsername } from './emulator/names.ts';
import type { JamesMapping } from './emulator/rewrite-table.ts';
import { addressRoutes } from './emulator/routes/addresses.ts';
import { domainRoutes } from './emulator/routes/domains.ts';
import { healthRoutes } from './emulator/routes/health.ts';
import { mailboxRoutes } from './emulator/routes/mailboxes.ts';
import { quotaRoutes } from './emulator/routes/quotas.ts';
import { userRoutes } from './emulator/routes/users.ts';
import { createJamesStore, createMailbox, type JamesStore, type QuotaLimits } from './emulator/store.ts';
import { createJamesTaskWorker, taskRoutes, taskStatus, taskStatusHistory, type JamesTaskWorker, type TaskStatus } from './emulator/tasks.ts';

export type { QuotaLimits, QuotaValue } from './emulator/store.ts';
export type { JamesMapping, MappingType } from './emulator/rewrite-table.ts';
export type { TaskStatus } from './emulator/tasks.ts';

export interface JamesEmulatorOptions extends EmulatorOptions, JamesAuthOptions {
  /** The configured default domain: exists from the start and cannot be deleted. Default `localhost`. */
  defaultDomain?: string;
  /** How long a rename task runs (its steps share the time). Default 50 ms. */
  taskDurationMs?: number;
}

export interface JamesMailboxView {
  readonly name: string;
  readonly id: string;
  readonly messageCount: number;
  readonly size: number;
}

export interface JamesTaskView {
  readonly taskId: string;
  readonly type: string;
  readonly status: TaskStatus;
  /** Every status the task went through, in order (e.g. waiting, inProgress, canceledRequested, canceled). */
  readonly statusHistory: readonly TaskStatus[];
  readonly oldUser: string;
  readonly newUser: string;
}

/** A copy of the emulator's state, taken when read. */
export interface JamesStateView {
  readonly defaultDomain: string;
  readonly domains: readonly string[];
  readonly users: readonly string[];
  /** Same shape as `GET /mappings`. */
  readonly mappings: Readonly<Record<string, readonly JamesMapping[]>>;
  readonly quotas: {
    readonly global: QuotaLimits;
    readonly domains: Readonly<Record<string, QuotaLimits>>;
    readonly users: Readonly<Record<string, QuotaLimits>>;
  };
  readonly mailboxes: Readonly<Record<string, readonly JamesMailboxView[]>>;
  readonly tasks: readonly JamesTaskView[];
}

export interface JamesEmulator extends RunningEmulator {
  readonly state: JamesStateView;
  /** Test hook standing in for SMTP: puts a message of `sizeBytes` in a user's mailbox (created if missing). */
  deliverMessage(username: string, mailboxName: string, sizeBytes: number): void;
  /**
   * Test hook, a cost meter without a clock: how many entries of the store's collections (users, mappings and their
   * indexes, quotas, mailboxes, tasks) have been iterated over since the start, by requests or reads of `state`.
   * A request about one user must not make it grow with the number of users.
   */
  readonly entriesVisited: number;
}

/** Spark matches a path without its empty segments (`//domains` is `/domains`), but not one with a trailing slash. */
function sparkSegments(rawPath: string): string[] | undefined {
  const segments = decodePath(rawPath);
  return rawPath.endsWith('/') ? segments : segments?.filter((segment) => segment !== '');
}

/** WebAdmin's CORS filter answers every OPTIONS request, before authentication (seen on 3.8.1). */
const PREFLIGHT = {
  status: 200,
  headers: {
    ...JSON_CONTENT,
    'access-control-allow-origin': '*',
    'access-control-request-method': 'DELETE, GET, POST, PUT',
    'access-control-allow-headers': 'Content-Type, Authorization, Accept',
  },
};

function stateView(store: JamesStore, tasks: JamesTaskWorker): JamesStateView {
  const limits = (map: Map<string, QuotaLimits>) => Object.fromEntries([...map]
    .filter(([, value]) => value.count !== null || value.size !== null)
    .map(([key, value]) => [key, { ...value }]));
  return {
    defaultDomain: store.defaultDomain,
    domains: [...store.domains],
    users: [...store.users.keys()],
    mappings: store.mappings.all(),
    quotas: { global: { ...store.globalQuota }, domains: limits(store.domainQuotas), users: limits(store.userQuotas) },
    mailboxes: Object.fromEntries([...store.mailboxes]
      .filter(([, mailboxes]) => mailboxes.size > 0)
      .map(([username, mailboxes]) => [username, [...mailboxes].map(([name, mailbox]) => ({ name, ...mailbox }))])),
    tasks: [...tasks.all()].map((task) => ({
      taskId: task.id,
      type: 'UsernameChangeTask',
      status: taskStatus(task),
      statusHistory: taskStatusHistory(task),
      oldUser: task.context.oldUser,
      newUser: task.context.newUser,
    })),
  };
}

export async function startJamesEmulator(options: JamesEmulatorOptions = {}): Promise<JamesEmulator> {
  const store = createJamesStore(parseDomain(options.defaultDomain ?? 'localhost'));
  const tasks = createJamesTaskWorker(store);
  const routes = [
    ...healthRoutes(),
    ...domainRoutes(store),
    ...userRoutes(store, tasks, options.taskDurationMs ?? 50),
    ...mailboxRoutes(store),
    ...quotaRoutes(store),
    ...addressRoutes(store),
    ...taskRoutes(tasks),
  ];
  const authenticate = createAuthentication(options);
  // The authentication filter sits on each private route group's base path, so `GET /nothing` is a plain 404
  // while anything under /users/… needs credentials first (seen on 3.8.1).
  const privateBases = new Set(routes.map((route) => route.path.split('/')[1]).filter((base) => base !== 'healthcheck'));
  const dispatch = createRouteDispatcher(routes, {
    malformedPath: malformedUrl,
    // Spark has no 405: a known path with another method is "not found" too.
    notFound: routeNotFound,
    headAsGet: true,
    splitPath: sparkSegments,
    guard: (request: EmulatorRequest, segments) => {
      if (request.method === 'OPTIONS') return PREFLIGHT;
      return privateBases.has(segments[0] ?? '') ? authenticate(request) : undefined;
    },
  });

  const emulator = await startEmulator({
    name: 'james',
    handle: dispatch,
    serverError: (message) => jamesError(500, 'ServerError', 'WebAdmin encountered an unexpected internal error', message),
    close: () => tasks.close(),
  }, options);

  return {
    ...runningParts(emulator),
    get state() { return stateView(store, tasks); },
    get entriesVisited() { return store.collections.meter.visited; },
    deliverMessage(username, mailboxName, sizeBytes) {
      const mailbox = createMailbox(store, parseUsername(username).name, mailboxName);
      mailbox.messageCount += 1;
      mailbox.size += sizeBytes;
    },
  };
}
