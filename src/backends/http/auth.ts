// How a backend knows it is us. Either the same headers on every request (James's JWT or password,
// HTTP Basic for MailStore and Open-Xchange), or a session: a login that yields a cookie or a token,
// performed before the first call that needs it, once for all the calls waiting on it, and again
// once when the server says the session expired (iRedAdmin-Pro answers `LOGIN_REQUIRED`,
// shared/backends/iredadmin.md). Credentials never reach a log line or an error message.
import { getSetCookies, Headers } from 'undici';
import { BackendError, isBackendError } from '../../engine/adapter.ts';
import { Sensitive } from '../../model/sensitive.ts';
import type { HttpResponse } from './answers.ts';
import type { HttpRequest } from './request.ts';

/** What a call returns: the classifier's value and the answer it came from. */
export interface Reply<V> {
  readonly value: V;
  readonly response: HttpResponse;
}

export interface LoginContext<V> {
  /**
   * Sends a request without credentials, on the ordinary lane, through the backend's classifier
   * and retry policy. Any failure but an unreachable server counts as a refused login.
   */
  send(request: HttpRequest): Promise<Reply<V>>;
}

/** What a login yields: cookies (see `sessionCookies`) and/or headers (a token). */
export interface SessionCredentials {
  readonly cookies?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface StaticAuthentication {
  readonly scheme: 'static';
  readonly headers: Readonly<Record<string, string>>;
}

export interface SessionAuthentication<V> {
  readonly scheme: 'session';
  /** Logs in; throws (or lets `send` throw) when the server refuses. */
  login(context: LoginContext<V>): Promise<SessionCredentials>;
}

export type Authentication<V> = StaticAuthentication | SessionAuthentication<V>;

/** The same headers on every request (`Authorization: Bearer …`, James 3.9's `Password: …`). */
export function staticHeaders(headers: Readonly<Record<string, string>>): StaticAuthentication {
  return { scheme: 'static', headers };
}

export const noAuthentication: StaticAuthentication = staticHeaders({});

/** HTTP Basic, as MailStore's and Open-Xchange's admin APIs take it. */
export function basicAuth(username: string, password: string): StaticAuthentication {
  return staticHeaders({ authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}` });
}

/** A login performed when first needed and renewed when the backend's classifier says the session expired. */
export function loginSession<V>(login: (context: LoginContext<V>) => Promise<SessionCredentials>): SessionAuthentication<V> {
  return { scheme: 'session', login };
}

/** The cookies a response sets, by name (those it deletes, with a past expiry or Max-Age=0, left out). */
export function sessionCookies(response: HttpResponse): Record<string, string> {
  const headers = new Headers();
  const lines = response.headers['set-cookie'];
  for (const line of Array.isArray(lines) ? lines : lines ? [lines] : []) headers.append('set-cookie', line);
  const now = Date.now();
  const cookies: Record<string, string> = {};
  for (const cookie of getSetCookies(headers)) {
    const deleted = (cookie.maxAge !== undefined && cookie.maxAge <= 0) || (cookie.expires !== undefined && Number(cookie.expires) <= now);
    if (!deleted) cookies[cookie.name] = cookie.value;
  }
  return cookies;
}

/** The headers one request carries, and which session they belong to (0 for static credentials). */
export interface RequestCredentials {
  readonly headers: Readonly<Record<string, string>>;
  readonly session: number;
  /** A session's cookies and tokens, known to redactSecrets while the session is in use: a server may quote them back. */
  readonly secrets?: readonly Sensitive[];
}

/** Hands out credentials to requests; for a session, logs in and renews it. */
export interface CredentialKeeper {
  current(signal: AbortSignal): Promise<RequestCredentials>;
  /**
   * Credentials to repeat a call with after the server said `stale`'s session expired: every call
   * that saw the same session expire shares one new login. Null when they cannot be renewed.
   */
  renew(stale: RequestCredentials, signal: AbortSignal): Promise<RequestCredentials | null>;
}

export function credentialKeeper<V>(auth: Authentication<V>, context: LoginContext<V> & { backend: string }): CredentialKeeper {
  if (auth.scheme === 'static') {
    const credentials: RequestCredentials = { headers: auth.headers, session: 0 };
    return { current: async () => credentials, renew: async () => null };
  }
  return new SessionKeeper(auth, context);
}

class SessionKeeper<V> implements CredentialKeeper {
  readonly #auth: SessionAuthentication<V>;
  readonly #context: LoginContext<V> & { backend: string };
  /** The newest login, done or under way; a failed one is forgotten so that the next call tries again. */
  #latest: { session: number; credentials: Promise<RequestCredentials> } | undefined;
  #logins = 0;

  constructor(auth: SessionAuthentication<V>, context: LoginContext<V> & { backend: string }) {
    this.#auth = auth;
    this.#context = context;
  }

  current(signal: AbortSignal): Promise<RequestCredentials> {
    this.#latest ??= this.#login();
    return untilAborted(this.#latest.credentials, signal);
  }

  renew(stale: RequestCredentials, signal: AbortSignal): Promise<RequestCredentials | null> {
    // A newer session than the one that expired is already there or on its way: use it.
    if (this.#latest === undefined || this.#latest.session <= stale.session) this.#latest = this.#login();
    return untilAborted(this.#latest.credentials, signal);
  }

  #login(): { session: number; credentials: Promise<RequestCredentials> } {
    const session = ++this.#logins;
    // Not tied to the signal of the call that started it: other calls wait on the same login.
    const credentials = this.#auth.login(this.#context).then(
      (result) => toRequestCredentials(result, session, this.#context.backend),
      (error: unknown) => {
        throw refusedLogin(error);
      },
    );
    const attempt = { session, credentials };
    credentials.catch(() => {
      if (this.#latest === attempt) this.#latest = undefined;
    });
    return attempt;
  }
}

function toRequestCredentials(result: SessionCredentials, session: number, backend: string): RequestCredentials {
  const cookies = Object.entries(result.cookies ?? {});
  const headers = { ...result.headers };
  if (cookies.length > 0) headers.cookie = cookies.map(([name, value]) => `${name}=${value}`).join('; ');
  if (Object.keys(headers).length === 0) {
    throw new BackendError('Protocol', `${backend}: the login succeeded but its answer carried no session cookie or token`);
  }
  const secrets = [...cookies.map(([, value]) => value), ...Object.values(result.headers ?? {})].map((value) => new Sensitive(value));
  return { headers, session, secrets };
}

/**
 * An unreachable or garbled server stays what it is, and so does a server that refuses this client
 * whoever logs in (Forbidden: iRedAdmin's allow-list of client addresses); anything else the server
 * said means no.
 */
function refusedLogin(error: unknown): unknown {
  if (!isBackendError(error) || ['Unavailable', 'Aborted', 'Protocol', 'Timeout', 'Forbidden'].includes(error.kind)) return error;
  return new BackendError('Unauthorized', `login refused: ${error.message}`, { status: error.status, cause: error });
}

/** Waits for `promise`, or rejects with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
