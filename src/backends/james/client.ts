// Apache James WebAdmin over HTTP: one method per call the reconciler makes, James's error bodies
// turned into BackendErrors. Facts: shared/backends/james.md (and "Seen on the real server").
import { BackendError, isBackendError } from '../../engine/adapter.ts';
import {
  classifyByStatus,
  describeRequest,
  HttpClient,
  jsonBody,
  kindOfStatus,
  readJson,
  segment,
  success,
  type AnswerClassifier,
  type Authentication,
  type ConnectionOptions,
  type HttpRequest,
  type HttpResponse,
} from '../http/index.ts';

/**
 * James 3.8.1's /address and /quota/users routes URL-decode their parameters once more after Jetty
 * did: a `+` would turn into a space (and `tag+user@example.com` be refused), so those parameters
 * are encoded twice.
 */
function decodedTwice(value: string): string {
  return encodeURIComponent(encodeURIComponent(value));
}

/** James's quota limit: a number, -1 for unlimited, null for unset at this level. */
export interface JamesQuota {
  count: number | null;
  size: number | null;
}

export interface JamesQuotaDetail {
  global?: Partial<JamesQuota>;
  domain?: Partial<JamesQuota>;
  user?: Partial<JamesQuota>;
  computed?: Partial<JamesQuota>;
}

export interface JamesMapping {
  type: string;
  mapping: string;
}

export interface JamesTaskReport {
  taskId: string;
  type?: string;
  status: 'waiting' | 'inProgress' | 'canceledRequested' | 'completed' | 'canceled' | 'failed';
  additionalInformation?: unknown;
}

export class JamesClient {
  readonly http: HttpClient<HttpResponse>;
  /** The last write to the recipient rewrite table; the next one waits for it. */
  #mappingWrites: Promise<unknown> = Promise.resolve();

  constructor(options: ConnectionOptions, auth: Authentication<HttpResponse>) {
    this.http = new HttpClient({ ...options, classify: jamesAnswer, auth });
  }

  // --- domains
  listDomains(): Promise<string[]> {
    return this.#json<string[]>({ method: 'GET', path: '/domains' }, isStringArray);
  }
  async createDomain(domain: string): Promise<void> {
    await this.#ok({ method: 'PUT', path: `/domains/${segment(domain)}` });
  }
  async deleteDomain(domain: string): Promise<void> {
    await this.#ok({ method: 'DELETE', path: `/domains/${segment(domain)}` });
  }
  async addDomainAlias(domain: string, alias: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'PUT', path: `/domains/${segment(domain)}/aliases/${segment(alias)}` }));
  }
  async removeDomainAlias(domain: string, alias: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'DELETE', path: `/domains/${segment(domain)}/aliases/${segment(alias)}` }, { notFoundIsOk: true }));
  }

  // --- users
  async listUsers(): Promise<string[]> {
    const users = await this.#json<Array<{ username: string }>>({ method: 'GET', path: '/users' }, (v) =>
      Array.isArray(v) && v.every((u) => typeof u?.username === 'string'),
    );
    return users.map((u) => u.username);
  }
  /** Creates the user; if it exists already, sets the password instead (idempotent create). */
  async createUser(user: string, password: string): Promise<void> {
    const created = await onStatus(409, null, this.http.call({ method: 'PUT', path: `/users/${segment(user)}`, body: jsonBody({ password }) }));
    if (created === null) return this.setPassword(user, password);
  }
  async setPassword(user: string, password: string): Promise<void> {
    await this.#ok({ method: 'PUT', path: `/users/${segment(user)}`, query: { force: true }, body: jsonBody({ password }) });
  }
  /** Whether this is the user's password (204 yes; 401 with an empty body, see jamesAnswer, no). */
  async verifyPassword(user: string, password: string): Promise<boolean> {
    const request: HttpRequest = { method: 'POST', path: `/users/${segment(user)}/verify`, body: jsonBody({ password }), idempotent: true };
    const response = await onStatus(404, null, this.http.call(request));
    return response?.status === 204;
  }
  async deleteUser(user: string): Promise<void> {
    await this.#ok({ method: 'DELETE', path: `/users/${segment(user)}` }, { notFoundIsOk: true });
  }
  /** Starts the task that moves a user's data (mailboxes, quota, forwards …) to another existing user. */
  async startRename(oldUser: string, newUser: string): Promise<string> {
    const report = await this.#json<{ taskId: string }>(
      { method: 'POST', path: `/users/${segment(oldUser)}/rename/${segment(newUser)}`, query: { action: 'rename' } },
      (v) => typeof (v as { taskId?: unknown })?.taskId === 'string',
    );
    return report.taskId;
  }

  // --- mappings: aliases, forwards, groups, domain aliases
  listMappings(): Promise<Record<string, JamesMapping[]>> {
    return this.#json({ method: 'GET', path: '/mappings' }, (v) => typeof v === 'object' && v !== null && !Array.isArray(v));
  }
  async listForwards(user: string): Promise<string[]> {
    const request: HttpRequest = { method: 'GET', path: `/address/forwards/${decodedTwice(user)}` };
    const targets = await onStatus(404, [], this.#json<Array<{ mailAddress: string }>>(request, Array.isArray));
    return targets.map((t) => t.mailAddress);
  }
  async listAliasesOf(user: string): Promise<string[]> {
    const request: HttpRequest = { method: 'GET', path: `/address/aliases/${decodedTwice(user)}` };
    const sources = await onStatus(404, [], this.#json<Array<{ source: string }>>(request, Array.isArray));
    return sources.map((s) => s.source);
  }
  async addAlias(user: string, alias: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'PUT', path: `/address/aliases/${decodedTwice(user)}/sources/${decodedTwice(alias)}` }));
  }
  async removeAlias(user: string, alias: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'DELETE', path: `/address/aliases/${decodedTwice(user)}/sources/${decodedTwice(alias)}` }, { notFoundIsOk: true }));
  }
  async addForward(user: string, target: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'PUT', path: `/address/forwards/${decodedTwice(user)}/targets/${decodedTwice(target)}` }));
  }
  async removeForward(user: string, target: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'DELETE', path: `/address/forwards/${decodedTwice(user)}/targets/${decodedTwice(target)}` }, { notFoundIsOk: true }));
  }
  async addGroupMember(group: string, member: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'PUT', path: `/address/groups/${decodedTwice(group)}/${decodedTwice(member)}` }));
  }
  async removeGroupMember(group: string, member: string): Promise<void> {
    await this.#mappingWrite(() => this.#ok({ method: 'DELETE', path: `/address/groups/${decodedTwice(group)}/${decodedTwice(member)}` }, { notFoundIsOk: true }));
  }

  // --- quotas
  getGlobalQuota(): Promise<JamesQuota> {
    return this.#json<Partial<JamesQuota>>({ method: 'GET', path: '/quota' }, isRecord).then(toQuota);
  }
  async setGlobalQuota(quota: JamesQuota): Promise<void> {
    await this.#ok({ method: 'PUT', path: '/quota', body: jsonBody(quota) });
  }
  getDomainQuota(domain: string): Promise<JamesQuota> {
    return this.#json<JamesQuotaDetail>({ method: 'GET', path: `/quota/domains/${segment(domain)}` }, isRecord).then((d) => toQuota(d.domain));
  }
  async setDomainQuota(domain: string, quota: JamesQuota): Promise<void> {
    await this.#ok({ method: 'PUT', path: `/quota/domains/${segment(domain)}`, body: jsonBody(quota) });
  }
  /** Every user of a domain with its quota, in one call. */
  async listUserQuotas(domain: string): Promise<Map<string, JamesQuota>> {
    const rows = await this.#json<Array<{ username: string; detail: JamesQuotaDetail }>>(
      { method: 'GET', path: '/quota/users', query: { domain } },
      Array.isArray,
    );
    return new Map(rows.map((row) => [row.username, toQuota(row.detail?.user)]));
  }
  async setUserQuota(user: string, quota: JamesQuota): Promise<void> {
    await this.#ok({ method: 'PUT', path: `/quota/users/${decodedTwice(user)}`, body: jsonBody(quota) });
  }

  // --- tasks
  /** Waits up to `seconds` for the task to end; null when it is still running then (James answers 408). */
  awaitTask(taskId: string, seconds: number, signal?: AbortSignal): Promise<JamesTaskReport | null> {
    const request: HttpRequest = {
      method: 'GET',
      path: `/tasks/${segment(taskId)}/await`,
      query: { timeout: `${seconds}s` },
      longPoll: { holdMs: seconds * 1000 },
      ...(signal ? { signal } : {}),
    };
    return onStatus(408, null, this.#json<JamesTaskReport>(request, isTaskReport));
  }
  /** Every task James knows of (it keeps finished ones too), newest first. */
  listTasks(): Promise<JamesTaskReport[]> {
    return this.#json<JamesTaskReport[]>({ method: 'GET', path: '/tasks' }, (v) => Array.isArray(v) && v.every(isTaskReport));
  }
  async cancelTask(taskId: string): Promise<void> {
    await this.#ok({ method: 'DELETE', path: `/tasks/${segment(taskId)}` }, { notFoundIsOk: true });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  // --- plumbing
  /**
   * Writes to the recipient rewrite table (aliases, forwards, groups, domain aliases) one at a
   * time. The real James 3.8.1 (memory) loses some of them when they come concurrently, though it
   * answers 204 to each: 28 of 30 concurrent alias writes were kept.
   */
  #mappingWrite(write: () => Promise<void>): Promise<void> {
    const done = this.#mappingWrites.then(write, write);
    this.#mappingWrites = done.catch(() => undefined);
    return done;
  }

  async #ok(request: HttpRequest, options: { notFoundIsOk?: boolean } = {}): Promise<void> {
    const call = this.http.call(request);
    await (options.notFoundIsOk ? onStatus(404, undefined, call) : call);
  }

  async #json<T>(request: HttpRequest, guard: (value: unknown) => boolean): Promise<T> {
    return readJson<T>(request, await this.http.call(request), guard, 'is this James WebAdmin?');
  }
}

/** The call's result, or `fallback` when James answers `status`, which for this call means "nothing there". */
async function onStatus<T, F>(status: number, fallback: F, call: Promise<T>): Promise<T | F> {
  try {
    return await call;
  } catch (error) {
    if (isBackendError(error) && error.status === status) return fallback;
    throw error;
  }
}

const jamesAnswerByStatus = classifyByStatus((request, response) => jamesError(response, describeRequest(request)));

/**
 * James's answers by status, its error bodies turned into messages; plus one call-specific reading:
 * a password check answers a wrong password with 401 and an empty body, while a refused admin
 * credential answers 401 with a text body ("Invalid Bearer header.").
 */
export const jamesAnswer: AnswerClassifier<HttpResponse> = (request, response) => {
  const wrongPassword = response.status === 401 && request.method === 'POST' && request.path.endsWith('/verify') && response.text.trim() === '';
  return wrongPassword ? success(response) : jamesAnswerByStatus(request, response);
};

/**
 * James answers errors as JSON {statusCode, type, message, details}, except the 401 of a bad token
 * (plain text) and the 400 of a malformed URL (HTML): all three end up as one readable line.
 */
export function jamesError(response: HttpResponse, what: string): BackendError {
  const kind = kindOfStatus(response.status);
  let reason = '';
  try {
    const body = JSON.parse(response.text) as { message?: string; details?: string; cause?: string };
    reason = [body.message, body.details ?? body.cause].filter(Boolean).join(': ');
  } catch {
    reason = response.text.includes('<') ? stripHtml(response.text) : response.text.trim();
  }
  if (response.status === 401) reason = `credentials refused${reason ? ` (${reason})` : ''}`;
  return new BackendError(kind, `${what}: ${response.status} ${reason || 'no details'}`.trim(), { status: response.status });
}

function stripHtml(html: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(html)?.[1];
  const text = (title ?? html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ').trim();
  return text.slice(0, 200);
}

function toQuota(value: Partial<JamesQuota> | undefined): JamesQuota {
  return { count: value?.count ?? null, size: value?.size ?? null };
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isTaskReport(value: unknown): boolean {
  return isRecord(value) && typeof (value as { status?: unknown }).status === 'string';
}
