// Open-Xchange App Suite's administration interfaces (shared/backends/openxchange.md): the SOAP provisioning services
// OXContextService (as the master admin) and OXUserService (as each context's admin), and the REST admin API (the
// seed): health, closing sessions, resolving addresses. One method per call the reconciler makes.
//
// The services are called at the configured URL, never at the address their WSDL advertises: OX's WSDL says port 80
// even behind https. Every SOAP call is synchronous; faults become BackendErrors by their exception (./soap.ts).
import { BackendError } from '../../engine/adapter.ts';
import {
  basicAuth,
  classifyByStatus,
  describeRequest,
  failureByStatus,
  HttpClient,
  jsonBody,
  segment,
  soapBody,
  statusError,
  success,
  type AnswerClassifier,
  type ConnectionOptions,
  type HttpRequest,
  type HttpResponse,
} from '../http/index.ts';
import {
  booleanOf,
  listOf,
  numberOf,
  oxSoapAnswer,
  records,
  returnsOf,
  soapEnvelope,
  textOf,
  type DataObject,
  type SoapCredentials,
  type SoapNode,
  type SoapParameter,
  type SoapRecord,
} from './soap.ts';

export const CONTEXT_SERVICE = '/webservices/OXContextService';
export const USER_SERVICE = '/webservices/OXUserService';

/** A context as OXContextService reports it. `maxQuota` is the filestore quota in MB; -1 is unlimited. */
export interface OXContext {
  id: number;
  name: string;
  enabled: boolean;
  maxQuota: number | null;
  usedQuota: number | null;
  loginMappings: string[];
}

/** The context fields a create or change sends; a field left out is not changed. */
export interface ContextFields {
  id?: number;
  name?: string;
  maxQuota?: number;
  loginMappings?: readonly string[];
}

/** A user as OXUserService reports it. `maxQuota` is MB; -1 (or none) is unlimited. */
export interface OXUser {
  id: number;
  name: string;
  displayName: string | null;
  givenName: string | null;
  surName: string | null;
  primaryEmail: string | null;
  email1: string | null;
  aliases: string[];
  mailEnabled: boolean;
  maxQuota: number | null;
  language: string | null;
  timezone: string | null;
}

/** The user fields a create or change sends (`change` changes only the fields sent). */
export interface UserFields {
  id?: number;
  name?: string;
  displayName?: string;
  givenName?: string;
  surName?: string;
  password?: string;
  primaryEmail?: string;
  email1?: string;
  aliases?: readonly string[];
  mailEnabled?: boolean;
  maxQuota?: number;
  language?: string;
  timezone?: string;
}

/** A user named by id or by login name. */
export type UserRef = { id: number } | { name: string };

export interface HealthCheck {
  name: string;
  status: string;
  data?: unknown;
}

export interface Health {
  status: 'UP' | 'DOWN';
  checks: HealthCheck[];
  service?: { name?: string; version?: string };
}

/** Where a mail address lives, as the mail resolver says. */
export interface ResolvedAddress {
  userId: number;
  contextId: number;
}

export interface OXCredentials {
  /** The master admin (oxadminmaster): context calls, and the REST calls that need masterAdminAuth. */
  master: SoapCredentials;
  /** The admin of each context: user calls. */
  contextAdmin: SoapCredentials;
  /** The REST API's basic-auth login (health, mail resolver); default: the master admin. */
  rest?: SoapCredentials;
}

export interface OXClientOptions {
  /** Base URL of the REST admin API; default: the SOAP URL. */
  restUrl?: string;
}

/** The operations that only read: safe to send again after a network failure. */
const READS = new Set(['getData', 'getMultipleData', 'listAll', 'list', 'exists']);
/** Writes whose repetition does no harm (they set a state). A create is not one of them. */
const REPEATABLE_WRITES = new Set(['change', 'enable', 'disable', 'delete', 'changeQuota']);

/** At most this many addresses in one mail-resolver URL. */
const RESOLVE_BATCH = 50;

const HEALTH_PATH = '/health';

export class OXClient {
  readonly soap: HttpClient<SoapRecord>;
  readonly rest: HttpClient<HttpResponse>;
  readonly #credentials: OXCredentials;

  constructor(options: ConnectionOptions, credentials: OXCredentials, clientOptions: OXClientOptions = {}) {
    this.#credentials = credentials;
    this.soap = new HttpClient({ ...options, classify: oxSoapAnswer });
    this.rest = new HttpClient({ ...options, baseUrl: clientOptions.restUrl ?? options.baseUrl, classify: restAnswer });
  }

  get requestCount(): number {
    return this.soap.requestCount + this.rest.requestCount;
  }

  // --- OXContextService (master admin)
  async createContext(context: ContextFields, admin: UserFields): Promise<OXContext> {
    const [created] = await this.#context('create', [{ name: 'ctx', object: contextObject(context) }, { name: 'admin_user', object: userObject(admin) }]);
    return readContext(created, 'create');
  }
  async changeContext(context: ContextFields & { id: number }): Promise<void> {
    await this.#context('change', [{ name: 'ctx', object: contextObject(context) }]);
  }
  async deleteContext(id: number): Promise<void> {
    await this.#context('delete', [ctxParameter(id)]);
  }
  async enableContext(id: number): Promise<void> {
    await this.#context('enable', [ctxParameter(id)]);
  }
  async disableContext(id: number): Promise<void> {
    await this.#context('disable', [ctxParameter(id)]);
  }
  async contextExists(context: { id: number } | { name: string }): Promise<boolean> {
    return readBoolean(await this.#context('exists', [{ name: 'ctx', object: context }]), 'exists');
  }
  async getContext(id: number): Promise<OXContext> {
    const [context] = await this.#context('getData', [ctxParameter(id)]);
    return readContext(context, 'getData');
  }
  /** Contexts whose name or login mappings match the pattern (`*` matches anything). */
  async listContexts(pattern: string): Promise<OXContext[]> {
    return records(await this.#context('list', [{ name: 'search_pattern', value: pattern }])).map((record) => readContext(record, 'list'));
  }
  async listAllContexts(): Promise<OXContext[]> {
    return records(await this.#context('listAll', [])).map((record) => readContext(record, 'listAll'));
  }
  /** A module's quota (e.g. `calendar`), not the filestore quota (that is the context's maxQuota). */
  async changeContextQuota(id: number, module: string, quota: number): Promise<void> {
    await this.#context('changeQuota', [ctxParameter(id), { name: 'module', value: module }, { name: 'quota_value', value: quota }]);
  }

  // --- OXUserService (the context's admin)
  async createUser(contextId: number, user: UserFields): Promise<OXUser> {
    const [created] = await this.#user('create', contextId, [{ name: 'usrdata', object: userObject(user) }]);
    return readUser(created, 'create');
  }
  /** Changes only the fields given; the user is named by `id` or `name`. */
  async changeUser(contextId: number, user: UserFields & ({ id: number } | { name: string })): Promise<void> {
    await this.#user('change', contextId, [{ name: 'usrdata', object: userObject(user) }]);
  }
  async deleteUser(contextId: number, user: UserRef): Promise<void> {
    await this.#user('delete', contextId, [{ name: 'user', object: user }]);
  }
  async getUser(contextId: number, user: UserRef): Promise<OXUser> {
    const [found] = await this.#user('getData', contextId, [{ name: 'user', object: user }]);
    return readUser(found, 'getData');
  }
  async getUsers(contextId: number, users: readonly UserRef[]): Promise<OXUser[]> {
    if (users.length === 0) return [];
    return records(await this.#user('getMultipleData', contextId, [{ name: 'users', objects: users }])).map((record) => readUser(record, 'getMultipleData'));
  }
  async userExists(contextId: number, user: UserRef): Promise<boolean> {
    return readBoolean(await this.#user('exists', contextId, [{ name: 'user', object: user }]), 'exists');
  }
  /** The ids of every user of the context (listAll reports nothing else; follow with getUsers). */
  async listAllUsers(contextId: number): Promise<number[]> {
    return readIds(await this.#user('listAll', contextId, []), 'listAll');
  }
  async listUsers(contextId: number, pattern: string): Promise<number[]> {
    return readIds(await this.#user('list', contextId, [{ name: 'search_pattern', value: pattern }]), 'list');
  }

  // --- REST admin API
  /** GET /health: UP or DOWN, with the checks; a DOWN backend answers 500/503 with the same document. */
  async health(): Promise<Health> {
    const request: HttpRequest = { method: 'GET', path: HEALTH_PATH, headers: this.#restAuth('rest') };
    const response = await this.rest.call(request);
    const health = parseHealth(response.text);
    if (!health) throw new BackendError('Protocol', `${describeRequest(request)}: unexpected answer; is spec.openxchange.restUrl the REST API of Open-Xchange (port 8009)?`, { status: response.status });
    return health;
  }
  /** Closes every session of these users, cluster-wide (masterAdminAuth). */
  async closeUserSessions(users: ReadonlyArray<{ contextId: number; userId: number }>): Promise<void> {
    if (users.length === 0) return;
    await this.rest.call({
      method: 'POST',
      path: '/admin/v1/close-sessions/by-user',
      body: jsonBody({ users: users.map(({ contextId, userId }) => ({ contextId, userId })) }),
      headers: this.#restAuth('master'),
      idempotent: true,
    });
  }
  /** Closes every session of these contexts, cluster-wide (masterAdminAuth). Returns the closed session ids. */
  async closeContextSessions(contextIds: readonly number[]): Promise<string[]> {
    if (contextIds.length === 0) return [];
    const request: HttpRequest = { method: 'POST', path: '/admin/v1/close-sessions/by-context', body: jsonBody({ contextIds }), headers: this.#restAuth('master'), idempotent: true };
    const closed = (parseJson((await this.rest.call(request)).text) as { closed?: unknown } | undefined)?.closed;
    return Array.isArray(closed) ? closed.filter((id): id is string => typeof id === 'string') : [];
  }
  /** Where each address lives; an address no user has is missing from the map. */
  async resolveAddresses(addresses: readonly string[]): Promise<Map<string, ResolvedAddress>> {
    const resolved = new Map<string, ResolvedAddress>();
    const unique = [...new Set(addresses.map((a) => a.toLowerCase()))];
    for (let start = 0; start < unique.length; start += RESOLVE_BATCH) {
      const batch = unique.slice(start, start + RESOLVE_BATCH);
      const request: HttpRequest = { method: 'GET', path: `/preliminary/utilities/mailResolver/v1/resolve/${batch.map(segment).join(';')}`, headers: this.#restAuth('rest') };
      const answer = parseJson((await this.rest.call(request)).text);
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw new BackendError('Protocol', `${describeRequest(request)}: unexpected answer`);
      for (const [address, entry] of Object.entries(answer as Record<string, unknown>)) {
        const { user, context } = (entry ?? {}) as { user?: unknown; context?: unknown };
        if (typeof user === 'number' && typeof context === 'number') resolved.set(address.toLowerCase(), { userId: user, contextId: context });
      }
    }
    return resolved;
  }

  close(): Promise<void> {
    return Promise.all([this.soap.close(), this.rest.close()]).then(() => undefined);
  }

  #restAuth(scheme: 'rest' | 'master'): Record<string, string> {
    const { login, password } = scheme === 'master' ? this.#credentials.master : (this.#credentials.rest ?? this.#credentials.master);
    return { ...basicAuth(login, password).headers };
  }

  #context(operation: string, parameters: SoapParameter[]): Promise<SoapNode[]> {
    return this.#call(CONTEXT_SERVICE, operation, [...parameters, { name: 'auth', credentials: this.#credentials.master }]);
  }

  #user(operation: string, contextId: number, parameters: SoapParameter[]): Promise<SoapNode[]> {
    return this.#call(USER_SERVICE, operation, [ctxParameter(contextId), ...parameters, { name: 'auth', credentials: this.#credentials.contextAdmin }]);
  }

  async #call(path: string, operation: string, parameters: SoapParameter[]): Promise<SoapNode[]> {
    const body = await this.soap.call({
      method: 'POST',
      path,
      body: soapBody(soapEnvelope(operation, parameters), `urn:${operation}`),
      idempotent: READS.has(operation) || REPEATABLE_WRITES.has(operation),
    });
    return returnsOf(body, operation);
  }
}

function ctxParameter(id: number): SoapParameter {
  return { name: 'ctx', object: { id } };
}

function contextObject(context: ContextFields): DataObject {
  return { id: context.id, name: context.name, maxQuota: context.maxQuota, loginMappings: context.loginMappings };
}

/** The wire names of a user's fields (OX's User data object). */
function userObject(user: UserFields & Partial<{ id: number; name: string }>): DataObject {
  return {
    id: user.id,
    name: user.name,
    display_name: user.displayName,
    given_name: user.givenName,
    sur_name: user.surName,
    password: user.password,
    primaryEmail: user.primaryEmail,
    email1: user.email1,
    aliases: user.aliases,
    mailenabled: user.mailEnabled,
    maxQuota: user.maxQuota,
    language: user.language,
    timezone: user.timezone,
  };
}

function readContext(node: SoapNode | undefined, operation: string): OXContext {
  const record = records(node === undefined ? [] : [node])[0];
  const id = record ? numberOf(record, 'id') : null;
  if (!record || id === null) throw new BackendError('Protocol', `OXContextService.${operation}: the answer holds no context`);
  return {
    id,
    name: textOf(record, 'name') ?? '',
    enabled: booleanOf(record, 'enabled') ?? true,
    maxQuota: numberOf(record, 'maxQuota'),
    usedQuota: numberOf(record, 'usedQuota'),
    loginMappings: listOf(record, 'loginMappings'),
  };
}

function readUser(node: SoapNode | undefined, operation: string): OXUser {
  const record = records(node === undefined ? [] : [node])[0];
  const id = record ? numberOf(record, 'id') : null;
  if (!record || id === null) throw new BackendError('Protocol', `OXUserService.${operation}: the answer holds no user`);
  return {
    id,
    name: textOf(record, 'name') ?? '',
    displayName: textOf(record, 'display_name') || null,
    givenName: textOf(record, 'given_name') || null,
    surName: textOf(record, 'sur_name') || null,
    primaryEmail: textOf(record, 'primaryEmail')?.toLowerCase() || null,
    email1: textOf(record, 'email1')?.toLowerCase() || null,
    aliases: listOf(record, 'aliases').map((alias) => alias.toLowerCase()),
    mailEnabled: booleanOf(record, 'mailenabled') ?? true,
    maxQuota: numberOf(record, 'maxQuota'),
    language: textOf(record, 'language') || null,
    timezone: textOf(record, 'timezone') || null,
  };
}

function readIds(nodes: SoapNode[], operation: string): number[] {
  return records(nodes).map((record) => {
    const id = numberOf(record, 'id');
    if (id === null) throw new BackendError('Protocol', `OXUserService.${operation}: a user without an id`);
    return id;
  });
}

function readBoolean(nodes: SoapNode[], operation: string): boolean {
  const [value] = nodes;
  if (value !== 'true' && value !== 'false') throw new BackendError('Protocol', `${operation}: expected true or false, got ${JSON.stringify(value ?? null)}`);
  return value === 'true';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseHealth(text: string): Health | undefined {
  const value = parseJson(text) as { status?: unknown; checks?: unknown; service?: unknown } | undefined;
  if (!value || (value.status !== 'UP' && value.status !== 'DOWN')) return undefined;
  const checks = (Array.isArray(value.checks) ? value.checks : []).filter(
    (check): check is HealthCheck => typeof check === 'object' && check !== null && typeof (check as HealthCheck).name === 'string',
  );
  return { status: value.status, checks, ...(typeof value.service === 'object' && value.service !== null ? { service: value.service as Health['service'] } : {}) };
}

const byStatus = classifyByStatus(restError);

/**
 * The REST API's answers go by status (the seed: 400 with a message, 401, 403, 404 for a wrong path, 500). The
 * health check is the exception: a DOWN middleware answers 500 or 503 with its health document, which is an
 * answer to read, not a failure to retry.
 */
const restAnswer: AnswerClassifier<HttpResponse> = (request, response) => {
  if (request.path === HEALTH_PATH && response.status >= 500 && parseHealth(response.text)?.status === 'DOWN') return success(response);
  if (response.status === 429 || response.status >= 500) return failureByStatus(request, response, restError);
  return byStatus(request, response);
};

function restError(request: HttpRequest, response: HttpResponse): BackendError {
  const what = describeRequest(request);
  if (response.status === 401) {
    const who = request.path.startsWith('/admin/') ? 'the master admin (credentials)' : 'its basic-auth login (spec.openxchange.restCredentials, else the master admin)';
    return new BackendError('Unauthorized', `${what}: 401, the REST API refused ${who}`, { status: 401 });
  }
  if (response.status === 404) {
    return new BackendError('Protocol', `${what}: 404 ${response.text.trim().slice(0, 120) || 'not found'}; is spec.openxchange.restUrl the REST API of Open-Xchange (port 8009)?`, { status: 404 });
  }
  return statusError(request, response);
}

