// What a backend client asks for: a method, a path below the backend's base URL, a body in one of
// the shapes the four backends speak (JSON for James, forms for iRedAdmin and MailStore, SOAP XML
// for Open-Xchange), and what kind of request it is (safe to repeat, a long poll).

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

export interface HttpRequest {
  readonly method: HttpMethod;
  /** Path below the base URL, already percent-encoded (see `segment`). */
  readonly path: string;
  /** `true` sends the bare key (`?force`), `undefined` leaves the parameter out. */
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: RequestBody;
  readonly headers?: Readonly<Record<string, string>>;
  /** Whether repeating the request is harmless; defaults to true for GET, HEAD, PUT and DELETE. */
  readonly idempotent?: boolean;
  /**
   * A request the server holds open until something changes (James `GET /tasks/{id}/await`,
   * MailStore `get-status` with `millisecondsTimeout`): it runs on the long-poll lane, with its
   * own connections and slots, and may take `holdMs` plus the client's time limit.
   */
  readonly longPoll?: { readonly holdMs: number };
  /** Overrides the time limit of this request (both for the headers and for the body). */
  readonly timeoutMs?: number;
  /** Stops the call: queued, in flight, or waiting between retries. */
  readonly signal?: AbortSignal;
}

export type RequestBody =
  | { readonly type: 'json'; readonly value: unknown }
  | { readonly type: 'form'; readonly fields: FormFields }
  | { readonly type: 'raw'; readonly text: string; readonly contentType: string; readonly headers?: Readonly<Record<string, string>> };

export type FormValue = string | number | boolean;
/** Sent in this order; a list is sent as the same key repeated, in the caller's order. */
export type FormFields = Readonly<Record<string, FormValue | readonly FormValue[] | undefined>>;

/** A JSON body (`application/json`; James reads a body sent as anything else as empty). */
export function jsonBody(value: unknown): RequestBody {
  return { type: 'json', value };
}

/**
 * An `application/x-www-form-urlencoded` body, UTF-8 percent-encoded. iRedAdmin and MailStore want
 * lists as one comma-separated string: pass that string; an array is sent as repeated keys.
 * Booleans are sent as `true`/`false` (MailStore takes them lower case).
 */
export function formBody(fields: FormFields): RequestBody {
  return { type: 'form', fields };
}

/** A body sent as given, with its content type. */
export function rawBody(text: string, contentType: string): RequestBody {
  return { type: 'raw', text, contentType };
}

/**
 * A SOAP 1.1 envelope for `action` (Open-Xchange names its actions `urn:<operation>`), sent as
 * `text/xml` with the quoted `SOAPAction` header SOAP 1.1 requires.
 */
export function soapBody(envelope: string, action: string): RequestBody {
  return { type: 'raw', text: envelope, contentType: 'text/xml; charset=utf-8', headers: { soapaction: `"${action}"` } };
}

/** The bytes and headers a body is sent as. */
export function encodeBody(body: RequestBody): { payload: string; headers: Record<string, string> } {
  switch (body.type) {
    case 'json':
      return { payload: JSON.stringify(body.value), headers: { 'content-type': 'application/json' } };
    case 'form':
      return { payload: formEncoded(body.fields), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    case 'raw':
      return { payload: body.text, headers: { ...body.headers, 'content-type': body.contentType } };
  }
}

function formEncoded(fields: FormFields): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  return params.toString();
}

const IDEMPOTENT_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export function isIdempotent(request: HttpRequest): boolean {
  return request.idempotent ?? IDEMPOTENT_METHODS.has(request.method);
}

export function queryString(query: HttpRequest['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.append(key, value === true ? '' : String(value));
  }
  const text = params.toString().replace(/=(&|$)/g, '$1');
  return text ? `?${text}` : '';
}

/** Percent-encodes one path segment (addresses keep their @, as servers expect). */
export function segment(value: string): string {
  return encodeURIComponent(value).replace(/%40/g, '@');
}

/** `METHOD /path` as a person would write it, for messages (decoded, even where it was encoded twice). */
export function describeRequest(request: Pick<HttpRequest, 'method' | 'path'>): string {
  let path = request.path;
  for (let i = 0; i < 2; i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  return `${request.method} ${path}`;
}
