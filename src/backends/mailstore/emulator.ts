// A MailStore Server Administration API in memory, for tests and demos, on the emulator framework (../emulator/). It
// follows ../../../../shared/backends/mailstore.md: both URL forms, HTTP Basic (admin/admin by default, like
// MailStore), the current form's envelopes after a UTF-8 BOM, the legacy form's bare results and 500 text/plain
// failures, status tokens with long-poll get-status and cancel-async, and the legacy rule that a status is deleted
// once its final state was delivered. Any function can be made long-running (`slow`) or failing (`fail`), so that
// clients can be tested on the paths real servers take under load. Its parts are in ./emulator/.

import { ActionParameters, readForm } from '../emulator/actions.ts';
import { halt, jsonAnswer, textAnswer } from '../emulator/answers.ts';
import { basicCredentials } from '../emulator/credentials.ts';
import { parseDuration } from '../emulator/duration.ts';
import { createRouteDispatcher, routeTable, type RouteCall, type RouteHandler } from '../emulator/router.ts';
import { startEmulator, type EmulatorOptions, type EmulatorRequest, type EmulatorResponse, type RunningEmulator } from '../emulator/server.ts';
import { createCallRegistry, type ApiForm, type StatusView } from './emulator/calls.ts';
import { API_FUNCTIONS, checkArguments, metadata, type ApiFunction } from './emulator/functions.ts';
import { createMailStoreStore, findUser, MailStoreRefusal, putUser, type StoredUser } from './emulator/store.ts';

export interface SlowFunction {
  durationMs: number;
  /** Progress steps, one log line each. Default 4. */
  steps?: number;
}

export interface MailStoreEmulatorOptions extends EmulatorOptions {
  /** The administrator the API accepts. Default admin/admin, like a fresh MailStore Server. */
  user?: string;
  password?: string;
  /** Functions made long-running, by name. */
  slow?: Readonly<Record<string, SlowFunction>>;
  /** Functions that fail, by name, with the message they fail with. */
  fail?: Readonly<Record<string, string>>;
  /** How long /api/invoke waits for a call to end before it answers `running` with a token. Default 500 ms. */
  invokeWaitMs?: number;
  /** How long a finished call's status stays after its end (current form). Default 10 minutes. */
  statusRetentionMs?: number;
}

export interface MailStoreUserView {
  readonly userName: string;
  readonly fullName: string | null;
  readonly authentication: string;
  readonly emailAddresses: readonly string[];
  readonly privileges: readonly string[];
  readonly loginPrivileges: readonly string[];
  readonly hasPassword: boolean;
}

export interface MailStoreCallView {
  readonly token: string;
  readonly fn: string;
  readonly statusCode: string;
  readonly statusVersion: number;
}

export interface MailStoreEmulator extends RunningEmulator {
  /** A copy of every user, taken when read. */
  readonly users: readonly MailStoreUserView[];
  /** The calls that ran as tasks (slow ones), with their tokens, as long as the server knows them. */
  readonly calls: readonly MailStoreCallView[];
  /** How many times each function did its work (a call cancelled before its end does nothing). */
  readonly effects: Readonly<Record<string, number>>;
  /** Test hook: whether `password` is the user's password (the API cannot tell). */
  passwordMatches(userName: string, password: string): boolean;
  /** Test hook: a user created by hand, as an administrator would in the MailStore client. */
  addUser(user: Partial<StoredUser> & { userName: string }): void;
  /** Makes a function long-running from now on (undefined: quick again). */
  setSlow(fn: string, slow: SlowFunction | undefined): void;
  /** Makes a function fail from now on with this message (undefined: works again). */
  setFailure(fn: string, message: string | undefined): void;
  /** Forgets every status token, as a server does when the session ends. */
  forgetStatuses(): void;
  /** Test hook: resolves once the call with this token has ended. */
  callEnded(token: string): Promise<void>;
  /** Test hook: resolves when the next request matching `test` arrives (before it is answered). */
  nextRequest(test: (request: { method: string; path: string; form: URLSearchParams }) => boolean): Promise<void>;
  /** Meter of the store's collections (see ../emulator/store.ts). */
  readonly entriesVisited: number;
}

const BOM = { bom: true };
const TEXT = 'text/plain; charset=utf-8';

/** `SetUserEmailAddresses=2s` or `SetUserEmailAddresses=2s:5` (5 progress steps), as `--slow` takes it. */
export function parseSlowOption(text: string): [string, SlowFunction] {
  const match = /^(\w+)=([^:]+)(?::(\d+))?$/.exec(text.trim());
  if (match === null) throw new RangeError(`--slow ${text}: write it as FUNCTION=DURATION[:STEPS], e.g. SetUserEmailAddresses=2s or VerifyStore=10s:20`);
  const [, fn, duration, steps] = match as unknown as [string, string, string, string | undefined];
  knownFunction(fn, '--slow');
  return [fn, { durationMs: parseDuration(duration!), ...(steps !== undefined ? { steps: Math.max(1, Number(steps)) } : {}) }];
}

/** `CreateUser` or `CreateUser=Disk full.`, as `--fail` takes it. */
export function parseFailOption(text: string): [string, string] {
  const [fn = '', ...message] = text.split('=');
  knownFunction(fn.trim(), '--fail');
  return [fn.trim(), message.join('=').trim() || `${fn.trim()} failed (injected by the emulator).`];
}

function knownFunction(fn: string, option: string): void {
  if (API_FUNCTIONS[fn] === undefined) throw new RangeError(`${option} ${fn}: not a function the emulator knows (${Object.keys(API_FUNCTIONS).join(', ')})`);
}

function envelope(view: Partial<StatusView> & { result?: unknown }, token: string | null): EmulatorResponse {
  // The key order of MailStore's own envelope (mailstore.md).
  return jsonAnswer({
    error: view.error ?? null,
    token,
    statusVersion: view.statusVersion ?? 2,
    statusCode: view.statusCode ?? 'succeeded',
    percentProgress: view.percentProgress ?? null,
    statusText: null,
    result: view.result ?? null,
    logOutput: view.lines && view.lines.length > 0 ? view.lines.map((line) => `${line}\r\n`).join('') : null,
  }, BOM);
}

function immediateFailure(refusal: MailStoreRefusal): EmulatorResponse {
  return envelope({ error: { message: refusal.message, details: refusal.details }, statusCode: 'failed' }, null);
}

export async function startMailStoreEmulator(options: MailStoreEmulatorOptions = {}): Promise<MailStoreEmulator> {
  const admin = { user: options.user ?? 'admin', password: options.password ?? 'admin' };
  const store = createMailStoreStore();
  const calls = createCallRegistry(store.collections, options.statusRetentionMs ?? 600_000);
  const slow = new Map(Object.entries(options.slow ?? {}));
  const failures = new Map(Object.entries(options.fail ?? {}));
  const effects: Record<string, number> = {};
  const invokeWaitMs = options.invokeWaitMs ?? 500;

  /** What a call does and when: refused at once on a missing argument, then run now or as a task. */
  function prepare(name: string, request: EmulatorRequest, refuse: (message: string) => never): { fn: ApiFunction; run: () => unknown; slowness?: SlowFunction } {
    const fn = API_FUNCTIONS[name];
    if (fn === undefined) return halt(textAnswer(`Unknown function '${name}'.`, TEXT, { status: 404 }));
    const params = new ActionParameters(readForm(request), refuse);
    checkArguments(fn, params);
    const failure = failures.get(name);
    const run = () => {
      if (failure !== undefined) throw new MailStoreRefusal(failure);
      const result = fn.run(store, params);
      effects[name] = (effects[name] ?? 0) + 1;
      return result;
    };
    const slowness = slow.get(name) ?? (fn.longRunning ? { durationMs: fn.longRunning.durationMs } : undefined);
    return { fn, run, ...(slowness ? { slowness } : {}) };
  }

  function startTask(name: string, form: ApiForm, fn: ApiFunction, run: () => unknown, slowness: SlowFunction, request: EmulatorRequest) {
    const steps = slowness.steps ?? 4;
    const lines = fn.longRunning
      ? fn.longRunning.lines(new ActionParameters(readForm(request), () => undefined as never))
      : Array.from({ length: steps }, (_, i) => `${name}: step ${i + 1} of ${steps}...`);
    return calls.start(name, form, { durationMs: slowness.durationMs, lines, run });
  }

  // --- current form
  const refuseCurrent = (message: string): never => halt(immediateFailure(new MailStoreRefusal(message)));

  async function invokeCurrent(call: RouteCall): Promise<EmulatorResponse> {
    const name = call.param('fn');
    const { fn, run, slowness } = prepare(name, call.request, refuseCurrent);
    if (slowness === undefined) {
      try {
        return envelope({ result: run() }, null);
      } catch (error) {
        if (error instanceof MailStoreRefusal) return immediateFailure(error);
        throw error;
      }
    }
    // The server waits a while for the call to end; past that the caller gets a token.
    const task = startTask(name, 'current', fn, run, slowness, call.request);
    await calls.worker.waitForEnd(task, invokeWaitMs, call.request.signal);
    const view = calls.status(task, 0);
    return envelope(view, view.token);
  }

  function tokenOf(call: RouteCall, params: ActionParameters) {
    const token = params.required('token');
    return calls.find(token) ?? halt(textAnswer('The session has expired or the token is unknown.', TEXT, { status: 404 }));
  }

  async function getStatus(call: RouteCall): Promise<EmulatorResponse> {
    const params = new ActionParameters(readForm(call.request), refuseCurrent);
    const task = tokenOf(call, params);
    const known = Number(params.optional('lastKnownStatusVersion') ?? 0);
    const timeoutMs = Math.max(0, Number(params.optional('millisecondsTimeout') ?? 0));
    // A long poll: held until the status moves past the version the caller knows, or the timeout.
    await calls.worker.waitForChange(task, Number.isFinite(known) ? known : 0, Number.isFinite(timeoutMs) ? timeoutMs : 0, call.request.signal);
    const view = calls.status(task, known);
    return envelope(view, view.token);
  }

  function cancelAsync(call: RouteCall): EmulatorResponse {
    const params = new ActionParameters(readForm(call.request), refuseCurrent);
    calls.cancel(tokenOf(call, params));
    // No acknowledgement: the caller polls until the status is final.
    return envelope({}, null);
  }

  // --- legacy form
  const refuseLegacy = (message: string): never => halt(textAnswer(message, TEXT, { status: 500 }));

  function invokeLegacy(call: RouteCall): EmulatorResponse {
    const name = call.param('fn');
    const { fn, run, slowness } = prepare(name, call.request, refuseLegacy);
    if (slowness === undefined) {
      try {
        return jsonAnswer(run() ?? null);
      } catch (error) {
        if (error instanceof MailStoreRefusal) return refuseLegacy(error.message);
        throw error;
      }
    }
    const task = startTask(name, 'legacy', fn, run, slowness, call.request);
    const token = task.context.token;
    return jsonAnswer({ statusToken: token, statusUrl: `/JSON/Status/${token}` });
  }

  const legacyDelivered = new Map<string, number>();
  function legacyStatus(call: RouteCall): EmulatorResponse {
    const token = call.param('token');
    const task = calls.find(token) ?? refuseLegacy(`Unknown status token '${token}'.`);
    // Each poll gets the lines logged since the one before.
    const known = legacyDelivered.get(token) ?? 0;
    const view = calls.status(task, known);
    legacyDelivered.set(token, view.statusVersion);
    if (view.final) {
      calls.delivered(task);
      legacyDelivered.delete(token);
    }
    const messages = [
      ...view.lines.map((text) => ({ type: 'line', text })),
      ...(view.error ? [{ type: 'error', text: view.error.message }] : []),
    ];
    const status = view.statusCode === 'cancelled' ? 'failed' : view.statusCode;
    return jsonAnswer({ status, result: view.result, progressPercentage: view.percentProgress, messages });
  }

  const routes = routeTable<RouteHandler>([
    ['POST', '/api/invoke/:fn', invokeCurrent],
    ['POST', '/api/get-status', getStatus],
    ['POST', '/api/cancel-async', cancelAsync],
    ['POST', '/api/get-metadata', () => envelope({ result: metadata() }, null)],
    ['POST', '/JSON/Invoke/:fn', invokeLegacy],
    ['GET', '/JSON/Status/:token', legacyStatus],
    ['POST', '/JSON/Status/:token', legacyStatus],
  ]);
  const watchers = new Set<{ test: Parameters<MailStoreEmulator['nextRequest']>[0]; resolve: () => void }>();
  const notify = (request: EmulatorRequest) => {
    if (watchers.size === 0) return;
    const seen = { method: request.method, path: request.rawPath, form: readForm(request) };
    for (const watcher of [...watchers]) {
      if (!watcher.test(seen)) continue;
      watchers.delete(watcher);
      watcher.resolve();
    }
  };
  const routed = createRouteDispatcher(routes, {
    malformedPath: () => textAnswer('Bad Request', TEXT, { status: 400 }),
    notFound: () => textAnswer('Not Found', TEXT, { status: 404 }),
    methodNotAllowed: (_request, allowed) => textAnswer('Method Not Allowed', TEXT, { status: 405, headers: { allow: allowed.join(', ') } }),
    guard: (request) => {
      const credentials = basicCredentials(request);
      if (credentials?.user.toLowerCase() === admin.user.toLowerCase() && credentials.password === admin.password) return undefined;
      return textAnswer('Unauthorized', TEXT, { status: 401, headers: { 'www-authenticate': 'Basic realm="MailStore Server"' } });
    },
  });

  const dispatch = (request: EmulatorRequest) => {
    notify(request);
    return routed(request);
  };

  const emulator = await startEmulator({
    name: 'mailstore',
    handle: dispatch,
    // An internal error in MailStore's own plain shape (the legacy form's, too).
    serverError: (message) => textAnswer(`Internal server error: ${message}`, TEXT, { status: 500 }),
    close: () => calls.worker.close(),
  }, options);

  const extras: Omit<MailStoreEmulator, keyof RunningEmulator> = {
    get users() {
      return [...store.users.values()].map((u) => ({
        userName: u.userName,
        fullName: u.fullName,
        authentication: u.authentication,
        emailAddresses: [...u.emailAddresses],
        privileges: [...u.privileges],
        loginPrivileges: [...u.loginPrivileges],
        hasPassword: u.password !== null,
      }));
    },
    get calls() {
      return calls.all().map((task) => {
        const view = calls.status(task, Number.MAX_SAFE_INTEGER);
        return { token: view.token, fn: view.fn, statusCode: view.statusCode, statusVersion: view.statusVersion };
      });
    },
    get effects() { return { ...effects }; },
    get entriesVisited() { return store.collections.meter.visited; },
    passwordMatches: (userName, password) => findUser(store, userName)?.password === password,
    addUser(user) {
      putUser(store, {
        fullName: null, distinguishedName: null, authentication: 'integrated', emailAddresses: [], pop3UserNames: [],
        privileges: ['login'], loginPrivileges: ['windows', 'web', 'outlook'], privilegesOnFolders: new Map(), password: null,
        ...user,
      });
    },
    setSlow(fn, value) {
      knownFunction(fn, 'setSlow');
      if (value === undefined) slow.delete(fn);
      else slow.set(fn, value);
    },
    setFailure(fn, message) {
      knownFunction(fn, 'setFailure');
      if (message === undefined) failures.delete(fn);
      else failures.set(fn, message);
    },
    forgetStatuses: () => calls.forgetAll(),
    async callEnded(token) {
      const task = calls.all().find((t) => t.context.token === token);
      if (task === undefined) throw new Error(`no call with token ${token}`);
      await calls.worker.waitForEnd(task, Number.POSITIVE_INFINITY, new AbortController().signal);
    },
    nextRequest(test) {
      return new Promise<void>((resolve) => watchers.add({ test, resolve }));
    },
  };
  // The running server, with the MailStore views and hooks added (getters stay getters).
  return Object.defineProperties(emulator, Object.getOwnPropertyDescriptors(extras)) as MailStoreEmulator;
}
