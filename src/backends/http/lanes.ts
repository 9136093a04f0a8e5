// A lane is a connection pool with its own concurrency and rate ceiling. A client has two: one for
// ordinary requests and one for long polls, so that waiting on a backend task (held open by the
// server for up to its hold time) never takes the slots, connections or rate budget of the calls
// that do the work.
import PQueue from 'p-queue';
import { Pool, type Dispatcher } from 'undici';
import { BackendError } from '../../engine/adapter.ts';
import type { HttpResponse } from './answers.ts';

/**
 * The largest answer body a lane reads. Every answer is read whole into memory, and the largest a
 * backend sends for real (a list of 100,000 users) is a few tens of MiB; past this the server is
 * broken or hostile, and the connection is closed instead of buffering on.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface LaneOptions {
  origin: string;
  /** Requests in flight at once, and connections kept. */
  concurrency: number;
  requestsPerSecond: number;
  insecureSkipTLSVerify?: boolean;
  /** PEM CAs to verify the server against instead of the system's. */
  ca?: string;
  /** The largest answer body read (default MAX_RESPONSE_BYTES); a larger one fails the call. */
  maxResponseBytes?: number;
  /** Called once for each request written to a connection (never for one that could not connect). */
  onSent: () => void;
}

export interface LaneRequest {
  method: Dispatcher.HttpMethod;
  /** Path and query string, from the origin on. */
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** The time limit of the whole attempt: connecting, the headers and the last byte of the body. */
  timeoutMs: number;
  signal: AbortSignal;
}

/** A request that failed on the network; `sent` tells whether it reached the server. */
export class NetworkFailure extends Error {
  readonly sent: boolean;
  constructor(cause: unknown, sent: boolean) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'NetworkFailure';
    this.sent = sent;
  }
}

interface AttemptRecord {
  sent: boolean;
}

export class Lane {
  readonly #pool: Pool;
  readonly #dispatcher: Dispatcher;
  readonly #queue: PQueue;
  readonly #maxResponseBytes: number;

  constructor(options: LaneOptions) {
    this.#maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#pool = new Pool(options.origin, {
      connections: options.concurrency,
      keepAliveTimeout: 10_000,
      maxResponseSize: this.#maxResponseBytes,
      connect: { rejectUnauthorized: !options.insecureSkipTLSVerify, ...(options.ca !== undefined ? { ca: options.ca } : {}) },
    });
    this.#dispatcher = this.#pool.compose(reportWhenSent(options.onSent));
    this.#queue = new PQueue({ concurrency: options.concurrency, intervalCap: options.requestsPerSecond, interval: 1000 });
  }

  /**
   * Waits for a slot, sends the request and reads the whole answer (so the connection is free for
   * the next one). Throws NetworkFailure for a network error, the signal's reason when aborted.
   */
  send(request: LaneRequest): Promise<HttpResponse> {
    return this.#queue.add(() => this.#sendNow(request), { signal: request.signal });
  }

  async #sendNow(request: LaneRequest): Promise<HttpResponse> {
    const attempt: AttemptRecord = { sent: false };
    // undici's headersTimeout and bodyTimeout are idle timers, restarted by every byte: a server
    // that dribbles its answer a byte at a time would hold the call for ever. The deadline covers
    // the whole attempt, headers and body. One controller and one timer per attempt, not
    // AbortSignal.timeout + AbortSignal.any: at thousands of requests a second their bookkeeping
    // (weak references, finalizers) was a measurable share of mailops' CPU.
    const controller = new AbortController();
    let pastDeadline = false;
    const deadline = setTimeout(() => {
      pastDeadline = true;
      controller.abort(new AnswerDeadlineExceeded(request.timeoutMs));
    }, request.timeoutMs);
    deadline.unref();
    const forward = () => controller.abort(request.signal.reason);
    if (request.signal.aborted) forward();
    else request.signal.addEventListener('abort', forward, { once: true });
    try {
      const response = await this.#dispatcher.request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        ...(request.body !== undefined ? { body: request.body } : {}),
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
        signal: controller.signal,
        opaque: attempt,
      });
      // undici's text() already skips a UTF-8 BOM; readJson skips one too, for other sources.
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      if (request.signal.aborted) throw error;
      if (pastDeadline) throw new NetworkFailure(new AnswerDeadlineExceeded(request.timeoutMs), attempt.sent);
      if (isNetworkError(error)) throw new NetworkFailure(error, attempt.sent);
      if ((error as { code?: unknown } | null)?.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
        // Another try would read the same flood: a permanent failure (and a write it answered is not repeated).
        throw new BackendError('Protocol', `${request.method} ${request.path.split('?')[0]}: the answer is larger than ${this.#maxResponseBytes / (1024 * 1024)} MiB, the most mailops reads; the connection was closed`, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(deadline);
      request.signal.removeEventListener('abort', forward);
    }
  }

  /** Drops what waits for a slot and closes the connections once the requests in flight end. */
  async close(): Promise<void> {
    this.#queue.clear();
    await this.#pool.close();
  }
}

/**
 * An undici interceptor that reports each request at the moment undici hands it to a connected
 * socket (`onRequestStart`), which a request that cannot connect never reaches: so the request
 * count shows what the server could have seen, and a failed attempt knows whether it was sent.
 */
function reportWhenSent(onSent: () => void): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) =>
    dispatch(options, new StartReportingHandler(handler, () => {
      // `opaque` is the request API's pass-through field: here, the attempt that asked.
      const attempt = (options as { opaque?: AttemptRecord }).opaque;
      if (attempt) attempt.sent = true;
      onSent();
    }));
}

class StartReportingHandler implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #onStart: () => void;
  constructor(handler: Dispatcher.DispatchHandler, onStart: () => void) {
    this.#handler = handler;
    this.#onStart = onStart;
  }
  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.#onStart();
    this.#handler.onRequestStart?.(controller, context);
  }
  onRequestUpgrade(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestUpgrade']>>): void {
    this.#handler.onRequestUpgrade?.(...args);
  }
  onResponseStarted(): void {
    this.#handler.onResponseStarted?.();
  }
  onResponseStart(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>): void {
    this.#handler.onResponseStart?.(...args);
  }
  onResponseData(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseData']>>): void {
    this.#handler.onResponseData?.(...args);
  }
  onResponseEnd(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>): void {
    this.#handler.onResponseEnd?.(...args);
  }
  onResponseError(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseError']>>): void {
    this.#handler.onResponseError?.(...args);
  }
  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk);
  }
  onRequestSent(): void {
    this.#handler.onRequestSent?.();
  }
}

/** The whole answer did not arrive within the attempt's time limit. */
class AnswerDeadlineExceeded extends Error {
  readonly code = 'MAILOPS_ANSWER_DEADLINE';
  constructor(timeoutMs: number) {
    super(`the answer was not complete after ${timeoutMs} ms`);
    this.name = 'AnswerDeadlineExceeded';
  }
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
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_CODES.has(code);
}

/** A network failure in words a person can act on. */
export function describeNetworkFailure(failure: NetworkFailure): string {
  const cause = failure.cause;
  const code = (cause as { code?: string } | null)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'no answer within the time limit';
  // A partial answer is no answer: the same words as undici's own timers.
  if (code === 'MAILOPS_ANSWER_DEADLINE') return 'no answer within the time limit';
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') return 'connection closed by the server';
  return code ? `${failure.message} (${code})` : failure.message;
}
