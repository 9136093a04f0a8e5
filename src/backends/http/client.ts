// The HTTP client every backend client builds on. The backend brings two things: how it
// authenticates and how to read its answers (a classifier). The client brings the rest, the same
// for every backend: connection pools, a concurrency and rate ceiling per lane (ordinary requests,
// long polls), one retry policy (p-retry: exponential backoff with jitter, Retry-After honoured
// within the ceiling, only where repeating is safe), sessions renewed once when they expire, abort
// signals, and the count of requests sent that the plan output shows.
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { BackendError, isBackendError } from '../../engine/adapter.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { redactSecrets } from '../../model/sensitive.ts';
import type { Answer, AnswerClassifier, HttpResponse } from './answers.ts';
import { credentialKeeper, noAuthentication, type Authentication, type CredentialKeeper, type Reply, type RequestCredentials } from './auth.ts';
import { describeNetworkFailure, Lane, NetworkFailure } from './lanes.ts';
import { certificateProblem } from './tls.ts';
import { describeRequest, encodeBody, isIdempotent, queryString, type HttpRequest } from './request.ts';

/** How to reach a backend and how hard to push it: what a MailBackend declares. */
export interface ConnectionOptions {
  /** The backend's name, for messages and logs. */
  backend: string;
  baseUrl: string;
  /** Ordinary requests in flight at once. */
  concurrency: number;
  /** Rate ceiling of ordinary requests; long polls have a budget of their own. */
  requestsPerSecond: number;
  /** Time limit of one request; a long poll may take its hold time plus this. */
  timeoutMs: number;
  /** Further attempts of a request that failed transiently and is safe to repeat. */
  retries: number;
  insecureSkipTLSVerify?: boolean;
  /** PEM CAs that verify the server's certificate instead of the system's (a private CA). */
  ca?: string;
  /** The largest answer body read (default 64 MiB, lanes.ts MAX_RESPONSE_BYTES). */
  maxResponseBytes?: number;
  log?: Logger;
  /** Long polls in flight at once (default: `concurrency`). */
  longPollConcurrency?: number;
  /** Backoff of the first retry; later ones double, with jitter. Default 200 ms. */
  retryMinDelayMs?: number;
  /** The longest pause between attempts, Retry-After included. Default 5 s. */
  retryMaxDelayMs?: number;
  /** Told of every request sent (metrics): its operation, answer and duration. */
  onExchange?: (exchange: Exchange) => void;
}

/** One request as metrics see it: the route with addresses and ids taken out, never a body. */
export interface Exchange {
  backend: string;
  operation: string;
  /** The HTTP status, or `network` when no answer came. */
  code: string;
  seconds: number;
}

/** `PUT /domains/example.com/users/a@example.com` → `PUT /domains/:name/users/:name`. */
export function operationOf(method: string, path: string): string {
  const route = path
    .split('?')[0]!
    .split('/')
    .map((segment) => (/[@.:%]|^\d+$|^[0-9a-f-]{16,}$/i.test(segment) ? ':name' : segment))
    .join('/');
  return `${method} ${route}`;
}

export interface HttpClientOptions<V> extends ConnectionOptions {
  /** What the backend's answers mean. */
  classify: AnswerClassifier<V>;
  /** Default: none. */
  auth?: Authentication<V>;
}

/** A failed attempt that another attempt may mend: thrown inside the retry loop. */
class TransientFailure extends Error {
  readonly error: BackendError;
  readonly repeatable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(error: BackendError, repeatable: boolean, retryAfterMs?: number) {
    super(error.message, { cause: error });
    this.name = 'TransientFailure';
    this.error = error;
    this.repeatable = repeatable;
    this.retryAfterMs = retryAfterMs;
  }
}

export class HttpClient<V> {
  readonly backend: string;
  readonly baseUrl: string;
  readonly #options: HttpClientOptions<V>;
  readonly #basePath: string;
  readonly #log: Logger;
  readonly #ordinary: Lane;
  readonly #longPolls: Lane;
  readonly #credentials: CredentialKeeper;
  /** Calls under way, so that close() can stop them. */
  readonly #calls = new Set<AbortController>();
  #closed: Promise<void> | undefined;
  #requests = 0;

  constructor(options: HttpClientOptions<V>) {
    this.#options = options;
    this.backend = options.backend;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const url = new URL(this.baseUrl);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#log = options.log ?? silentLogger;
    const lane = {
      origin: url.origin,
      insecureSkipTLSVerify: options.insecureSkipTLSVerify ?? false,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.maxResponseBytes !== undefined ? { maxResponseBytes: options.maxResponseBytes } : {}),
      onSent: () => void (this.#requests += 1),
    };
    this.#ordinary = new Lane({ ...lane, concurrency: options.concurrency, requestsPerSecond: options.requestsPerSecond });
    this.#longPolls = new Lane({ ...lane, concurrency: options.longPollConcurrency ?? options.concurrency, requestsPerSecond: options.requestsPerSecond });
    this.#credentials = credentialKeeper(options.auth ?? noAuthentication, {
      backend: this.backend,
      send: (request) => this.#call(request, null),
    });
  }

  /** Requests sent so far: every attempt that reached the server, retries and logins included. */
  get requestCount(): number {
    return this.#requests;
  }

  /** Sends a request and returns what the classifier made of the answer; throws a BackendError otherwise. */
  async call(request: HttpRequest): Promise<V> {
    return (await this.#call(request, this.#credentials)).value;
  }

  /** Like call(), with the answer itself (its headers, e.g. cookies) next to the value. */
  exchange(request: HttpRequest): Promise<Reply<V>> {
    return this.#call(request, this.#credentials);
  }

  /** Stops every call under way (they fail with kind Aborted) and closes the connections. */
  close(): Promise<void> {
    if (!this.#closed) {
      for (const call of this.#calls) call.abort(new Error('the client was closed'));
      this.#closed = Promise.all([this.#ordinary.close(), this.#longPolls.close()]).then(() => undefined);
    }
    return this.#closed;
  }

  async #call(request: HttpRequest, keeper: CredentialKeeper | null): Promise<Reply<V>> {
    const call = new AbortController();
    const forward = () => call.abort(request.signal?.reason);
    request.signal?.addEventListener('abort', forward, { once: true });
    if (request.signal?.aborted) forward();
    if (this.#closed) call.abort(new Error('the client was closed'));
    this.#calls.add(call);
    const { signal } = call;
    const maxDelay = this.#options.retryMaxDelayMs ?? 5_000;
    try {
      return await pRetry(() => this.#attempt(request, keeper, signal), {
        retries: this.#options.retries,
        factor: 2,
        minTimeout: Math.min(this.#options.retryMinDelayMs ?? 200, maxDelay),
        maxTimeout: maxDelay,
        randomize: true,
        signal,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          this.#log.debug(
            { backend: this.backend, method: request.method, path: request.path, attempt: attemptNumber, retriesLeft, error: error.message },
            'request failed',
          );
        },
        shouldRetry: async ({ error, retryDelay }) => {
          if (!(error instanceof TransientFailure) || !error.repeatable) return false;
          // p-retry pauses `retryDelay` next; a server that asked for more (Retry-After on 429/503)
          // gets the rest, up to the ceiling.
          const extra = Math.min(error.retryAfterMs ?? 0, maxDelay) - retryDelay;
          if (extra > 0) await sleep(extra, undefined, { signal });
          return true;
        },
      });
    } catch (error) {
      if (signal.aborted) throw aborted(request, signal.reason);
      if (error instanceof TransientFailure) throw error.error;
      throw error;
    } finally {
      request.signal?.removeEventListener('abort', forward);
      this.#calls.delete(call);
    }
  }

  /** One attempt, and its one repetition after a renewed session. */
  async #attempt(request: HttpRequest, keeper: CredentialKeeper | null, signal: AbortSignal): Promise<Reply<V>> {
    let credentials = keeper ? await keeper.current(signal) : null;
    for (let renewed = false; ; renewed = true) {
      const response = await this.#send(request, credentials, signal);
      const answer = this.#classify(request, response);
      switch (answer.outcome) {
        case 'success':
          return { value: answer.value, response };
        case 'permanent':
          throw answer.error;
        case 'transient':
          throw new TransientFailure(answer.error, isIdempotent(request) || answer.unprocessed === true, answer.retryAfterMs);
        case 'sessionExpired': {
          const fresh = !renewed && keeper && credentials ? await keeper.renew(credentials, signal) : null;
          if (!fresh) throw sessionRefused(request, answer.message, { renewed, loggingIn: keeper === null });
          credentials = fresh;
        }
      }
    }
  }

  #classify(request: HttpRequest, response: HttpResponse): Answer<V> {
    const answer = this.#classifyAs(request, response);
    if (answer.outcome === 'success') return answer;
    // A server may quote what it was sent (a Password header, a Basic login, a body with a user's
    // password) in its error answer: the message is made again from the answer without those, before
    // any classifier cuts it short and leaves half a secret no search would find.
    const redacted = redactSecrets(response.text);
    if (redacted === response.text) return answer;
    const again = this.#classifyAs(request, { ...response, text: redacted });
    return again.outcome === 'success' ? answer : again;
  }

  #classifyAs(request: HttpRequest, response: HttpResponse): Answer<V> {
    try {
      return this.#options.classify(request, response);
    } catch (error) {
      if (isBackendError(error)) return { outcome: 'permanent', error };
      throw error;
    }
  }

  #told(request: HttpRequest, code: string, started: number): void {
    this.#options.onExchange?.({ backend: this.backend, operation: operationOf(request.method, request.path), code, seconds: (performance.now() - started) / 1000 });
  }

  async #send(request: HttpRequest, credentials: RequestCredentials | null, signal: AbortSignal): Promise<HttpResponse> {
    const body = request.body ? encodeBody(request.body) : undefined;
    const headers = { accept: 'application/json', ...credentials?.headers, ...body?.headers, ...request.headers };
    const lane = request.longPoll ? this.#longPolls : this.#ordinary;
    const timeoutMs = request.timeoutMs ?? (request.longPoll?.holdMs ?? 0) + this.#options.timeoutMs;
    const started = performance.now();
    try {
      const response = await lane.send({
        method: request.method,
        path: this.#basePath + request.path + queryString(request.query),
        headers,
        body: body?.payload,
        timeoutMs,
        signal,
      });
      this.#log.debug(
        { backend: this.backend, method: request.method, path: request.path, status: response.status, ms: Math.round(performance.now() - started) },
        'request',
      );
      this.#told(request, String(response.status), started);
      return response;
    } catch (error) {
      const certificate = certificateProblem(error);
      if (certificate) {
        this.#told(request, 'network', started);
        // Not transient: another attempt meets the same certificate.
        throw new BackendError('Unavailable', `cannot reach ${this.baseUrl} securely: ${certificate}`, { cause: error });
      }
      if (!(error instanceof NetworkFailure)) throw error;
      this.#told(request, 'network', started);
      const unavailable = new BackendError('Unavailable', `cannot reach ${this.baseUrl}: ${describeNetworkFailure(error)}`, { cause: error.cause });
      // A request that never reached the server may be sent again whatever it does.
      throw new TransientFailure(unavailable, isIdempotent(request) || !error.sent);
    }
  }
}

function aborted(request: HttpRequest, reason: unknown): BackendError {
  const why = reason instanceof Error && reason.name !== 'AbortError' ? `: ${reason.message}` : '';
  return new BackendError('Aborted', `${describeRequest(request)}: cancelled${why}`, { cause: reason });
}

function sessionRefused(request: HttpRequest, message: string, how: { renewed: boolean; loggingIn: boolean }): BackendError {
  const what = describeRequest(request);
  if (how.renewed) return new BackendError('Unauthorized', `${what}: the session expired again right after a new login (${message})`);
  if (how.loggingIn) return new BackendError('Unauthorized', `${what}: the server asks for a login (${message})`);
  return new BackendError('Unauthorized', `${what}: the server asks for a session (${message}), but this backend is configured with fixed credentials`);
}
