// What an answer means is the backend's to say: iRedAdmin reports failures at HTTP 200, Open-Xchange
// reports every failure as a SOAP fault at HTTP 500 (some worth another try, most not), James uses
// the status codes. Each backend client hands the HTTP client a classifier; the client retries,
// renews sessions and fails calls from what the classifier says.
import { BackendError, type BackendErrorKind } from '../../engine/adapter.ts';
import { describeRequest, type HttpRequest } from './request.ts';

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

export type Answer<V> =
  /** The call did what was asked; `value` is what the caller gets. */
  | { readonly outcome: 'success'; readonly value: V }
  /**
   * Worth another try after a pause (repeated only when the request is safe to repeat, or when
   * `unprocessed` says the server did not act on it, as a 429 does); `error` if not.
   */
  | { readonly outcome: 'transient'; readonly error: BackendError; readonly retryAfterMs?: number; readonly unprocessed?: boolean }
  /** Another try would fail the same way. */
  | { readonly outcome: 'permanent'; readonly error: BackendError }
  /** The session behind the request's credentials expired: log in again and repeat the call once. */
  | { readonly outcome: 'sessionExpired'; readonly message: string };

/**
 * A backend's reading of its answers. It may also throw a BackendError, which counts as permanent.
 * It never sees a network error: those are transient by nature and handled by the client.
 */
export type AnswerClassifier<V> = (request: HttpRequest, response: HttpResponse) => Answer<V>;

export function success<V>(value: V): Answer<V> {
  return { outcome: 'success', value };
}

export function transient(error: BackendError, options: { retryAfterMs?: number | undefined; unprocessed?: boolean } = {}): Answer<never> {
  return {
    outcome: 'transient',
    error,
    ...(options.retryAfterMs !== undefined ? { retryAfterMs: options.retryAfterMs } : {}),
    ...(options.unprocessed ? { unprocessed: true } : {}),
  };
}

export function permanent(error: BackendError): Answer<never> {
  return { outcome: 'permanent', error };
}

export function sessionExpired(message: string): Answer<never> {
  return { outcome: 'sessionExpired', message };
}

const KIND_BY_STATUS: Readonly<Record<number, BackendErrorKind>> = {
  400: 'Invalid',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'Unsupported',
  408: 'Timeout',
  409: 'Conflict',
  410: 'NotFound',
  422: 'Invalid',
  429: 'Unavailable',
};

/** The error kind an HTTP status stands for, where the status is all there is to go by. */
export function kindOfStatus(status: number): BackendErrorKind {
  return KIND_BY_STATUS[status] ?? (status >= 500 ? 'Unavailable' : 'Protocol');
}

/**
 * Classifies by status alone: 2xx succeed with the response as the value, anything else is a
 * failure by status (see failureByStatus). `errorOf` turns a failed answer into the backend's own
 * message.
 */
export function classifyByStatus(errorOf: ErrorOfAnswer = statusError): AnswerClassifier<HttpResponse> {
  return (request, response) => (response.status >= 200 && response.status < 300 ? success(response) : failureByStatus(request, response, errorOf));
}

export type ErrorOfAnswer = (request: HttpRequest, response: HttpResponse) => BackendError;

/** A failed answer read by its status: 429 and 5xx are transient (with the server's Retry-After), anything else permanent. */
export function failureByStatus(request: HttpRequest, response: HttpResponse, errorOf: ErrorOfAnswer = statusError): Answer<never> {
  const error = errorOf(request, response);
  if (response.status === 429 || response.status >= 500) {
    // RFC 6585: a 429 refuses the request before acting on it, so even a POST may be repeated.
    return transient(error, { retryAfterMs: retryAfterMs(response), unprocessed: response.status === 429 });
  }
  return permanent(error);
}

/** `METHOD /path: 404 <the start of the body>`, with the kind the status stands for. */
export function statusError(request: HttpRequest, response: HttpResponse): BackendError {
  const details = response.text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new BackendError(kindOfStatus(response.status), `${describeRequest(request)}: ${response.status} ${details || 'no details'}`, {
    status: response.status,
  });
}

/** For a backend that speaks plain HTTP: 2xx success, 429/5xx transient, 4xx permanent by status. */
export const defaultClassifier: AnswerClassifier<HttpResponse> = classifyByStatus();

/** The wait a 429 or 503 asks for (`Retry-After`: seconds or an HTTP date), if any. */
export function retryAfterMs(response: HttpResponse, now: number = Date.now()): number | undefined {
  const header = response.headers['retry-after'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The answer's body as JSON, checked by `guard`, or a Protocol error naming the call and showing
 * the start of what came instead (`hint` suggests the likely cause, e.g. the wrong kind of server).
 * A leading UTF-8 BOM is skipped: MailStore sends one (shared/backends/mailstore.md).
 */
export function readJson<T>(request: HttpRequest, response: HttpResponse, guard: (value: unknown) => boolean, hint?: string): T {
  const what = describeRequest(request);
  const suffix = hint ? `; ${hint}` : '';
  let value: unknown;
  try {
    value = JSON.parse(response.text.replace(/^\uFEFF/, ''));
  } catch {
    throw new BackendError('Protocol', `${what}: the answer is not JSON (${preview(response.text)})${suffix}`, { status: response.status });
  }
  if (!guard(value)) {
    throw new BackendError('Protocol', `${what}: unexpected answer ${preview(response.text)}${suffix}`, { status: response.status });
  }
  return value as T;
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${JSON.stringify(flat.slice(0, 80))}…` : JSON.stringify(flat);
}
