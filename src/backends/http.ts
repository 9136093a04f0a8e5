// The one HTTP client setup every backend uses: a connection pool per backend (undici, keep-alive),
// a concurrency and rate ceiling (p-queue), one retry policy (p-retry: exponential backoff with
// jitter, only for network errors and 5xx answers, only for requests that are safe to repeat),
// and a request counter that the plan output shows.
import PQueue from 'p-queue';
import pRetry from 'p-retry';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { BackendError } from '../engine/adapter.ts';
import { silentLogger, type Logger } from '../log.ts';

export interface HttpClientOptions {
  /** The backend's name, for messages. */
  backend: string;
  baseUrl: string;
  concurrency: number;
  requestsPerSecond: number;
  timeoutMs: number;
  retries: number;
  insecureSkipTLSVerify?: boolean;
  /** Sent with every request (authentication). */
  headers?: Record<string, string>;
  log?: Logger;
  /** Backoff of the first retry; later ones double, with jitter. */
  retryMinDelayMs?: number;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';
  /** Path below the base URL, already percent-encoded. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON value (sent as application/json) or a raw string with `contentType`. */
  json?: unknown;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Overrides the client's time limit (long polls). */
  timeoutMs?: number;
  /** Whether repeating the request is harmless; defaults to true for GET, HEAD, PUT and DELETE. */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** A 5xx answer, thrown inside the retry loop so that p-retry tries again. */
class RetryableStatus extends Error {
  readonly response: HttpResponse;
  constructor(response: HttpResponse) {
    super(`HTTP ${response.status}`);
    this.response = response;
  }
}

export class HttpClient {
  readonly backend: string;
  readonly baseUrl: string;
  readonly #pool: Pool;
  readonly #queue: PQueue;
  readonly #options: HttpClientOptions;
  readonly #basePath: string;
  readonly #log: Logger;
  #requests = 0;

  constructor(options: HttpClientOptions) {
    this.#options = options;
    this.backend = options.backend;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const url = new URL(this.baseUrl);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#log = options.log ?? silentLogger;
    this.#pool = new Pool(url.origin, {
      connections: options.concurrency,
      keepAliveTimeout: 10_000,
      connect: { rejectUnauthorized: !options.insecureSkipTLSVerify },
    });
    this.#queue = new PQueue({
      concurrency: options.concurrency,
      intervalCap: options.requestsPerSecond,
      interval: 1000,
    });
  }

  /** Requests sent so far; every attempt counts, retries included. */
  get requestCount(): number {
    return this.#requests;
  }

  /**
   * Sends a request and returns the backend's answer whatever its status, after retrying network
   * errors and 5xx answers where that is safe. Throws BackendError `Unavailable` when the backend
   * cannot be reached at all.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const idempotent = request.idempotent ?? IDEMPOTENT.has(request.method);
    const attempt = async () => {
      const response = (await this.#queue.add(() => this.#sendOnce(request))) as HttpResponse;
      if (response.status >= 500 && idempotent) throw new RetryableStatus(response);
      return response;
    };
    try {
      return await pRetry(attempt, {
        retries: idempotent ? this.#options.retries : 0,
        factor: 2,
        minTimeout: this.#options.retryMinDelayMs ?? 200,
        maxTimeout: 5_000,
        randomize: true,
        shouldRetry: ({ error }) => error instanceof RetryableStatus || isNetworkError(error),
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          this.#log.debug(
            { backend: this.backend, method: request.method, path: request.path, attempt: attemptNumber, retriesLeft, error: describeFailure(error) },
            'request failed',
          );
        },
      });
    } catch (error) {
      if (error instanceof RetryableStatus) return error.response;
      if (isNetworkError(error)) {
        throw new BackendError('Unavailable', `cannot reach ${this.baseUrl}: ${describeFailure(error)}`, { cause: error });
      }
      throw error;
    }
  }

  async #sendOnce(request: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#options.headers, ...request.headers };
    let body: string | undefined = request.body;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    } else if (body !== undefined) {
      headers['content-type'] = request.contentType ?? 'text/plain';
    }
    const timeout = request.timeoutMs ?? this.#options.timeoutMs;
    this.#requests += 1;
    const started = performance.now();
    const response: Dispatcher.ResponseData = await this.#pool.request({
      method: request.method,
      path: this.#basePath + request.path + queryString(request.query),
      headers,
      ...(body !== undefined ? { body } : {}),
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await response.body.text();
    this.#log.debug(
      { backend: this.backend, method: request.method, path: request.path, status: response.statusCode, ms: Math.round(performance.now() - started) },
      'request',
    );
    return { status: response.statusCode, headers: response.headers, text };
  }

  async close(): Promise<void> {
    this.#queue.clear();
    await this.#pool.close();
  }
}

function queryString(query: HttpRequest['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.append(key, value === true ? '' : String(value));
  }
  const text = params.toString().replace(/=(&|$)/g, '$1');
  return text ? `?${text}` : '';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function isNetworkError(error: unknown): boolean {
  if (error instanceof undiciErrors.UndiciError && NETWORK_CODES.has((error as { code?: string }).code ?? '')) return true;
  const code = (error as { code?: string } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

function describeFailure(error: unknown): string {
  if (error instanceof RetryableStatus) return `HTTP ${error.response.status}`;
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'no answer within the time limit';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return 'connection closed by the server';
  return code ? `${message} (${code})` : message;
}

/** Percent-encodes one path segment (addresses keep their @, as servers expect). */
export function segment(value: string): string {
  return encodeURIComponent(value).replace(/%40/g, '@');
}
