// MailStore Server's Administration API over HTTP, in both of its forms (shared/backends/mailstore.md):
//   current  POST /api/invoke/{Function}, Basic auth, form arguments, an envelope around every answer
//            (often after a UTF-8 BOM); a call that outlasts the server's wait answers `running` with a
//            token, waited out with long polls of POST /api/get-status and cancelled with /api/cancel-async.
//   legacy   POST /JSON/Invoke/{Method}, the bare result, failures as HTTP 500 text/plain; a long call
//            answers {statusToken, statusUrl}; the status is deleted once its final state was delivered.
//
// Every call may turn long-running, so every call goes through one path: `start` sends it, and `call`
// waits out a token the way the vendor's Python wrapper does (automatic token handling, a wait time,
// a status callback, cancellation at a deadline), while `start`/`getStatus`/`cancel` are the manual
// token handling for callers that keep the token themselves (the adapter records it, so that a run
// killed while MailStore works resumes polling instead of repeating the write).
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendError, isBackendError, type BackendErrorKind } from '../../engine/adapter.ts';
import {
  basicAuth,
  describeRequest,
  failureByStatus,
  formBody,
  HttpClient,
  permanent,
  readJson,
  statusError,
  success,
  type AnswerClassifier,
  type ConnectionOptions,
  type FormFields,
  type HttpRequest,
  type HttpResponse,
} from '../http/index.ts';

export type ApiForm = 'current' | 'legacy';
/** The form a MailBackend speaks when its `spec.mailstore.apiForm` is not set. */
export const DEFAULT_API_FORM: ApiForm = 'current';

export interface MailStoreErrorInfo {
  message: string;
  details: string | null;
}

/** One status of a call, the same shape for both forms (the current form's envelope). */
export interface MailStoreStatus {
  /** The call's token; null when it ended within the server's wait time without one. */
  token: string | null;
  /** Moves on every change of the status (legacy: counted here, per poll that brought news). */
  statusVersion: number;
  /** `running`, `succeeded`, `failed`, `cancelled`… anything but `running` is final. */
  statusCode: string;
  percentProgress: number | null;
  statusText: string | null;
  /** Log lines since the status before (MailStore sends them CRLF-terminated). */
  logOutput: string | null;
  result: unknown;
  error: MailStoreErrorInfo | null;
}

export function isRunning(status: Pick<MailStoreStatus, 'statusCode'>): boolean {
  return status.statusCode === 'running';
}

/** The server ran the call and it failed: the `error` of an envelope, or a legacy 500 text/plain. */
export class MailStoreCallError extends BackendError {
  readonly function: string;
  readonly serverMessage: string;
  readonly details: string | null;
  constructor(fn: string, error: MailStoreErrorInfo, status?: number) {
    super(kindOfMessage(error.message), `MailStore ${fn}: ${error.message}${error.details ? ` (${error.details})` : ''}`, status === undefined ? {} : { status });
    this.name = 'MailStoreCallError';
    this.function = fn;
    this.serverMessage = error.message;
    this.details = error.details;
  }
}

/**
 * The server no longer knows a token (current: get-status 404, "session expired or wrong token";
 * legacy: the status was deleted after its final state was delivered, or never existed). What the
 * call did cannot be learnt from it any more: the caller must look at the objects themselves.
 */
export class MailStoreTokenLost extends BackendError {
  readonly token: string;
  constructor(token: string, what: string, cause?: unknown) {
    super('NotFound', `MailStore no longer knows the status of ${what} (token ${token}); what it did must be observed again`, cause === undefined ? {} : { cause });
    this.name = 'MailStoreTokenLost';
    this.token = token;
  }
}

export function isTokenLost(error: unknown): error is MailStoreTokenLost {
  return error instanceof MailStoreTokenLost;
}

function kindOfMessage(message: string): BackendErrorKind {
  if (/already exists/i.test(message)) return 'Conflict';
  if (/not found|does not exist|unknown user|no such/i.test(message)) return 'NotFound';
  if (/cancel/i.test(message)) return 'TaskFailed';
  return 'Invalid';
}

export interface MailStoreClientOptions {
  apiForm?: ApiForm;
  username: string;
  password: string;
  /**
   * How long one status request may be held by the server (`millisecondsTimeout`), the wrapper's
   * waitTime. Default 1000 ms. Legacy: how long `getStatus` keeps polling for news.
   */
  waitMs?: number;
  /** Legacy form: the pause between two status polls (it has no long poll). Default 250 ms. */
  legacyPollMs?: number;
  /** Receives every interim status of every call that `call` waits out (the wrapper's callbackStatus). */
  onStatus?: (fn: string, status: MailStoreStatus) => void;
  /** The wrapper's autoHandleToken: false makes `call` return a running status instead of waiting. Default true. */
  autoHandleToken?: boolean;
}

export interface CallOptions {
  /** Safe to send again after a network failure (reads). Writes are sent once. */
  idempotent?: boolean;
  signal?: AbortSignal;
  /** When to stop waiting (epoch ms): the call is cancelled, then polled until the server says it ended. */
  deadline?: number;
  /** After cancelling, how long to wait for the final state. Default 30 s. */
  cancelGraceMs?: number;
  onStatus?: (status: MailStoreStatus) => void;
  autoHandleToken?: boolean;
  waitMs?: number;
}

/** A user as GetUsers lists it. */
export interface MailStoreUserListEntry {
  userName: string;
  fullName?: string | null;
  distinguishedName?: string | null;
}

/** GetUserInfo's answer (mailstore.md). */
export interface MailStoreUserInfo {
  userName: string;
  fullName: string | null;
  distinguishedName: string | null;
  authentication: string | null;
  emailAddresses: string[];
  pop3UserNames: string[];
  privileges: string[];
  privilegesOnFolders: Array<{ folder: string; privileges: string[] }>;
}

export interface NewUser {
  userName: string;
  privileges: readonly string[];
  fullName?: string | null;
  distinguishedName?: string;
  authentication?: 'integrated' | 'directoryServices';
  password?: string;
  loginPrivileges?: readonly string[];
}

/** A call's function and form arguments, as `start` takes them. */
export interface Invocation {
  fn: string;
  args: FormFields;
  /** For messages: what the call does, in words (never a secret). */
  description: string;
}

export class MailStoreClient {
  readonly http: HttpClient<HttpResponse>;
  readonly apiForm: ApiForm;
  readonly #options: MailStoreClientOptions;
  /** Legacy: the status URL the server gave for a token (a token from an earlier run uses the usual one). */
  readonly #statusUrls = new Map<string, string>();
  /** Legacy: the version this client counts per token, and the progress last seen. */
  readonly #legacyVersions = new Map<string, number>();
  readonly #lastProgress = new Map<string, number | null>();

  constructor(connection: ConnectionOptions, options: MailStoreClientOptions) {
    this.apiForm = options.apiForm ?? DEFAULT_API_FORM;
    this.#options = options;
    this.http = new HttpClient({
      ...connection,
      classify: this.apiForm === 'current' ? currentFormAnswer : legacyFormAnswer,
      auth: basicAuth(options.username, options.password),
    });
  }

  get requestCount(): number {
    return this.http.requestCount;
  }

  // ------------------------------------------------------------------ the functions mailops uses
  async getUsers(options: CallOptions = {}): Promise<MailStoreUserListEntry[]> {
    const result = await this.result({ fn: 'GetUsers', args: {}, description: 'list the users' }, { idempotent: true, ...options });
    if (!Array.isArray(result) || !result.every((u) => typeof (u as MailStoreUserListEntry)?.userName === 'string')) {
      throw new BackendError('Protocol', `MailStore GetUsers: unexpected result ${preview(result)}; is this a MailStore Server?`);
    }
    return result as MailStoreUserListEntry[];
  }

  async getUserInfo(userName: string, options: CallOptions = {}): Promise<MailStoreUserInfo> {
    return parseUserInfo(await this.result(getUserInfo(userName), { idempotent: true, ...options }));
  }

  async getServerInfo(options: CallOptions = {}): Promise<{ version: string; machineName: string }> {
    return (await this.result({ fn: 'GetServerInfo', args: {}, description: 'read the server info' }, { idempotent: true, ...options })) as { version: string; machineName: string };
  }

  async createUser(user: NewUser, options: CallOptions = {}): Promise<void> {
    await this.result(createUser(user), options);
  }

  async deleteUser(userName: string, options: CallOptions = {}): Promise<void> {
    await this.result(deleteUser(userName), options);
  }

  async setUserEmailAddresses(userName: string, addresses: readonly string[], options: CallOptions = {}): Promise<void> {
    await this.result(setUserEmailAddresses(userName, addresses), options);
  }

  // ------------------------------------------------------------------ calls and tokens
  /** Sends a call and waits it out (automatic token handling); returns its result. */
  async result(invocation: Invocation, options: CallOptions = {}): Promise<unknown> {
    const status = await this.call(invocation, options);
    if (isRunning(status)) return status; // autoHandleToken off: the caller handles the token
    return status.result;
  }

  /**
   * Sends a call and, unless automatic token handling is off, waits until it ends: long polls of
   * its status, each interim status passed to `onStatus`, a cancellation when the deadline
   * passes (then polls until the server says it ended). Returns the final status; a failure is
   * thrown as MailStoreCallError, a cancellation as a Timeout (deadline) or Aborted (signal).
   */
  async call(invocation: Invocation, options: CallOptions = {}): Promise<MailStoreStatus> {
    let status = await this.start(invocation, options);
    if (!isRunning(status) || !(options.autoHandleToken ?? this.#options.autoHandleToken ?? true)) return status;
    const token = status.token!;
    const report = (s: MailStoreStatus) => {
      options.onStatus?.(s);
      this.#options.onStatus?.(invocation.fn, s);
    };
    report(status);
    let cancelledAt: number | undefined;
    for (;;) {
      const now = Date.now();
      if (cancelledAt === undefined && options.signal?.aborted) {
        await this.cancel(token).catch(() => undefined);
        throw new BackendError('Aborted', `MailStore ${invocation.fn} (${invocation.description}): cancelled, the caller stopped waiting`);
      }
      if (cancelledAt === undefined && options.deadline !== undefined && now >= options.deadline) {
        if (this.apiForm === 'legacy') {
          throw new BackendError('Timeout', `MailStore ${invocation.fn} (${invocation.description}): did not end before the deadline; the legacy API cannot cancel it, so it may still run on the server (token ${token})`);
        }
        await this.cancel(token);
        cancelledAt = now;
      }
      if (cancelledAt !== undefined && now - cancelledAt > (options.cancelGraceMs ?? 30_000)) {
        throw new BackendError('Timeout', `MailStore ${invocation.fn} (${invocation.description}): did not end in time and did not confirm its cancellation`);
      }
      const waitMs = options.waitMs ?? this.#options.waitMs ?? 1000;
      const untilDeadline = cancelledAt === undefined && options.deadline !== undefined ? Math.max(1, options.deadline - now) : waitMs;
      status = await this.getStatus(token, status.statusVersion, Math.min(waitMs, untilDeadline), {
        what: invocation.description,
        ...(cancelledAt === undefined && options.signal ? { signal: options.signal } : {}),
      }).catch((error: unknown) => {
        if (isBackendError(error, 'Aborted') && options.signal?.aborted) return status; // cancelled above on the next turn
        throw error;
      });
      if (isRunning(status)) {
        report(status);
        continue;
      }
      if (isCancelled(status)) {
        throw new BackendError('Timeout', `MailStore ${invocation.fn} (${invocation.description}): cancelled because it did not end before the deadline`);
      }
      if (status.error) throw new MailStoreCallError(invocation.fn, status.error);
      return status;
    }
  }

  /**
   * Sends a call and returns its first status (manual token handling): final, or running with a
   * token to pass to getStatus. A failure the server reports at once is thrown as MailStoreCallError.
   */
  async start(invocation: Invocation, options: Pick<CallOptions, 'idempotent' | 'signal'> = {}): Promise<MailStoreStatus> {
    const { fn, args } = invocation;
    const current = this.apiForm === 'current';
    const request: HttpRequest = {
      method: 'POST',
      path: current ? `/api/invoke/${encodeURIComponent(fn)}` : `/JSON/Invoke/${encodeURIComponent(fn)}`,
      body: formBody(args),
      idempotent: options.idempotent ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    const response = await this.http.call(request);
    if (current) {
      const status = envelopeOf(request, response);
      if (status.error && !isRunning(status)) throw new MailStoreCallError(fn, status.error);
      return status;
    }
    const value = response.text.replace(/^\uFEFF/, '').trim() === '' ? null : readJson<unknown>(request, response, () => true, 'is this a MailStore Server?');
    if (isLegacyToken(value)) {
      this.#statusUrls.set(value.statusToken, value.statusUrl);
      this.#legacyVersions.set(value.statusToken, 1);
      return { ...EMPTY_STATUS, token: value.statusToken, statusVersion: 1, statusCode: 'running' };
    }
    return { ...EMPTY_STATUS, statusVersion: 1, statusCode: 'succeeded', result: value };
  }

  /**
   * The status of a token once it is newer than `lastKnownStatusVersion` or `waitMs` passed
   * (current: the server holds the request; legacy: polled every legacyPollMs). Throws
   * MailStoreTokenLost when the server does not know the token (any more).
   */
  async getStatus(token: string, lastKnownStatusVersion: number, waitMs: number, options: { signal?: AbortSignal; what?: string } = {}): Promise<MailStoreStatus> {
    const what = options.what ?? 'a call';
    if (this.apiForm === 'current') {
      const request: HttpRequest = {
        method: 'POST',
        path: '/api/get-status',
        body: formBody({ token, lastKnownStatusVersion, millisecondsTimeout: Math.max(0, Math.round(waitMs)) }),
        // Asking again is harmless: the status stays until the session ends.
        idempotent: true,
        longPoll: { holdMs: waitMs },
        ...(options.signal ? { signal: options.signal } : {}),
      };
      try {
        return envelopeOf(request, await this.http.call(request));
      } catch (error) {
        if (isBackendError(error) && error.status === 404) throw new MailStoreTokenLost(token, what, error);
        throw error;
      }
    }
    return this.#legacyStatus(token, waitMs, what, options.signal);
  }

  /** Asks the server to cancel a call. It does not say whether it will: poll until the status is final. */
  async cancel(token: string): Promise<void> {
    if (this.apiForm === 'legacy') {
      throw new BackendError('Unsupported', 'the legacy MailStore API (/JSON/Invoke) has no way to cancel a running call');
    }
    const request: HttpRequest = { method: 'POST', path: '/api/cancel-async', body: formBody({ token }), idempotent: true };
    try {
      await this.http.call(request);
    } catch (error) {
      if (isBackendError(error) && error.status === 404) throw new MailStoreTokenLost(token, 'the call to cancel', error);
      throw error;
    }
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** Polls the legacy status URL until it brings news or `waitMs` passed. A final status is deleted on the server once delivered. */
  async #legacyStatus(token: string, waitMs: number, what: string, signal: AbortSignal | undefined): Promise<MailStoreStatus> {
    const until = Date.now() + waitMs;
    const path = this.#statusUrls.get(token) ?? `/JSON/Status/${encodeURIComponent(token)}`;
    for (;;) {
      const request: HttpRequest = { method: 'GET', path, ...(signal ? { signal } : {}) };
      let value: LegacyStatus;
      try {
        value = readJson<LegacyStatus>(request, await this.http.call(request), isLegacyStatus, 'is this a MailStore Server?');
      } catch (error) {
        if (error instanceof MailStoreCallError) throw new MailStoreTokenLost(token, what, error);
        throw error;
      }
      const news = value.status !== 'running' || (value.messages?.length ?? 0) > 0 || value.progressPercentage !== this.#lastProgress.get(token);
      this.#lastProgress.set(token, value.progressPercentage ?? null);
      if (news || Date.now() + (this.#options.legacyPollMs ?? 250) > until) {
        const version = (this.#legacyVersions.get(token) ?? 1) + (news ? 1 : 0);
        this.#legacyVersions.set(token, version);
        if (value.status !== 'running') {
          this.#statusUrls.delete(token);
          this.#legacyVersions.delete(token);
          this.#lastProgress.delete(token);
        }
        return legacyStatusOf(token, version, value);
      }
      await sleep(this.#options.legacyPollMs ?? 250, undefined, signal ? { signal } : {}).catch(() => {
        throw new BackendError('Aborted', `GET ${path}: cancelled`);
      });
    }
  }

}

// ------------------------------------------------------------------ invocations
export function getUserInfo(userName: string): Invocation {
  return { fn: 'GetUserInfo', args: { userName }, description: `read user ${userName}` };
}

export function createUser(user: NewUser): Invocation {
  return {
    fn: 'CreateUser',
    args: {
      userName: user.userName,
      privileges: list(user.privileges),
      fullName: user.fullName ?? undefined,
      distinguishedName: user.distinguishedName,
      authentication: user.authentication,
      password: user.password,
      loginPrivileges: user.loginPrivileges ? list(user.loginPrivileges) : undefined,
    },
    description: `create user ${user.userName}`,
  };
}

export function deleteUser(userName: string): Invocation {
  return { fn: 'DeleteUser', args: { userName }, description: `delete user ${userName} (its archive is kept)` };
}

export function renameUser(oldUserName: string, newUserName: string): Invocation {
  return { fn: 'RenameUser', args: { oldUserName, newUserName }, description: `rename user ${oldUserName} to ${newUserName}` };
}

export function setUserEmailAddresses(userName: string, addresses: readonly string[]): Invocation {
  // Omitted means none (a full replace).
  return { fn: 'SetUserEmailAddresses', args: { userName, emailAddresses: addresses.length > 0 ? list(addresses) : undefined }, description: `set the email addresses of ${userName}` };
}

export function setUserFullName(userName: string, fullName: string | null): Invocation {
  return { fn: 'SetUserFullName', args: { userName, fullName: fullName ?? undefined }, description: `set the full name of ${userName}` };
}

export function setUserPassword(userName: string, password: string): Invocation {
  return { fn: 'SetUserPassword', args: { userName, password }, description: `set the password of ${userName}` };
}

export function setUserPrivileges(userName: string, privileges: readonly string[]): Invocation {
  return { fn: 'SetUserPrivileges', args: { userName, privileges: list(privileges) }, description: `set the privileges of ${userName}` };
}

export function setUserLoginPrivileges(userName: string, loginPrivileges: readonly string[]): Invocation {
  return { fn: 'SetUserLoginPrivileges', args: { userName, loginPrivileges: list(loginPrivileges) }, description: `set the login privileges of ${userName}` };
}

/** MailStore's list arguments are one comma-separated string; an empty one is `none`. */
function list(values: readonly string[]): string {
  return values.length > 0 ? values.join(',') : 'none';
}

// ------------------------------------------------------------------ answers
const EMPTY_STATUS: MailStoreStatus = { token: null, statusVersion: 0, statusCode: 'succeeded', percentProgress: null, statusText: null, logOutput: null, result: null, error: null };

function isCancelled(status: MailStoreStatus): boolean {
  return /^cancel/i.test(status.statusCode);
}

function credentialsRefused(request: HttpRequest, response: HttpResponse): BackendError {
  return new BackendError('Unauthorized', `${describeRequest(request)}: 401 credentials refused (the MailStore administrator's user name and password)`, { status: 401 });
}

/** Current form: 200 carries an envelope (read by the client), 401 refused credentials, 404 an unknown token or function, 5xx transient. */
export const currentFormAnswer: AnswerClassifier<HttpResponse> = (request, response) => {
  if (response.status >= 200 && response.status < 300) return success(response);
  if (response.status === 401) return permanent(credentialsRefused(request, response));
  return failureByStatus(request, response, (req, res) => {
    const error = statusError(req, res);
    try {
      const envelope = JSON.parse(res.text.replace(/^\uFEFF/, '')) as { error?: MailStoreErrorInfo | null };
      if (envelope.error?.message) return new BackendError(error.kind, `${describeRequest(req)}: ${res.status} ${envelope.error.message}`, { status: res.status });
    } catch {
      // not an envelope: the status line says it
    }
    return error;
  });
};

/**
 * Legacy form: a call that fails answers HTTP 500 with the message as text/plain (the seed), so a
 * 500 in text/plain is the server's refusal, not a passing fault: never repeated.
 */
export const legacyFormAnswer: AnswerClassifier<HttpResponse> = (request, response) => {
  if (response.status >= 200 && response.status < 300) return success(response);
  if (response.status === 401) return permanent(credentialsRefused(request, response));
  const type = String(response.headers['content-type'] ?? '');
  if (response.status === 500 && type.startsWith('text/plain')) {
    const fn = /\/Invoke\/([^/?]+)/.exec(request.path)?.[1] ?? 'status';
    return permanent(new MailStoreCallError(decodeURIComponent(fn), { message: response.text.trim() || 'failed without a message', details: null }, 500));
  }
  return failureByStatus(request, response);
};

function envelopeOf(request: HttpRequest, response: HttpResponse): MailStoreStatus {
  const envelope = readJson<Partial<MailStoreStatus>>(request, response, isEnvelope, 'is this a MailStore Server with the current Administration API? (spec.mailstore.apiForm: legacy for /JSON/Invoke)');
  return {
    token: envelope.token ?? null,
    statusVersion: envelope.statusVersion ?? 0,
    statusCode: envelope.statusCode!,
    percentProgress: envelope.percentProgress ?? null,
    statusText: envelope.statusText ?? null,
    logOutput: envelope.logOutput ?? null,
    result: envelope.result ?? null,
    error: envelope.error ? { message: String(envelope.error.message ?? 'failed'), details: envelope.error.details ?? null } : null,
  };
}

function isEnvelope(value: unknown): boolean {
  const v = value as Partial<MailStoreStatus> | null;
  return typeof v === 'object' && v !== null && typeof v.statusCode === 'string' && 'error' in v && (v.statusCode !== 'running' || typeof v.token === 'string');
}

interface LegacyStatus {
  status: string;
  result?: unknown;
  progressPercentage?: number | null;
  messages?: Array<{ type: string; text: string }>;
}

function isLegacyToken(value: unknown): value is { statusToken: string; statusUrl: string } {
  const v = value as { statusToken?: unknown; statusUrl?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.statusToken === 'string' && typeof v.statusUrl === 'string';
}

function isLegacyStatus(value: unknown): boolean {
  return typeof (value as LegacyStatus | null)?.status === 'string';
}

function legacyStatusOf(token: string, version: number, value: LegacyStatus): MailStoreStatus {
  const messages = value.messages ?? [];
  const errors = messages.filter((m) => m.type === 'error').map((m) => m.text);
  const failed = value.status === 'failed';
  return {
    token,
    statusVersion: version,
    statusCode: value.status,
    percentProgress: value.progressPercentage ?? null,
    statusText: null,
    logOutput: messages.length > 0 ? messages.map((m) => `${m.text}\r\n`).join('') : null,
    result: value.result ?? null,
    error: failed ? { message: errors.join('; ') || 'the call failed', details: null } : null,
  };
}

/** GetUserInfo's result, checked; lists also accepted as the comma-separated strings of the seed. */
export function parseUserInfo(value: unknown): MailStoreUserInfo {
  const v = value as Partial<MailStoreUserInfo> & { privileges?: unknown; emailAddresses?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.userName !== 'string') {
    throw new BackendError('Protocol', `MailStore GetUserInfo: unexpected result ${preview(value)}`);
  }
  return {
    userName: v.userName,
    fullName: v.fullName ?? null,
    distinguishedName: v.distinguishedName ?? null,
    authentication: v.authentication ?? null,
    emailAddresses: stringList(v.emailAddresses),
    pop3UserNames: stringList(v.pop3UserNames),
    // The seed shows privileges as one comma-separated string; the current API sends a list.
    privileges: stringList(v.privileges),
    privilegesOnFolders: Array.isArray(v.privilegesOnFolders) ? v.privilegesOnFolders : [],
  };
}

function stringList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((x): x is string => typeof x === 'string');
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'none');
  return [];
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
