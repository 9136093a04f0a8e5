// A small backend with one route per quirk the HTTP framework must handle, each taken from a fact
// sheet (shared/backends/*.md): iRedAdmin's cookie sessions and failures at HTTP 200, Open-Xchange's
// SOAP faults at 500, MailStore's BOM-prefixed envelopes and held status polls; plus 429 with
// Retry-After, a route that fails a set number of times, and a route that holds a request open.
// Every route counts its hits; a test awaits a hit instead of sleeping.
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRouter, decodePath } from '../../src/backends/emulator/router.ts';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import {
  startEmulator,
  type EmulatorBackend,
  type EmulatorOptions,
  type EmulatorRequest,
  type EmulatorResponse,
  type RunningEmulator,
} from '../../src/backends/emulator/server.ts';
import { BackendError, type BackendErrorKind } from '../../src/engine/adapter.ts';
import type { Logger } from '../../src/log.ts';
import {
  describeRequest,
  failureByStatus,
  formBody,
  loginSession,
  sessionCookies,
  permanent,
  readJson,
  sessionExpired,
  success,
  transient,
  HttpClient,
  type AnswerClassifier,
  type HttpClientOptions,
  type SessionAuthentication,
} from '../../src/backends/http/index.ts';

export const SESSION_COOKIE = 'fake_session';
const BOM = '\uFEFF';

export interface FakeBackendOptions {
  username?: string;
  password?: string;
  /** How many calls a session serves before the backend answers LOGIN_REQUIRED (default: no limit). */
  callsPerSession?: number;
  /** How many times `/flaky` answers 503 before it answers 200. */
  flakyFailures?: number;
  /** How many times `/throttled` answers 429 before it answers 200, and its Retry-After. */
  throttled?: { times: number; retryAfter: string };
  /** How many times the SOAP `urn:change` fails with a StorageException before it succeeds. */
  storageFaults?: number;
}

interface Task {
  statusVersion: number;
  statusCode: 'running' | 'succeeded' | 'failed';
  changed: EventTarget;
}

type Handler = (request: EmulatorRequest, params: ReadonlyMap<string, string>) => EmulatorResponse | Promise<EmulatorResponse>;

export class FakeBackend implements EmulatorBackend {
  readonly name = 'fake';
  readonly options: Required<Omit<FakeBackendOptions, 'throttled'>> & Pick<FakeBackendOptions, 'throttled'>;
  /** Successful logins. */
  logins = 0;
  /** Status polls held open right now. */
  heldPolls = 0;
  /** The fields of the last form posted to /echo, and the headers it came with. */
  lastEcho: { contentType: string | undefined; soapAction: string | undefined; fields: Array<[string, string]>; text: string } | undefined;
  readonly users = new Set<string>(['amy@example.com']);
  readonly #hits = new Map<string, number>();
  readonly #hitWaiters: Array<{ path: string; count: number; resolve: () => void }> = [];
  readonly #sessions = new Map<string, { callsLeft: number }>();
  readonly #tasks = new Map<string, Task>();
  readonly #route = createRouter<Handler>([
    { method: 'POST', path: '/api/login', handler: (request) => this.#login(request) },
    { method: 'GET', path: '/api/users', handler: (request) => this.#withSession(request, () => envelope({ _success: true, _data: [...this.users] })) },
    { method: 'POST', path: '/api/user/:mail', handler: (request, params) => this.#withSession(request, () => this.#createUser(params.get('mail')!)) },
    { method: 'POST', path: '/webservices/OXUserService', handler: (request) => this.#soap(request) },
    { method: 'POST', path: '/api/invoke/:function', handler: (request, params) => this.#invoke(params.get('function')!) },
    { method: 'POST', path: '/api/get-status', handler: (request) => this.#getStatus(request) },
    { method: 'GET', path: '/throttled', handler: () => this.#throttled() },
    { method: 'POST', path: '/throttled', handler: () => this.#throttled() },
    { method: 'GET', path: '/flaky', handler: () => this.#flaky() },
    { method: 'POST', path: '/flaky', handler: () => this.#flaky() },
    { method: 'GET', path: '/hold', handler: (request) => this.#hold(request) },
    { method: 'GET', path: '/whoami', handler: (request) => this.#whoami(request) },
    { method: 'POST', path: '/echo', handler: (request) => this.#echo(request) },
  ]);

  constructor(options: FakeBackendOptions = {}) {
    this.options = {
      username: options.username ?? 'admin@example.com',
      password: options.password ?? FAKE_PASSWORD,
      callsPerSession: options.callsPerSession ?? Number.POSITIVE_INFINITY,
      flakyFailures: options.flakyFailures ?? 0,
      storageFaults: options.storageFaults ?? 0,
      throttled: options.throttled,
    };
  }

  handle(request: EmulatorRequest): EmulatorResponse | Promise<EmulatorResponse> {
    this.#hit(request.rawPath);
    const found = this.#route(request.method, decodePath(request.rawPath) ?? []);
    if (found.kind !== 'found') return { status: 404, headers: { 'content-type': 'text/plain' }, body: `no route ${request.method} ${request.rawPath}` };
    return found.handler(request, found.params);
  }

  serverError(message: string): EmulatorResponse {
    return envelope({ _success: false, _msg: message }, 500);
  }

  /** How many requests reached `path`. */
  hits(path: string): number {
    return this.#hits.get(path) ?? 0;
  }

  /** Resolves once `path` has been reached `count` times. */
  reached(path: string, count = 1): Promise<void> {
    if (this.hits(path) >= count) return Promise.resolve();
    return new Promise((resolve) => this.#hitWaiters.push({ path, count, resolve }));
  }

  /** Ends every session: the next call with one is answered LOGIN_REQUIRED. */
  expireSessions(): void {
    this.#sessions.clear();
  }

  /** Starts a long-running task (status version 1, running) and returns its token. */
  startTask(): string {
    const token = `t${this.#tasks.size + 1}`;
    this.#tasks.set(token, { statusVersion: 1, statusCode: 'running', changed: new EventTarget() });
    return token;
  }

  /** Moves a task to its final status; held polls answer at once. */
  finishTask(token: string): void {
    const task = this.#tasks.get(token);
    if (!task) throw new Error(`no task ${token}`);
    task.statusVersion += 1;
    task.statusCode = 'succeeded';
    task.changed.dispatchEvent(new Event('changed'));
  }

  #hit(path: string): void {
    const count = this.hits(path) + 1;
    this.#hits.set(path, count);
    for (const waiter of [...this.#hitWaiters]) {
      if (waiter.path === path && waiter.count <= count) {
        this.#hitWaiters.splice(this.#hitWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }

  // --- iRedAdmin-style: form login, session cookie, failures at HTTP 200
  #login(request: EmulatorRequest): EmulatorResponse {
    const form = new URLSearchParams(request.body.toString('utf8'));
    if (form.get('username') !== this.options.username || form.get('password') !== this.options.password) {
      return envelope({ _success: false, _msg: 'INVALID_CREDENTIALS' });
    }
    this.logins += 1;
    const id = `s${this.logins}-${Math.random().toString(36).slice(2)}`;
    this.#sessions.set(id, { callsLeft: this.options.callsPerSession });
    return {
      ...envelope({ _success: true }),
      headers: { 'content-type': 'application/json', 'set-cookie': `${SESSION_COOKIE}=${id}; Path=/; HttpOnly` },
    };
  }

  #withSession(request: EmulatorRequest, handler: () => EmulatorResponse): EmulatorResponse {
    const id = /(?:^|;\s*)fake_session=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
    const session = id === undefined ? undefined : this.#sessions.get(id);
    if (!session || session.callsLeft <= 0) {
      if (id !== undefined) this.#sessions.delete(id);
      return envelope({ _success: false, _msg: 'LOGIN_REQUIRED' });
    }
    session.callsLeft -= 1;
    return handler();
  }

  #createUser(mail: string): EmulatorResponse {
    if (this.users.has(mail)) return envelope({ _success: false, _msg: 'ALREADY_EXISTS' });
    this.users.add(mail);
    return envelope({ _success: true });
  }

  // --- Open-Xchange-style SOAP: every failure a fault at HTTP 500
  #soap(request: EmulatorRequest): EmulatorResponse {
    const action = request.headers.soapaction;
    if (action === '"urn:change"') {
      if (this.options.storageFaults > 0) {
        this.options.storageFaults -= 1;
        return soapFault('StorageException', 'Database is busy, try again');
      }
      return soapEnvelope('<ns:changeResponse xmlns:ns="http://soap.admin.openexchange.com"/>');
    }
    if (action === '"urn:getData"') return soapFault('NoSuchUserException', 'No such user ghost in context 1');
    return soapFault('InvalidDataException', `unknown action ${String(action)}`);
  }

  // --- MailStore-style: BOM-prefixed envelopes, a token to poll, held status requests
  #invoke(name: string): EmulatorResponse {
    if (name === 'GetServerInfo') return mailstoreEnvelope({ statusCode: 'succeeded', statusVersion: 1, result: { version: '24.1', machineName: 'ARCHIVE' } });
    return mailstoreEnvelope({ statusCode: 'running', token: this.startTask(), statusVersion: 1, result: null });
  }

  async #getStatus(request: EmulatorRequest): Promise<EmulatorResponse> {
    const form = new URLSearchParams(request.body.toString('utf8'));
    const task = this.#tasks.get(form.get('token') ?? '');
    if (!task) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'no such token' };
    const known = Number(form.get('lastKnownStatusVersion'));
    if (task.statusVersion <= known) {
      this.heldPolls += 1;
      try {
        const timeout = AbortSignal.timeout(Number(form.get('millisecondsTimeout')));
        await once(task.changed, 'changed', { signal: AbortSignal.any([timeout, request.signal]) }).catch(() => undefined);
      } finally {
        this.heldPolls -= 1;
      }
    }
    return mailstoreEnvelope({ statusCode: task.statusCode, statusVersion: task.statusVersion, result: null });
  }

  // --- plain HTTP
  #throttled(): EmulatorResponse {
    const throttled = this.options.throttled;
    if (throttled && throttled.times > 0) {
      throttled.times -= 1;
      return { status: 429, headers: { 'content-type': 'text/plain', 'retry-after': throttled.retryAfter }, body: 'slow down' };
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  }

  #flaky(): EmulatorResponse {
    if (this.options.flakyFailures > 0) {
      this.options.flakyFailures -= 1;
      return { status: 503, headers: { 'content-type': 'text/plain' }, body: 'busy' };
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  }

  /** Answers after `?ms=` milliseconds (a slow server), or when the client goes away. */
  async #hold(request: EmulatorRequest): Promise<EmulatorResponse> {
    await sleep(Number(request.query.get('ms') ?? 60_000), undefined, { signal: request.signal }).catch(() => undefined);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"held":true}' };
  }

  #whoami(request: EmulatorRequest): EmulatorResponse {
    const [scheme, encoded] = (request.headers.authorization ?? '').split(' ');
    const [user, ...rest] = Buffer.from(encoded ?? '', 'base64').toString('utf8').split(':');
    if (scheme !== 'Basic' || user !== this.options.username || rest.join(':') !== this.options.password) {
      return { status: 401, headers: { 'content-type': 'text/plain' }, body: 'wrong user name or password' };
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) };
  }

  #echo(request: EmulatorRequest): EmulatorResponse {
    const text = request.body.toString('utf8');
    const contentType = request.headers['content-type'];
    const soapAction = request.headers.soapaction as string | undefined;
    this.lastEcho = { contentType, soapAction, text, fields: [...new URLSearchParams(text)] };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  }
}

function envelope(body: unknown, status = 200): EmulatorResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function mailstoreEnvelope(fields: Record<string, unknown>): EmulatorResponse {
  const body = { error: null, token: null, percentProgress: null, statusText: null, logOutput: null, ...fields };
  return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: BOM + JSON.stringify(body) };
}

function soapEnvelope(content: string, status = 200): EmulatorResponse {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>${content}</soapenv:Body></soapenv:Envelope>`;
  return { status, headers: { 'content-type': 'text/xml; charset=UTF-8' }, body: xml };
}

function soapFault(exception: string, message: string): EmulatorResponse {
  return soapEnvelope(`<soapenv:Fault><faultcode>soapenv:Server</faultcode><faultstring>${message}</faultstring><detail><ns:${exception} xmlns:ns="http://soap.admin.openexchange.com"/></detail></soapenv:Fault>`, 500);
}

export interface RunningFakeBackend {
  fake: FakeBackend;
  url: string;
  emulator: RunningEmulator;
}

/**
 * For one test file: starts fake backends and HTTP clients on them, and closes them all after each
 * test. Clients default to 4 slots, no effective rate limit, a 5 s time limit, 2 retries, 5 ms backoff.
 */
export function useFakeBackends() {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((resource) => resource.close()));
  });
  return {
    async start(options: FakeBackendOptions = {}, emulator: EmulatorOptions = {}): Promise<RunningFakeBackend> {
      const fake = new FakeBackend(options);
      const running = await startEmulator(fake, emulator);
      open.push(running);
      return { fake, url: running.url, emulator: running };
    },
    client<V>(baseUrl: string, classify: AnswerClassifier<V>, options: Partial<HttpClientOptions<V>> = {}): HttpClient<V> {
      const client = new HttpClient<V>({
        backend: 'fake',
        baseUrl,
        concurrency: 4,
        requestsPerSecond: 10_000,
        timeoutMs: 5_000,
        retries: 2,
        retryMinDelayMs: 5,
        classify,
        ...options,
      });
      open.push(client);
      return client;
    },
  };
}

/** A debug logger whose lines a test can read. */
export function capturedLog(): { log: Logger; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) });
  return { log: pino({ level: 'debug' }, sink), text: () => lines.join('') };
}

// --- How a client would log in and read these answers: one classifier per style.

export const FAKE_PASSWORD = 'right password';

/** The iRedAdmin-Pro login: a form POST whose answer sets the session cookie. */
export function fakeLogin(password = FAKE_PASSWORD): SessionAuthentication<unknown> {
  return loginSession(async (login) => {
    const { response } = await login.send({
      method: 'POST',
      path: '/api/login',
      body: formBody({ username: 'admin@example.com', password }),
      idempotent: true,
    });
    return { cookies: sessionCookies(response) };
  });
}

const REASON_KINDS: Readonly<Record<string, BackendErrorKind>> = {
  ALREADY_EXISTS: 'Conflict',
  USER_NOT_EXIST: 'NotFound',
  NOT_AUTHORIZED: 'Forbidden',
};

/** iRedAdmin's envelope: `_success` decides, whatever the status; `LOGIN_REQUIRED` means the session expired. */
export const iredadminStyle: AnswerClassifier<unknown> = (request, response) => {
  if (response.status === 429 || response.status >= 500) return failureByStatus(request, response);
  const body = readJson<{ _success?: unknown; _msg?: unknown; _data?: unknown }>(request, response, (v) => typeof v === 'object' && v !== null);
  if (body._success === true) return success(body._data);
  const reason = typeof body._msg === 'string' ? body._msg : 'no reason given';
  if (reason === 'LOGIN_REQUIRED') return sessionExpired(reason);
  return permanent(new BackendError(REASON_KINDS[reason] ?? 'Invalid', `${describeRequest(request)}: ${reason}`, { status: response.status }));
};

/** Open-Xchange's SOAP faults: the exception named in the fault decides; only StorageException is worth another try. */
export const soapStyle: AnswerClassifier<string> = (request, response) => {
  if (response.status === 200) return success(response.text);
  const exception = /<(?:\w+:)?(\w+Exception)\b/.exec(response.text)?.[1];
  const message = /<faultstring>([^<]*)<\/faultstring>/.exec(response.text)?.[1];
  if (!exception || !message) return failureByStatus(request, response);
  const error = (kind: BackendErrorKind) => new BackendError(kind, `${describeRequest(request)}: ${exception}: ${message}`, { status: response.status });
  if (exception === 'StorageException') return transient(error('Unavailable'));
  return permanent(error(exception.startsWith('NoSuch') ? 'NotFound' : exception === 'InvalidCredentialsException' ? 'Unauthorized' : 'Invalid'));
};

/** MailStore's envelope (after its BOM): `error` decides. */
export const mailstoreStyle: AnswerClassifier<{ statusCode: string; token: string | null; statusVersion: number; result: unknown }> = (request, response) => {
  if (response.status !== 200) return failureByStatus(request, response);
  const body = readJson<{ error: { message: string } | null; statusCode: string; token: string | null; statusVersion: number; result: unknown }>(
    request,
    response,
    (v) => typeof v === 'object' && v !== null && 'statusCode' in v,
  );
  if (body.error) return permanent(new BackendError('Invalid', `${describeRequest(request)}: ${body.error.message}`));
  return success(body);
};
