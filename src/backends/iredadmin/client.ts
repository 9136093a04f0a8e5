// The iRedAdmin-Pro RESTful API over HTTP (shared/backends/iredadmin.md): a login that yields a session cookie,
// form-encoded bodies with comma-separated lists, and answers whose body, not their status, says whether the call
// worked — failures come at HTTP 200 as `{"_success": false, "_msg": "REASON"}` (`{success, msg}` before SQL 2.6 /
// LDAP 2.8). One method per call the reconciler makes; each reason turned into a BackendError a caller can branch on.
import { BackendError, type BackendErrorKind } from '../../engine/adapter.ts';
import {
  describeRequest,
  failureByStatus,
  formBody,
  HttpClient,
  loginSession,
  permanent,
  segment,
  sessionCookies,
  sessionExpired,
  statusError,
  success,
  type AnswerClassifier,
  type ConnectionOptions,
  type FormFields,
  type HttpRequest,
} from '../http/index.ts';

/** A record as the API exports it: the SQL row (LDAP attributes on LDAP editions), names varying by release. */
export type IRedAdminRecord = Readonly<Record<string, unknown>>;

export type ThrottleDirection = 'inbound' | 'outbound';

/** `global`, a domain, or a user's address. */
export type ThrottleTarget = string;

/** What a call answered: `_data` (or, for throttle settings, `setting`), or the verdict of a password check. */
export interface IRedAdminReply {
  readonly data: unknown;
  /** False only for a password check that did not match (`{"_success": false}` without a reason). */
  readonly ok: boolean;
}

/** A failure iRedAdmin-Pro reported, with its reason as the server wrote it (`ALREADY_EXISTS`, `PW_EMPTY,…`). */
export class IRedAdminError extends BackendError {
  readonly reason: string;
  constructor(kind: BackendErrorKind, message: string, reason: string, status: number) {
    super(kind, message, { status });
    this.name = 'IRedAdminError';
    this.reason = reason;
  }
}

export interface IRedAdminCredentials {
  /** The admin's email address. */
  username: string;
  password: string;
}

export class IRedAdminClient {
  readonly http: HttpClient<IRedAdminReply>;

  constructor(options: ConnectionOptions, credentials: IRedAdminCredentials) {
    const auth = loginSession<IRedAdminReply>(async (login) => {
      const { response } = await login.send({
        method: 'POST',
        path: '/api/login',
        body: formBody({ username: credentials.username, password: credentials.password }),
        // Logging in twice does no harm.
        idempotent: true,
      });
      return { cookies: sessionCookies(response) };
    });
    this.http = new HttpClient({ ...options, classify: iredadminAnswer, auth });
  }

  // --- domains
  /** Every domain the admin manages, with its profile, by name. */
  listDomains(): Promise<Record<string, IRedAdminRecord>> {
    return this.#data({ method: 'GET', path: '/api/domains' }, isRecord);
  }
  getDomain(domain: string): Promise<IRedAdminRecord> {
    return this.#data({ method: 'GET', path: `/api/domain/${segment(domain)}` }, isRecord);
  }
  createDomain(domain: string, fields: FormFields): Promise<void> {
    return this.#write('POST', `/api/domain/${segment(domain)}`, fields);
  }
  updateDomain(domain: string, fields: FormFields): Promise<void> {
    return this.#write('PUT', `/api/domain/${segment(domain)}`, fields);
  }
  /** Deletes the domain and its accounts; their mailboxes stay on disk `keepMailboxDays` days (0: for good). */
  async deleteDomain(domain: string, keepMailboxDays: number): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/api/domain/${segment(domain)}${keepDays(keepMailboxDays)}` });
  }

  // --- users
  /** Every mailbox of a domain with its profile, in one call. */
  listUsers(domain: string): Promise<IRedAdminRecord[]> {
    return this.#data({ method: 'GET', path: `/api/users/${segment(domain)}` }, isRecordArray);
  }
  getUser(mail: string): Promise<IRedAdminRecord> {
    return this.#data({ method: 'GET', path: `/api/user/${segment(mail)}` }, isRecord);
  }
  createUser(mail: string, fields: FormFields): Promise<void> {
    return this.#write('POST', `/api/user/${segment(mail)}`, fields);
  }
  updateUser(mail: string, fields: FormFields): Promise<void> {
    return this.#write('PUT', `/api/user/${segment(mail)}`, fields);
  }
  async deleteUser(mail: string, keepMailboxDays: number): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/api/user/${segment(mail)}${keepDays(keepMailboxDays)}` });
  }
  /** Renames a mailbox within its domain; the mail stays. */
  async changeEmail(mail: string, newMail: string): Promise<void> {
    await this.#call({ method: 'POST', path: `/api/user/${segment(mail)}/change_email/${segment(newMail)}` });
  }
  /** Whether this is the user's password (a check only a global admin may make). */
  async verifyPassword(mail: string, password: string): Promise<boolean> {
    const request: HttpRequest = { method: 'POST', path: `/api/verify_password/user/${segment(mail)}`, body: formBody({ password }), idempotent: true };
    return (await this.http.call(request)).ok;
  }

  // --- alias accounts
  listAliases(domain: string): Promise<IRedAdminRecord[]> {
    return this.#data({ method: 'GET', path: `/api/aliases/${segment(domain)}` }, isRecordArray);
  }
  createAlias(mail: string, fields: FormFields): Promise<void> {
    return this.#write('POST', `/api/alias/${segment(mail)}`, fields);
  }
  updateAlias(mail: string, fields: FormFields): Promise<void> {
    return this.#write('PUT', `/api/alias/${segment(mail)}`, fields);
  }
  async deleteAlias(mail: string): Promise<void> {
    await this.#call({ method: 'DELETE', path: `/api/alias/${segment(mail)}` });
  }

  // --- throttling
  /** The setting, or null when there is none (`{}`). */
  async getThrottle(target: ThrottleTarget, direction: ThrottleDirection): Promise<IRedAdminRecord | null> {
    const setting = await this.#data<IRedAdminRecord | null>({ method: 'GET', path: throttlePath(target, direction) }, (v) => v === null || isRecord(v));
    return setting && Object.keys(setting).length > 0 ? setting : null;
  }
  /** Sets a throttle; `period: 0` removes it. Setting the same values again is harmless. */
  async setThrottle(target: ThrottleTarget, direction: ThrottleDirection, fields: FormFields): Promise<void> {
    await this.#call({ method: 'POST', path: throttlePath(target, direction), body: formBody(fields), idempotent: true });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  async #call(request: HttpRequest): Promise<IRedAdminReply> {
    return this.http.call(request);
  }

  async #write(method: 'POST' | 'PUT', path: string, fields: FormFields): Promise<void> {
    await this.http.call({ method, path, body: formBody(fields) });
  }

  async #data<T>(request: HttpRequest, guard: (value: unknown) => boolean): Promise<T> {
    const { data } = await this.http.call(request);
    if (!guard(data)) {
      const shown = JSON.stringify(data) ?? 'nothing';
      throw new BackendError('Protocol', `${describeRequest(request)}: unexpected data ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}`);
    }
    return data as T;
  }
}

function keepDays(days: number): string {
  return days > 0 ? `/keep_mailbox_days/${days}` : '';
}

function throttlePath(target: ThrottleTarget, direction: ThrottleDirection): string {
  return `/api/throttle/${segment(target)}/${direction}`;
}

/** Reasons a caller can branch on; any other is Invalid (the server refused the input). */
const KIND_OF_REASON: Readonly<Record<string, BackendErrorKind>> = {
  NOT_AUTHORIZED: 'Forbidden',
  PERMISSION_DENIED: 'Forbidden',
  INVALID_CREDENTIALS: 'Unauthorized',
  ALREADY_EXISTS: 'Conflict',
  NEW_EMAIL_ALREADY_EXISTS: 'Conflict',
  EXCEEDED_DOMAIN_QUOTA_SIZE: 'Conflict',
  EXCEEDED_DOMAIN_ACCOUNT_LIMIT: 'Conflict',
  NOT_ALLOWED: 'Conflict',
  NO_SUCH_ACCOUNT: 'NotFound',
  OLD_EMAIL_NOT_EXIST: 'NotFound',
  INVALID_HTTP_METHOD: 'Unsupported',
};

/** What a reason means, where the bare word would leave a person guessing. */
const EXPLANATION: Readonly<Record<string, string>> = {
  NOT_AUTHORIZED: "this client's IP address is not on the server's API allow-list (RESTFUL_API_CLIENTS)",
  PERMISSION_DENIED: 'the admin mailops logs in as may not do this (a global admin may)',
  INVALID_CREDENTIALS: 'the admin address or password was refused',
  EXCEEDED_DOMAIN_QUOTA_SIZE: "the domain's total storage is used up",
  EXCEEDED_DOMAIN_ACCOUNT_LIMIT: "the domain's limit of accounts is reached",
  NOT_ALLOWED: 'the domain allows no accounts of this kind',
};

const API_HINT = "is this iRedAdmin-Pro's RESTful API (…/iredadmin), with ENABLE_RESTFUL_API = True?";

/**
 * iRedAdmin-Pro's answers: the envelope decides, whatever the HTTP status (failures come at 200). `LOGIN_REQUIRED`
 * means the session expired: the client logs in again once and repeats the call. A password check that does not
 * match answers `{"_success": false}` without a reason: that is an answer, not a failure.
 */
export const iredadminAnswer: AnswerClassifier<IRedAdminReply> = (request, response) => {
  if (response.status === 429 || response.status >= 500) return failureByStatus(request, response);
  const what = describeRequest(request);
  let body: unknown;
  try {
    body = JSON.parse(response.text.replace(/^\uFEFF/, ''));
  } catch {
    if (response.status >= 300) return permanent(withHint(statusError(request, response)));
    throw new BackendError('Protocol', `${what}: the answer is not JSON (${preview(response.text)}); ${API_HINT}`, { status: response.status });
  }
  const envelope = readEnvelope(body);
  if (!envelope) {
    if (response.status >= 300) return permanent(withHint(statusError(request, response)));
    throw new BackendError('Protocol', `${what}: unexpected answer ${preview(response.text)}; ${API_HINT}`, { status: response.status });
  }
  if (envelope.success) return success({ data: envelope.data, ok: true });
  if (envelope.reason === undefined && request.path.startsWith('/api/verify_password/')) return success({ data: undefined, ok: false });
  const reason = envelope.reason ?? 'no reason given';
  if (reason === 'LOGIN_REQUIRED') return sessionExpired(reason);
  const explanation = EXPLANATION[reason];
  return permanent(new IRedAdminError(KIND_OF_REASON[reason] ?? 'Invalid', `${what}: ${explanation ? `${explanation} (${reason})` : reason}`, reason, response.status));
};

/** The current envelope (`_success`, `_msg`, `_data`) or the older one (`success`, `msg`, `data`). */
function readEnvelope(body: unknown): { success: boolean; reason?: string; data: unknown } | undefined {
  if (!isRecord(body)) return undefined;
  const legacy = !('_success' in body) && 'success' in body;
  const flag = legacy ? body['success'] : body['_success'];
  if (typeof flag !== 'boolean') return undefined;
  const message = legacy ? body['msg'] : body['_msg'];
  // Throttle settings come as `setting` on the releases whose sources we could read; the fact sheet says `_data`.
  const data = legacy ? body['data'] : '_data' in body ? body['_data'] : body['setting'];
  return { success: flag, data, ...(typeof message === 'string' && message !== '' ? { reason: message } : {}) };
}

/** A 404 from the API's own paths means no API there (a wrong URL, or ENABLE_RESTFUL_API off): a Protocol error. */
function withHint(error: BackendError): BackendError {
  return error.status === 404 ? new BackendError('Protocol', `${error.message}; ${API_HINT}`, { status: 404 }) : error;
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${JSON.stringify(flat.slice(0, 80))}…` : JSON.stringify(flat);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRecordArray(value: unknown): boolean {
  return Array.isArray(value) && value.every(isRecord);
}
