// An Apache James WebAdmin (3.8.1, memory app) in memory, for tests and demos.
//
// It follows ../../../../shared/backends/james.md — "Seen on the real server" first — and, where the sheet is
// silent, the 3.8.1 sources (DomainsRoutes, UserRoutes, AliasRoutes, ForwardRoutes, GroupsRoutes, MappingRoutes,
// UserQuotaRoutes, DomainQuotaRoutes, GlobalQuotaRoutes, UserMailboxesRoutes, UsernameChangeRoutes, TasksRoutes,
// AbstractRecipientRewriteTable, MemoryTaskManager). Messages and error types are copied from those sources so a
// client tested here meets the same answers on a real server.
//
// Layout: validation of names → the in-memory store → the recipient rewrite table → tasks → one function per
// endpoint group → one route table → startJamesEmulator.

import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { jwtVerify } from 'jose';
import { parseDuration } from '../emulator/duration.ts';
import { createRouter, decodePath, type Route } from '../emulator/router.ts';
import {
  startEmulator,
  type EmulatorOptions,
  type EmulatorRequest,
  type EmulatorResponse,
  type RunningEmulator,
} from '../emulator/server.ts';

export interface JamesEmulatorOptions extends EmulatorOptions {
  /** PEM public key: WebAdmin then wants `Authorization: Bearer <jwt>` (RS256, claims `sub` and `admin: true`), as 3.8. */
  jwtPublicKey?: string;
  /** Comma-separated passwords: WebAdmin then wants `Password: <p>` or `Authorization: Bearer <p>`, as 3.9. */
  password?: string;
  /** The configured default domain: exists from the start and cannot be deleted. Default `localhost`. */
  defaultDomain?: string;
  /** How long a rename task runs (its steps share the time). Default 50 ms. */
  taskDurationMs?: number;
}

export type QuotaValue = number | null;
export interface QuotaLimits {
  /** null = unset, -1 = unlimited. */
  count: QuotaValue;
  size: QuotaValue;
}

export type MappingType = 'Regex' | 'Domain' | 'DomainAlias' | 'Error' | 'Forward' | 'Group' | 'Alias' | 'Address';
export interface JamesMapping {
  readonly type: MappingType;
  readonly mapping: string;
}

export type TaskStatus = 'waiting' | 'inProgress' | 'canceledRequested' | 'completed' | 'canceled' | 'failed';

export interface JamesMailboxView {
  readonly name: string;
  readonly id: string;
  readonly messageCount: number;
  readonly size: number;
}

export interface JamesTaskView {
  readonly taskId: string;
  readonly type: string;
  readonly status: TaskStatus;
  /** Every status the task went through, in order (e.g. waiting, inProgress, canceledRequested, canceled). */
  readonly statusHistory: readonly TaskStatus[];
  readonly oldUser: string;
  readonly newUser: string;
}

/** A copy of the emulator's state, taken when read. */
export interface JamesStateView {
  readonly defaultDomain: string;
  readonly domains: readonly string[];
  readonly users: readonly string[];
  /** Same shape as `GET /mappings`. */
  readonly mappings: Readonly<Record<string, readonly JamesMapping[]>>;
  readonly quotas: {
    readonly global: QuotaLimits;
    readonly domains: Readonly<Record<string, QuotaLimits>>;
    readonly users: Readonly<Record<string, QuotaLimits>>;
  };
  readonly mailboxes: Readonly<Record<string, readonly JamesMailboxView[]>>;
  readonly tasks: readonly JamesTaskView[];
}

export interface JamesEmulator extends RunningEmulator {
  readonly state: JamesStateView;
  /** Test hook standing in for SMTP: puts a message of `sizeBytes` in a user's mailbox (created if missing). */
  deliverMessage(username: string, mailboxName: string, sizeBytes: number): void;
  /**
   * Test hook, a cost meter without a clock: how many entries of the store's collections (users, mappings and their
   * indexes, quotas, mailboxes, tasks) have been iterated over since the start, by requests or reads of `state`.
   * A request about one user must not make it grow with the number of users.
   */
  readonly entriesVisited: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

type JamesErrorType = 'InvalidArgument' | 'notFound' | 'WrongState' | 'ServerError';

const JSON_CONTENT = { 'content-type': 'application/json' } as const;

function json(value: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): EmulatorResponse {
  return { status, headers: { ...JSON_CONTENT, ...headers }, body: JSON.stringify(value) };
}

function empty(status = 204): EmulatorResponse {
  return { status, headers: JSON_CONTENT };
}

/** James's ErrorResponder body: `{statusCode, type, message, details}` (details = the cause's message or null). */
function jamesError(status: number, type: JamesErrorType, message: string, details: string | null = null): EmulatorResponse {
  return json({ statusCode: status, type, message, details }, status);
}

/** Thrown by handlers and validators to answer at once, like Spark's `halt`. */
class Halt extends Error {
  readonly response: EmulatorResponse;
  constructor(response: EmulatorResponse) {
    super(`halt ${response.status}`);
    this.response = response;
  }
}

function halt(status: number, type: JamesErrorType, message: string, details: string | null = null): never {
  throw new Halt(jamesError(status, type, message, details));
}

/** WebAdminServer's handler for IllegalArgumentException. */
function invalidArguments(details: string): never {
  return halt(400, 'InvalidArgument', 'Invalid arguments supplied in the user request', details);
}

/** Spark's notFound route. */
function routeNotFound(method: string, pathInfo: string): EmulatorResponse {
  return jamesError(404, 'notFound', `${method} ${pathInfo} can not be found`);
}

/** A malformed URL never reaches James: Jetty answers with its own HTML page. */
function malformedUrl(): EmulatorResponse {
  return {
    status: 400,
    headers: { 'content-type': 'text/html;charset=iso-8859-1' },
    body: '<h1>Bad Message 400</h1><pre>reason: Bad Request</pre>',
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Names, as org.apache.james.core.Domain, Username and MailAddress accept them

class InvalidName extends Error {}

/** Domain.of: returns the normalised (lower-case) name or throws InvalidName with James's reason. */
function parseDomain(raw: string): string {
  if (raw.length > 253) throw new InvalidName('Domain name length should not exceed 253 characters');
  const name = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (!/^[\p{L}\p{Nd}._-]*$/u.test(name)) throw new InvalidName('Domain parts ASCII chars must be a-z A-Z 0-9 - or _');
  const parts = name.split('.');
  for (const part of parts) {
    if (part === '') throw new InvalidName('Domain part should not be empty');
    if (/^[-_]/.test(part)) throw new InvalidName("Domain part should not start with '-' or '_'");
    if (/[-_]$/.test(part)) throw new InvalidName("Domain part should not end with '-' or '_'");
    if (part.length > 63) throw new InvalidName('Domain part should not not exceed 63 characters');
  }
  if (/^\d/.test(parts.at(-1) ?? '') && isIP(name) === 0) {
    throw new InvalidName('The last domain part must not start with 0-9');
  }
  return name.toLowerCase();
}

interface Username {
  /** `local@domain`, lower case (James lower-cases usernames). */
  readonly name: string;
  readonly domain: string | undefined;
  readonly localPart: string;
}

/** Username.of. */
function parseUsername(raw: string): Username {
  if (raw.trim() === '') throw new InvalidName('username should not be null or empty after being trimmed');
  if (raw.length > 255) throw new InvalidName('username length should not be longer than 255 characters');
  const at = raw.indexOf('@');
  const localPart = (at < 0 ? raw : raw.slice(0, at)).toLowerCase();
  const domain = at < 0 ? undefined : parseDomain(raw.slice(at + 1));
  if (localPart === '') throw new InvalidName('username local part should not be empty');
  return { name: domain === undefined ? localPart : `${localPart}@${domain}`, domain, localPart };
}

/** MailAddress, simplified: a dot-atom ASCII local part, a valid domain. Keeps the local part's case. */
function parseMailAddress(raw: string): string {
  const at = raw.lastIndexOf('@');
  if (at < 0) throw new InvalidName(`Out of data at position 1 in '${raw}'`);
  const localPart = raw.slice(0, at);
  const bad = localPart === '' ? 0 : localPart.search(/[^!#-'*+\-./-9=?A-Z^-~]|^\.|\.\.|\.$/);
  if (bad >= 0) throw new InvalidName(`Invalid character in local-part (user account) at position ${bad + 1} in '${raw}'`);
  return `${localPart}@${parseDomain(raw.slice(at + 1))}`;
}

/**
 * java.net.URLDecoder, which some routes apply to path parameters Jetty has already decoded: `+` (sent raw or as
 * %2B) becomes a space, so `tag+user@d` is refused by the /address routes and not found by /quota/users (3.8.1).
 */
function decodeAgain(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return invalidArguments(`URLDecoder: Illegal hex characters in escape (%) pattern - ${value}`);
  }
}

/** The source key of an address in the rewrite table (MappingSource.fromUser lower-cases it). */
function sourceOf(address: string): string {
  return address.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// The store

interface Mailbox {
  readonly id: string;
  messageCount: number;
  size: number;
}

/**
 * The work requests do, counted without a clock: iterating a collection of the store costs its size (even when the
 * loop stops early). Requests that do not list everything must cost the same whatever the store holds.
 */
interface Meter {
  visited: number;
}

/** A Map that charges the meter its size whenever it is iterated. */
class MeteredMap<K, V> extends Map<K, V> {
  readonly #meter: Meter;
  constructor(meter: Meter) {
    super();
    this.#meter = meter;
  }
  override entries(): MapIterator<[K, V]> {
    this.#meter.visited += this.size;
    return super.entries();
  }
  override keys(): MapIterator<K> {
    this.#meter.visited += this.size;
    return super.keys();
  }
  override values(): MapIterator<V> {
    this.#meter.visited += this.size;
    return super.values();
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  override forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    this.#meter.visited += this.size;
    super.forEach(callback, thisArg);
  }
}

/** A Set that charges the meter its size whenever it is iterated. */
class MeteredSet<T> extends Set<T> {
  readonly #meter: Meter;
  constructor(meter: Meter, items: Iterable<T> = []) {
    super();
    this.#meter = meter;
    for (const item of items) this.add(item);
  }
  override entries(): SetIterator<[T, T]> {
    this.#meter.visited += this.size;
    return super.entries();
  }
  override keys(): SetIterator<T> {
    return this.values();
  }
  override values(): SetIterator<T> {
    this.#meter.visited += this.size;
    return super.values();
  }
  override [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }
  override forEach(callback: (value: T, key: T, set: Set<T>) => void, thisArg?: unknown): void {
    this.#meter.visited += this.size;
    super.forEach(callback, thisArg);
  }
}

/** One source's mappings: type → value → the sequence numbers of its copies, oldest first. */
type SourceMappings = Map<MappingType, Map<string, number[]>>;

/**
 * The recipient rewrite table, indexed so that a request touches only the mappings it is about. MemoryRecipient-
 * RewriteTable keeps one list in insertion order without duplicate checks; here every copy of a mapping carries its
 * place in that list (a sequence number), so duplicates (a repeated domain alias) and the list's order survive.
 */
interface MappingTable {
  /** source (`user@domain`, or a bare domain for domain aliases) → its mappings. */
  readonly bySource: Map<string, SourceMappings>;
  /** type → the sources holding at least one mapping of that type. */
  readonly sourcesByType: Map<MappingType, Set<string>>;
  /** type → value → the sources mapping to that value (the aliases of a user, the alias domains of a domain). */
  readonly sourcesByValue: Map<MappingType, Map<string, Set<string>>>;
  nextSequence: number;
}

type StepState = 'WAITING' | 'IN_PROGRESS' | 'DONE' | 'FAILED' | 'ABORTED' | 'SKIPPED';

interface Task {
  readonly taskId: string;
  readonly type: 'UsernameChangeTask';
  status: TaskStatus;
  readonly statusHistory: TaskStatus[];
  readonly submitDate: Date;
  startedDate?: Date;
  completedDate?: Date;
  canceledDate?: Date;
  failedDate?: Date;
  executedOn: string | null;
  cancelledFrom: string | null;
  readonly oldUser: string;
  readonly newUser: string;
  readonly fromStep: string | null;
  /** Step name → state, in execution order. */
  readonly steps: Map<string, StepState>;
  timer?: NodeJS.Timeout;
  readonly waiters: Set<() => void>;
}

/** Every collection in the store is metered: made by `newMap()` / `newSet()`. */
interface Store {
  readonly meter: Meter;
  newMap<K, V>(): Map<K, V>;
  newSet<T>(items?: Iterable<T>): Set<T>;
  readonly defaultDomain: string;
  readonly domains: Set<string>;
  /** username → SHA-256 of the password (the emulator keeps no password). Change it with putUser / deleteUser. */
  readonly users: Map<string, string>;
  /** domain → its users. */
  readonly usersByDomain: Map<string, Set<string>>;
  readonly mappings: MappingTable;
  readonly globalQuota: QuotaLimits;
  readonly domainQuotas: Map<string, QuotaLimits>;
  readonly userQuotas: Map<string, QuotaLimits>;
  /** username → mailbox name → mailbox; mailboxes outlive their user, as in James. */
  readonly mailboxes: Map<string, Map<string, Mailbox>>;
  readonly tasks: Map<string, Task>;
  nextMailboxId: number;
}

function createStore(defaultDomain: string): Store {
  const meter: Meter = { visited: 0 };
  const newMap = <K, V>(): Map<K, V> => new MeteredMap<K, V>(meter);
  const newSet = <T>(items: Iterable<T> = []): Set<T> => new MeteredSet(meter, items);
  return {
    meter,
    newMap,
    newSet,
    defaultDomain,
    domains: newSet([defaultDomain]),
    users: newMap(),
    usersByDomain: newMap(),
    mappings: { bySource: newMap(), sourcesByType: newMap(), sourcesByValue: newMap(), nextSequence: 0 },
    globalQuota: { count: null, size: null },
    domainQuotas: newMap(),
    userQuotas: newMap(),
    mailboxes: newMap(),
    tasks: newMap(),
    nextMailboxId: 1,
  };
}

/** The entry of `key` in `map`, created by `create` if missing. */
function entryOf<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** Creates a user or changes its password. */
function putUser(store: Store, username: Username, hash: string): void {
  store.users.set(username.name, hash);
  entryOf(store.usersByDomain, username.domain ?? '', () => store.newSet()).add(username.name);
}

function deleteUser(store: Store, username: Username): void {
  if (!store.users.delete(username.name)) return;
  const ofDomain = store.usersByDomain.get(username.domain ?? '');
  ofDomain?.delete(username.name);
  if (ofDomain?.size === 0) store.usersByDomain.delete(username.domain ?? '');
}

function passwordHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

function limitsOf(map: Map<string, QuotaLimits>, key: string): QuotaLimits {
  return entryOf(map, key, () => ({ count: null, size: null }));
}

function mailboxesOf(store: Store, username: string): Map<string, Mailbox> {
  return entryOf(store.mailboxes, username, () => store.newMap());
}

/** Creates a mailbox and its missing parents (`INBOX.work` creates `INBOX`); the hierarchy delimiter is `.`. */
function createMailbox(store: Store, username: string, name: string): Mailbox {
  const mailboxes = mailboxesOf(store, username);
  const parts = name.split('.');
  let created: Mailbox | undefined;
  for (let depth = 1; depth <= parts.length; depth += 1) {
    const path = parts.slice(0, depth).join('.');
    created = mailboxes.get(path);
    if (created === undefined) {
      created = { id: String(store.nextMailboxId++), messageCount: 0, size: 0 };
      mailboxes.set(path, created);
    }
  }
  return created as Mailbox;
}

/** What a user's mailboxes hold: the quota "occupation". */
function usageOf(store: Store, username: string): { count: number; size: number } {
  let count = 0;
  let size = 0;
  for (const mailbox of store.mailboxes.get(username)?.values() ?? []) {
    count += mailbox.messageCount;
    size += mailbox.size;
  }
  return { count, size };
}

// ---------------------------------------------------------------------------------------------------------------
// The recipient rewrite table (AbstractRecipientRewriteTable + MemoryRecipientRewriteTable)

const MAPPING_PREFIX: Readonly<Record<MappingType, string>> = {
  Regex: 'regex:', Domain: 'domain:', DomainAlias: 'domainAlias:', Error: 'error:',
  Forward: 'forward:', Group: 'group:', Alias: 'alias:', Address: '',
};
const MAPPING_ORDER: Readonly<Record<MappingType, number>> = {
  Domain: 1, DomainAlias: 1, Group: 2, Forward: 3, Alias: 3, Regex: 4, Error: 4, Address: 4,
};

function mappingAsString(mapping: JamesMapping): string {
  return MAPPING_PREFIX[mapping.type] + mapping.mapping;
}

/** James sorts a source's mappings by type order, then by their prefixed string. */
function compareMappings(a: JamesMapping, b: JamesMapping): number {
  const [left, right] = [mappingAsString(a), mappingAsString(b)];
  return MAPPING_ORDER[a.type] - MAPPING_ORDER[b.type] || (left < right ? -1 : left > right ? 1 : 0);
}

/** A copy of a stored mapping and its place in MemoryRecipientRewriteTable's list. */
interface StoredCopy extends JamesMapping {
  readonly sequence: number;
}

/** The copies of a source's mappings whose type passes `keep`, in no particular order. */
function copiesOf(mappings: SourceMappings | undefined, keep: (type: MappingType) => boolean = () => true): StoredCopy[] {
  const copies: StoredCopy[] = [];
  for (const [type, values] of mappings ?? []) {
    if (!keep(type)) continue;
    for (const [mapping, sequences] of values) for (const sequence of sequences) copies.push({ type, mapping, sequence });
  }
  return copies;
}

/** The order of getStoredMappings: James's sort, stable over the list's order. */
function byStoredOrder(a: StoredCopy, b: StoredCopy): number {
  return compareMappings(a, b) || a.sequence - b.sequence;
}

function storedMappings(store: Store, source: string): JamesMapping[] {
  return copiesOf(store.mappings.bySource.get(source)).sort(byStoredOrder).map(({ type, mapping }) => ({ type, mapping }));
}

/** The values of a source's mappings of one type, a duplicate repeated, sorted. */
function storedValues(store: Store, source: string, type: MappingType): string[] {
  const values: string[] = [];
  for (const [value, sequences] of store.mappings.bySource.get(source)?.get(type) ?? []) {
    for (let copy = 0; copy < sequences.length; copy += 1) values.push(value);
  }
  return values.sort();
}

/** The copies of one mapping (their sequence numbers, oldest first), if stored. */
function copiesOfMapping(store: Store, source: string, type: MappingType, value: string): readonly number[] | undefined {
  return store.mappings.bySource.get(source)?.get(type)?.get(value);
}

function hasMapping(store: Store, source: string, type: MappingType, value: string): boolean {
  return copiesOfMapping(store, source, type, value) !== undefined;
}

/** Appends to the table without a duplicate check, like MemoryRecipientRewriteTable.addMapping. */
function addMapping(store: Store, source: string, type: MappingType, value: string): void {
  const table = store.mappings;
  const ofSource = entryOf(table.bySource, source, () => store.newMap<MappingType, Map<string, number[]>>());
  const values = entryOf(ofSource, type, () => {
    entryOf(table.sourcesByType, type, () => store.newSet<string>()).add(source);
    return store.newMap<string, number[]>();
  });
  const sequences = entryOf(values, value, () => {
    const byValue = entryOf(table.sourcesByValue, type, () => store.newMap<string, Set<string>>());
    entryOf(byValue, value, () => store.newSet<string>()).add(source);
    return [];
  });
  sequences.push(table.nextSequence);
  table.nextSequence += 1;
}

/** Forgets that `source` maps to `value` with `type` (its last copy is gone). */
function unindexMapping(table: MappingTable, source: string, type: MappingType, value: string): void {
  const byValue = table.sourcesByValue.get(type);
  const sources = byValue?.get(value);
  sources?.delete(source);
  if (sources?.size === 0) byValue?.delete(value);
}

/** Removes one matching entry, the oldest (List.remove), so one of two duplicate domain aliases survives. */
function removeMapping(store: Store, source: string, type: MappingType, value: string): void {
  const table = store.mappings;
  const ofSource = table.bySource.get(source);
  const values = ofSource?.get(type);
  const sequences = values?.get(value);
  if (ofSource === undefined || values === undefined || sequences === undefined) return;
  sequences.shift();
  if (sequences.length > 0) return;
  values.delete(value);
  unindexMapping(table, source, type, value);
  if (values.size > 0) return;
  ofSource.delete(type);
  table.sourcesByType.get(type)?.delete(source);
  if (ofSource.size === 0) table.bySource.delete(source);
}

/** Removes every mapping of `source` (a deleted domain loses its domain aliases). */
function removeSource(store: Store, source: string): void {
  const table = store.mappings;
  const ofSource = table.bySource.get(source);
  if (ofSource === undefined) return;
  for (const [type, values] of ofSource) {
    for (const value of values.keys()) unindexMapping(table, source, type, value);
    table.sourcesByType.get(type)?.delete(source);
  }
  table.bySource.delete(source);
}

/** Sources holding at least one mapping of `type`, sorted (getSourcesForType). */
function sourcesWithType(store: Store, type: MappingType): string[] {
  return [...store.mappings.sourcesByType.get(type) ?? []].sort();
}

/** The sources mapping to `value` with `type`, each once, in no particular order. */
function sourcesMappingTo(store: Store, type: MappingType, value: string): string[] {
  return [...store.mappings.sourcesByValue.get(type)?.get(value) ?? []];
}

/** getAllMappings: every source, in the order its oldest mapping entered the list, with its sorted mappings. */
function allMappings(store: Store): Record<string, JamesMapping[]> {
  const sources = [...store.mappings.bySource].map(([source, mappings]) => {
    let oldest = Infinity;
    for (const values of mappings.values()) for (const sequences of values.values()) oldest = Math.min(oldest, sequences[0] ?? Infinity);
    return { source, oldest };
  });
  const bySource: Record<string, JamesMapping[]> = {};
  for (const { source } of sources.sort((a, b) => a.oldest - b.oldest)) bySource[source] = storedMappings(store, source);
  return bySource;
}

/**
 * getResolvedMappings: the addresses `address` ends at after following the table (leaves only, like James,
 * at most 10 hops). A user's own mappings win over its domain's (domain aliases).
 */
function resolvedAddresses(store: Store, address: string, hopsLeft = 10): string[] {
  if (hopsLeft === 0) return [];
  const at = address.lastIndexOf('@');
  const localPart = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  // Only which addresses are reached matters to the callers, so the mappings need no sorting.
  const own = copiesOf(store.mappings.bySource.get(sourceOf(address)));
  const mappings = own.length > 0 ? own : copiesOf(store.mappings.bySource.get(domain));
  const leaves: string[] = [];
  for (const mapping of mappings) {
    let rewritten: string;
    if (mapping.type === 'Domain' || mapping.type === 'DomainAlias') rewritten = `${localPart}@${mapping.mapping}`;
    else if (mapping.type === 'Regex' || mapping.type === 'Error') continue;
    else rewritten = mapping.mapping;
    if (sourceOf(rewritten) === sourceOf(address)) {
      leaves.push(rewritten);
      continue;
    }
    const further = resolvedAddresses(store, rewritten, hopsLeft - 1);
    leaves.push(...(further.length > 0 ? further : [rewritten]));
  }
  return leaves;
}

/** assertNoLoop: would `source → value` make mail for `source` come back to it? */
function assertNoLoop(store: Store, source: string, type: MappingType, value: string): void {
  if (resolvedAddresses(store, value).some((address) => sourceOf(address) === source)) {
    const redirection = `${source} to ${MAPPING_PREFIX[type]}${value}`;
    halt(409, 'WrongState', `Creation of redirection of ${redirection} would lead to a loop, operation not performed`);
  }
}

/**
 * RecipientRewriteTableUserEntityValidator: why `address` cannot become a user, an alias source or a group, if it
 * already is the source of other mappings. `ignored` is the type the caller is about to add.
 * The rewrite table itself uses only this check (its configure() replaces the injected validator), so an alias
 * or group source may be an existing user: seen on 3.8.1, where `PUT /address/aliases/u/sources/<user>` is 204.
 */
function mappingConflict(store: Store, address: string, ignored?: MappingType): string | undefined {
  // The first other mapping in stored order, found without sorting (nor reading) the `ignored` ones: a big group
  // gains a member at a constant cost.
  const others = copiesOf(store.mappings.bySource.get(address), (type) => type !== ignored);
  const mapping = others.reduce<StoredCopy | undefined>(
    (first, candidate) => (first === undefined || byStoredOrder(candidate, first) < 0 ? candidate : first), undefined);
  return mapping === undefined ? undefined : `'${address}' already have associated mappings: ${mappingAsString(mapping)}`;
}

function assertSourceDomainManaged(store: Store, source: string): void {
  const domain = source.slice(source.lastIndexOf('@') + 1);
  if (!store.domains.has(domain)) {
    halt(400, 'InvalidArgument', `Source domain '${domain}' is not managed by the domainList`);
  }
}

/** AliasRoutes.addAlias → addAliasMapping, with the checks in James's order. */
function addAlias(store: Store, source: string, destination: string): void {
  if (hasMapping(store, source, 'Alias', destination)) return;
  const conflict = mappingConflict(store, source, 'Alias');
  if (conflict !== undefined) halt(409, 'WrongState', conflict);
  if (source === destination) halt(400, 'InvalidArgument', "Source and destination can't be the same!");
  assertSourceDomainManaged(store, source);
  assertNoLoop(store, source, 'Alias', destination);
  addMapping(store, source, 'Alias', destination);
}

/** ForwardRoutes → addForwardMapping (no same-address check: a forward to oneself keeps a local copy). */
function addForward(store: Store, source: string, destination: string): void {
  if (hasMapping(store, source, 'Forward', destination)) {
    throw new Error(`Mapping forward:${destination} for ${source} already exist!`);
  }
  assertSourceDomainManaged(store, source);
  assertNoLoop(store, source, 'Forward', destination);
  addMapping(store, source, 'Forward', destination);
}

/** GroupsRoutes → addGroupMapping. */
function addGroupMember(store: Store, group: string, member: string): void {
  const conflict = mappingConflict(store, group, 'Group');
  if (conflict !== undefined) halt(409, 'WrongState', conflict);
  if (hasMapping(store, group, 'Group', member)) return;
  assertSourceDomainManaged(store, group);
  assertNoLoop(store, group, 'Group', member);
  addMapping(store, group, 'Group', member);
}

// ---------------------------------------------------------------------------------------------------------------
// The username change task (UsernameChangeTask and its steps) and a serial task manager (MemoryTaskManager)

interface RenameStep {
  readonly name: string;
  readonly priority: number;
  readonly run: (store: Store, oldUser: string, newUser: string) => void;
}

/** ForwardUsernameChangeTaskStep: moves old's forwards to new, then forwards old to new. */
function moveForwards(store: Store, oldUser: string, newUser: string): void {
  for (const destination of storedValues(store, oldUser, 'Forward')) {
    addForward(store, newUser, destination === oldUser ? newUser : destination);
    removeMapping(store, oldUser, 'Forward', destination);
  }
  addForward(store, oldUser, newUser);
}

/** MailboxUsernameChangeTaskStep: renames every mailbox; one that exists on both sides is merged. */
function moveMailboxes(store: Store, oldUser: string, newUser: string): void {
  const from = store.mailboxes.get(oldUser);
  if (from === undefined) return;
  const to = mailboxesOf(store, newUser);
  for (const [name, mailbox] of from) {
    const existing = to.get(name);
    to.set(name, existing === undefined ? mailbox : {
      id: mailbox.id,
      messageCount: mailbox.messageCount + existing.messageCount,
      size: mailbox.size + existing.size,
    });
  }
  from.clear();
}

/** QuotaUsernameChangeTaskStep: copies old's user-level limits onto new (old keeps its own). */
function copyUserQuota(store: Store, oldUser: string, newUser: string): void {
  const old = store.userQuotas.get(oldUser);
  if (old === undefined) return;
  const target = limitsOf(store.userQuotas, newUser);
  if (old.count !== null) target.count = old.count;
  if (old.size !== null) target.size = old.size;
}

function nothingToMove(): void {}

const RENAME_STEPS: readonly RenameStep[] = [
  { name: 'ForwardUsernameChangeTaskStep', priority: 0, run: moveForwards },
  { name: 'DelegationUsernameChangeTaskStep', priority: 1, run: nothingToMove },
  { name: 'MailboxUsernameChangeTaskStep', priority: 2, run: moveMailboxes },
  { name: 'ACLUsernameChangeTaskStep', priority: 3, run: nothingToMove },
  { name: 'QuotaUsernameChangeTaskStep', priority: 3, run: copyUserQuota },
  { name: 'FilterUsernameChangeTaskStep', priority: 4, run: nothingToMove },
];

const FINISHED: ReadonlySet<TaskStatus> = new Set(['completed', 'canceled', 'failed']);

interface TaskManager {
  submitRename(oldUser: string, newUser: string, fromStep: string | null): Task;
  cancel(task: Task): void;
  /** Resolves true once the task is finished, false on timeout or when `signal` aborts. */
  awaitTask(task: Task, timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  close(): void;
}

/** One task at a time, like the memory app's SerialTaskManagerWorker; steps share `durationMs`. */
function createTaskManager(store: Store, durationMs: number, node: string): TaskManager {
  const queue: Task[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let running: Task | undefined;
  const stepDelayMs = durationMs / RENAME_STEPS.length;

  function later(delayMs: number, action: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, delayMs);
    timers.add(timer);
    return timer;
  }

  function setStatus(task: Task, status: TaskStatus): void {
    task.status = status;
    task.statusHistory.push(status);
  }

  function finish(task: Task, status: 'completed' | 'canceled' | 'failed'): void {
    setStatus(task, status);
    const now = new Date();
    if (status === 'completed') task.completedDate = now;
    else if (status === 'canceled') task.canceledDate = now;
    else task.failedDate = now;
    for (const wake of task.waiters) wake();
    task.waiters.clear();
    if (running === task) running = undefined;
    startNext();
  }

  function runStep(task: Task, pending: readonly RenameStep[], index: number): void {
    const step = pending[index];
    if (step === undefined) {
      finish(task, 'completed');
      return;
    }
    task.steps.set(step.name, 'IN_PROGRESS');
    task.timer = later(stepDelayMs, () => {
      try {
        step.run(store, task.oldUser, task.newUser);
      } catch {
        task.steps.set(step.name, 'FAILED');
        for (const [name, state] of task.steps) if (state === 'WAITING') task.steps.set(name, 'ABORTED');
        finish(task, 'failed');
        return;
      }
      task.steps.set(step.name, 'DONE');
      runStep(task, pending, index + 1);
    });
  }

  function startNext(): void {
    if (running !== undefined) return;
    const task = queue.shift();
    if (task === undefined) return;
    if (task.status === 'canceledRequested') {
      finish(task, 'canceled');
      return;
    }
    running = task;
    setStatus(task, 'inProgress');
    task.startedDate = new Date();
    task.executedOn = node;
    const skipBelow = RENAME_STEPS.find((step) => step.name === task.fromStep)?.priority ?? 0;
    for (const step of RENAME_STEPS) if (step.priority < skipBelow) task.steps.set(step.name, 'SKIPPED');
    runStep(task, RENAME_STEPS.filter((step) => step.priority >= skipBelow), 0);
  }

  return {
    submitRename(oldUser, newUser, fromStep) {
      const task: Task = {
        taskId: randomUUID(),
        type: 'UsernameChangeTask',
        status: 'waiting',
        statusHistory: ['waiting'],
        submitDate: new Date(),
        executedOn: null,
        cancelledFrom: null,
        oldUser,
        newUser,
        fromStep,
        steps: new Map(RENAME_STEPS.map((step) => [step.name, 'WAITING'])),
        waiters: new Set(),
      };
      store.tasks.set(task.taskId, task);
      queue.push(task);
      // Starts on the next turn, so the 201 always goes out while the task is still waiting or just started.
      later(0, startNext);
      return task;
    },
    /**
     * A running task stops at once (its current step is not applied); a waiting one stays `canceledRequested`
     * until the serial worker reaches it, as seen on 3.8.1. Both carry a canceledDate from the request on.
     */
    cancel(task) {
      if (task.status !== 'waiting' && task.status !== 'inProgress') return;
      const wasRunning = task.status === 'inProgress';
      setStatus(task, 'canceledRequested');
      task.cancelledFrom = node;
      task.canceledDate = new Date();
      if (wasRunning) {
        if (task.timer !== undefined) clearTimeout(task.timer);
        later(0, () => finish(task, 'canceled'));
      }
    },
    awaitTask(task, timeoutMs, signal) {
      if (FINISHED.has(task.status)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const settle = (finished: boolean): void => {
          clearTimeout(timer);
          task.waiters.delete(wake);
          signal.removeEventListener('abort', abort);
          resolve(finished);
        };
        const wake = (): void => settle(true);
        const abort = (): void => settle(false);
        // Node timers hold at most ~24.8 days; a longer wait simply has no timer.
        const timer = timeoutMs <= 2_147_483_647 ? setTimeout(() => settle(false), timeoutMs) : undefined;
        task.waiters.add(wake);
        signal.addEventListener('abort', abort, { once: true });
      });
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

/** `yyyy-MM-dd'T'HH:mm:ss.SSSZ` in UTC, as ExecutionDetailsDto writes dates. */
function taskDate(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** ExecutionDetailsDto: absent dates are omitted; executedOn / cancelledFrom are null until known. */
function taskReport(task: Task): Record<string, unknown> {
  return {
    taskId: task.taskId,
    type: task.type,
    status: task.status,
    submittedFrom: hostname(),
    executedOn: task.executedOn,
    cancelledFrom: task.cancelledFrom,
    additionalInformation: {
      type: task.type,
      oldUser: task.oldUser,
      newUser: task.newUser,
      status: Object.fromEntries(task.steps),
      fromStep: task.fromStep,
      timestamp: new Date().toISOString(),
    },
    submitDate: taskDate(task.submitDate),
    ...(task.startedDate && { startedDate: taskDate(task.startedDate) }),
    ...(task.completedDate && { completedDate: taskDate(task.completedDate) }),
    ...(task.canceledDate && { canceledDate: taskDate(task.canceledDate) }),
    ...(task.failedDate && { failedDate: taskDate(task.failedDate) }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Request plumbing

interface Call {
  readonly request: EmulatorRequest;
  readonly query: URLSearchParams;
  /** A path parameter of the matched route. */
  param(name: string): string;
}

type Handler = (call: Call) => EmulatorResponse | Promise<EmulatorResponse>;

/**
 * The request body as James reads it. Sent as a form (curl's default content type) it arrives empty: Jetty has
 * consumed it as form parameters. Any other content type, or none, is read as sent (seen on 3.8.1).
 */
function bodyText(request: EmulatorRequest): string {
  const contentType = request.headers['content-type'] ?? '';
  return /^application\/x-www-form-urlencoded\s*(?:;|$)/i.test(contentType) ? '' : request.body.toString('utf8');
}

function invalidJson(details: string): never {
  return halt(400, 'InvalidArgument', 'JSON payload of the request is not valid', details);
}

/** JsonExtractor: Jackson, which rejects unknown properties. */
function readJsonObject(request: EmulatorRequest, allowed: readonly string[]): Record<string, unknown> {
  const text = bodyText(request);
  if (text.trim() === '') invalidJson('No content to map due to end-of-input\n at [Source: (String)""; line: 1, column: 0]');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    invalidJson(error instanceof Error ? error.message : String(error));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidJson('Cannot deserialize value: expected a JSON object');
  }
  const object = value as Record<string, unknown>;
  const unknown = Object.keys(object).find((key) => !allowed.includes(key));
  if (unknown !== undefined) invalidJson(`Unrecognized field "${unknown}", not marked as ignorable`);
  return object;
}

function usernameParam(raw: string): Username {
  try {
    return parseUsername(raw);
  } catch (error) {
    if (error instanceof InvalidName) invalidArguments(error.message);
    throw error;
  }
}

/** MailAddressParser: `kind` is how James names the address in its message ("alias", "group member"…). */
function addressParam(raw: string, kind: string): string {
  try {
    return parseMailAddress(decodeAgain(raw));
  } catch (error) {
    if (error instanceof InvalidName) halt(400, 'InvalidArgument', `The ${kind} is not an email address`, error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Endpoint groups

function healthEndpoints() {
  // The checks of james-server-memory-app 3.8.1 (seen on the real server).
  const checks = ['Guice application lifecycle', 'MailReceptionCheck', 'EventDeadLettersHealthCheck',
    'EmptyErrorMailRepository', 'MessageFastViewProjection'];
  const result = (name: string) => ({
    componentName: name, escapedComponentName: encodeURIComponent(name), status: 'healthy', cause: null,
  });
  return {
    check: () => json({ status: 'healthy', checks: checks.map(result) }),
    list: () => json(checks.map((name) => ({ componentName: name, escapedComponentName: encodeURIComponent(name) }))),
    checkOne: (call: Call) => {
      const name = call.param('component');
      if (!checks.includes(name)) halt(404, 'notFound', `Component with name ${name} cannot be found`);
      return json(result(name));
    },
  };
}

function domainEndpoints(store: Store) {
  /** DomainsRoutes.checkValidDomain: the message says "creation" whatever the method. */
  const domainParam = (raw: string): string => {
    try {
      return parseDomain(raw);
    } catch (error) {
      if (error instanceof InvalidName) halt(400, 'InvalidArgument', `Invalid request for domain creation ${raw}`, error.message);
      throw error;
    }
  };
  const notInList = (domain: string): never => halt(404, 'InvalidArgument', `The domain list does not contain: ${domain}`);
  /** The alias domains of `domain`, each once, in the order their oldest alias entered the table. */
  const aliasSources = (domain: string): string[] => sourcesMappingTo(store, 'DomainAlias', domain)
    .map((source) => ({ source, oldest: copiesOfMapping(store, source, 'DomainAlias', domain)?.[0] ?? 0 }))
    .sort((a, b) => a.oldest - b.oldest)
    .map(({ source }) => source);
  /** DomainAliasService: the alias (source) domain must be managed; the destination need not be. */
  const aliasPair = (call: Call): { source: string; destination: string } => {
    const source = domainParam(call.param('source'));
    const destination = domainParam(call.param('domain'));
    if (!store.domains.has(source)) notInList(source);
    if (source === destination) {
      halt(400, 'InvalidArgument', `Source domain and destination domain can not have same value(${source})`);
    }
    return { source, destination };
  };

  return {
    list: () => json([...store.domains]),
    exists: (call: Call) => {
      const domain = domainParam(call.param('domain'));
      return store.domains.has(domain) ? empty() : notInList(domain);
    },
    create: (call: Call) => {
      store.domains.add(domainParam(call.param('domain')));
      return empty();
    },
    remove: (call: Call) => {
      const domain = domainParam(call.param('domain'));
      if (domain === store.defaultDomain) {
        halt(400, 'InvalidArgument', 'Can not remove domain', `${domain} is autodetected and cannot be removed`);
      }
      if (store.domains.delete(domain)) removeSource(store, domain);
      return empty();
    },
    listAliases: (call: Call) => {
      const domain = domainParam(call.param('domain'));
      const sources = aliasSources(domain);
      if (!store.domains.has(domain) && sources.length === 0) {
        halt(404, 'InvalidArgument', `The following domain is not in the domain list and has no registered local aliases: ${domain}`);
      }
      return json(sources.map((source) => ({ source })));
    },
    /** DomainAliasService calls addMapping directly: a second PUT stores a duplicate (seen on 3.8.1). */
    addAlias: (call: Call) => {
      const { source, destination } = aliasPair(call);
      addMapping(store, source, 'DomainAlias', destination);
      return empty();
    },
    removeAlias: (call: Call) => {
      const { source, destination } = aliasPair(call);
      removeMapping(store, source, 'DomainAlias', destination);
      return empty();
    },
  };
}

function userEndpoints(store: Store, tasks: TaskManager) {
  /** UsersRepositoryImpl.assertValid, with virtual hosting on. */
  const assertValidUser = (username: Username): void => {
    const invalid = (details: string): never => halt(400, 'InvalidArgument', 'Username supplied is invalid', details);
    if (username.domain === undefined) invalid('Given Username needs to contain a @domainpart');
    else if (!store.domains.has(username.domain)) invalid('Domain does not exist in DomainList');
    if (/["(),:; <>@[\\\]]/.test(username.localPart)) {
      invalid(`Given Username '${username.name}' should not contain any of those characters: "(),:; <>@[\\]`);
    }
  };
  const readPassword = (request: EmulatorRequest): string => {
    const { password } = readJsonObject(request, ['password']);
    if (typeof password !== 'string') invalidJson('Cannot construct instance of `AddUserRequest`: password is required');
    return password;
  };

  return {
    list: () => json([...store.users.keys()].map((username) => ({ username }))),
    exists: (call: Call) => empty(store.users.has(usernameParam(call.param('user')).name) ? 200 : 404),
    /** PUT creates (409 if present); PUT ?force creates or changes the password. */
    upsert: (call: Call) => {
      const username = usernameParam(call.param('user'));
      const password = readPassword(call.request);
      if (!(call.query.has('force') && store.users.has(username.name))) {
        // UsersRepositoryImpl validates with both DefaultUserEntityValidator and the rewrite table's.
        const conflict = store.users.has(username.name)
          ? `'${username.name}' user already exist`
          : mappingConflict(store, username.name);
        if (conflict !== undefined) halt(409, 'WrongState', conflict, conflict);
      }
      assertValidUser(username);
      putUser(store, username, passwordHash(password));
      return empty();
    },
    /** 204 whether or not the user existed; mailboxes, mappings and quotas stay. */
    remove: (call: Call) => {
      deleteUser(store, usernameParam(call.param('user')));
      return empty();
    },
    verify: (call: Call) => {
      const username = usernameParam(call.param('user')).name;
      let password: string;
      try {
        password = readPassword(call.request);
      } catch (error) {
        if (error instanceof Halt) halt(400, 'InvalidArgument', 'Error while deserializing verifyUser request');
        throw error;
      }
      return empty(store.users.get(username) === passwordHash(password) ? 204 : 401);
    },
    /** UsernameChangeRoutes: POST /users/{old}/rename/{new}?action=rename starts a task. */
    rename: (call: Call) => {
      const action = call.query.get('action');
      const supported = 'Supported values are [rename]';
      if (action === null) invalidArguments(`'action' query parameter is compulsory. ${supported}`);
      if (action.trim() === '') invalidArguments(`'action' query parameter cannot be empty or blank. ${supported}`);
      if (action !== 'rename') invalidArguments(`Invalid value supplied for query parameter 'action': ${action}. ${supported}`);
      const oldUser = usernameParam(call.param('oldUser')).name;
      const newUser = usernameParam(call.param('newUser')).name;
      if (!store.users.has(oldUser)) invalidArguments("'oldUser' parameter should be an existing user");
      if (!store.users.has(newUser)) invalidArguments("'newUser' parameter should be an existing user");
      const fromStep = call.query.get('fromStep');
      if (fromStep !== null && !RENAME_STEPS.some((step) => step.name === fromStep)) {
        invalidArguments(`Starting step not found: ${fromStep}`);
      }
      const task = tasks.submitRename(oldUser, newUser, fromStep);
      return json({ taskId: task.taskId }, 201, { location: `/tasks/${task.taskId}` });
    },
  };
}

function mailboxEndpoints(store: Store) {
  /** UserMailboxesService.usernamePreconditions; the 404 message depends on the route, as in James. */
  const ownerOf = (call: Call, message: string): string => {
    const username = usernameParam(call.param('user')).name;
    if (!store.users.has(username)) halt(404, 'notFound', message, 'User does not exist');
    return username;
  };
  /** MailboxPath.assertAcceptable with `.` as delimiter; details name the full path (`#private:user:name`). */
  const mailboxName = (call: Call, message: string): string => {
    const name = call.param('mailbox');
    const path = `#private:${usernameParam(call.param('user')).name}:${name}`;
    const reject = (details: string): never => halt(400, 'InvalidArgument', message, details);
    if (name.replace(/\s/g, '').split('.').some((part) => part === '')) {
      reject(`'${path}' has an empty part within its mailbox name considering . as a delimiter`);
    }
    if (/[%*]/.test(name) || name.startsWith('#')) reject(`${path} contains one of the forbidden characters %* or starts with #`);
    if (name.length > 200) reject('Mailbox name exceeds maximum size of 200 characters');
    return name;
  };

  return {
    list: (call: Call) => {
      const username = ownerOf(call, 'Invalid get on user mailboxes');
      const mailboxes = [...(store.mailboxes.get(username) ?? new Map<string, Mailbox>())].sort(([a], [b]) => (a < b ? -1 : 1));
      return json(mailboxes.map(([mailboxName, mailbox]) => ({ mailboxName, mailboxId: mailbox.id })));
    },
    create: (call: Call) => {
      const username = ownerOf(call, 'Invalid get on user mailboxes');
      createMailbox(store, username, mailboxName(call, 'Attempt to create an invalid mailbox'));
      return empty();
    },
    exists: (call: Call) => {
      const username = ownerOf(call, 'Invalid get on user mailboxes');
      const name = mailboxName(call, 'Attempt to test existence of an invalid mailbox');
      return store.mailboxes.get(username)?.has(name) ? empty() : halt(404, 'notFound', 'Mailbox does not exist');
    },
    messageCount: (call: Call) => {
      const username = ownerOf(call, 'Invalid get on user mailboxes');
      const name = mailboxName(call, 'Attempt to test existence of an invalid mailbox');
      const mailbox = store.mailboxes.get(username)?.get(name);
      if (mailbox === undefined) halt(404, 'notFound', 'Invalid get on user mailboxes', `${name} can not be found`);
      return json(mailbox.messageCount);
    },
    /** Deletes the mailbox and its children; 204 when it does not exist. */
    remove: (call: Call) => {
      const username = ownerOf(call, 'Invalid delete on user mailboxes');
      const name = mailboxName(call, 'Attempt to delete an invalid mailbox');
      const mailboxes = store.mailboxes.get(username);
      for (const candidate of [...(mailboxes?.keys() ?? [])]) {
        if (candidate === name || candidate.startsWith(`${name}.`)) mailboxes?.delete(candidate);
      }
      return empty();
    },
    removeAll: (call: Call) => {
      store.mailboxes.get(ownerOf(call, 'Invalid delete on user mailboxes'))?.clear();
      return empty();
    },
  };
}

type QuotaField = 'count' | 'size';

function quotaEndpoints(store: Store) {
  const invalidQuota = (details: string | null = null): never =>
    halt(400, 'InvalidArgument', 'Invalid quota. Need to be an integer value greater or equal to -1', details);

  /** Quotas.quotaCount / quotaSize: a bare number, -1 for unlimited. */
  const parseQuotaNumber = (text: string): number => {
    if (!/^[+-]?\d+$/.test(text)) invalidQuota(`For input string: "${text}"`);
    const value = Number(text);
    if (value < -1 || !Number.isSafeInteger(value)) invalidQuota();
    return value;
  };
  /**
   * QuotaDTO: `{"count": n|null, "size": n|null}`; an absent field is unset too. Jackson coerces as on 3.8.1:
   * 1.5 is taken as 1 and "12" as 12.
   */
  const parseQuotaObject = (request: EmulatorRequest): QuotaLimits => {
    const object = readJsonObject(request, ['count', 'size']);
    const field = (value: unknown): QuotaValue => {
      if (value === undefined || value === null) return null;
      const number = typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof number !== 'number') invalidJson(`Cannot deserialize value of type \`long\` from ${JSON.stringify(value)}`);
      const whole = Math.trunc(number);
      if (!Number.isSafeInteger(whole) || whole < -1) invalidQuota('Quota limit should be positive');
      return whole;
    };
    return { count: field(object['count']), size: field(object['size']) };
  };

  const domainLimits = (call: Call): QuotaLimits => {
    let domain: string;
    try {
      domain = parseDomain(call.param('domain'));
    } catch (error) {
      if (error instanceof InvalidName) halt(400, 'InvalidArgument', 'Invalid domain', error.message);
      throw error;
    }
    if (!store.domains.has(domain)) halt(404, 'notFound', 'Domain not found');
    return limitsOf(store.domainQuotas, domain);
  };
  const userOf = (call: Call): string => {
    const username = usernameParam(decodeAgain(call.param('user'))).name;
    if (!store.users.has(username)) halt(404, 'notFound', 'User not found');
    return username;
  };
  type Scope = (call: Call) => QuotaLimits;
  const scopes: Readonly<Record<'global' | 'domain' | 'user', Scope>> = {
    global: () => store.globalQuota,
    domain: domainLimits,
    user: (call) => limitsOf(store.userQuotas, userOf(call)),
  };

  const ratio = (used: number, limit: QuotaValue): number => (limit === null || limit === -1 ? 0 : used / limit);
  const orNull = (limits: QuotaLimits | undefined): QuotaLimits | null =>
    limits === undefined || (limits.count === null && limits.size === null) ? null : { ...limits };

  /** UserQuotaService.getQuota: an unset scope is null; computed takes user, then domain, then global, per field. */
  const userDetail = (username: string) => {
    const global = store.globalQuota;
    const domain = store.domainQuotas.get(username.slice(username.lastIndexOf('@') + 1));
    const user = store.userQuotas.get(username);
    const computed: QuotaLimits = {
      count: user?.count ?? domain?.count ?? global.count,
      size: user?.size ?? domain?.size ?? global.size,
    };
    const used = usageOf(store, username);
    const sizeRatio = ratio(used.size, computed.size);
    const countRatio = ratio(used.count, computed.count);
    return {
      global: orNull(global),
      domain: orNull(domain),
      user: orNull(user),
      computed,
      occupation: {
        size: used.size,
        count: used.count,
        ratio: { size: sizeRatio, count: countRatio, max: Math.max(sizeRatio, countRatio) },
      },
    };
  };

  /** ParametersExtractor: positive numbers, limit not zero. */
  const numberParam = (call: Call, name: string, integer: boolean): number | undefined => {
    const raw = call.query.get(name);
    if (raw === null || raw === '') return undefined;
    const value = Number(raw);
    if (raw.trim() === '' || Number.isNaN(value) || (integer && !Number.isInteger(value))) {
      halt(400, 'InvalidArgument', `Can not parse ${name}`, `For input string: "${raw}"`);
    }
    if (value < 0) halt(400, 'InvalidArgument', `${name} can not be negative`);
    return value;
  };

  return {
    scopes,
    showGlobal: () => json({ ...store.globalQuota }),
    showDomain: (call: Call) => {
      const domain = domainLimits(call);
      const global = store.globalQuota;
      return json({
        global: { ...global },
        domain: { ...domain },
        computed: { count: domain.count ?? global.count, size: domain.size ?? global.size },
      });
    },
    showUser: (call: Call) => json(userDetail(userOf(call))),
    /** PUT of the whole object: both fields are replaced, a missing one is unset. */
    replace: (scope: Scope) => (call: Call) => {
      const limits = scope(call);
      Object.assign(limits, parseQuotaObject(call.request));
      return empty();
    },
    /** 204 when unset. For a user the value is the resolved one (user, else domain, else global), as on 3.8.1. */
    showField: (scope: Scope) => (call: Call) => {
      const field = call.param('field') as QuotaField;
      const value = scope === scopes.user ? userDetail(userOf(call)).computed[field] : scope(call)[field];
      return value === null ? empty() : json(value);
    },
    setField: (scope: Scope) => (call: Call) => {
      const limits = scope(call);
      limits[call.param('field') as QuotaField] = parseQuotaNumber(bodyText(call.request));
      return empty();
    },
    unsetField: (scope: Scope) => (call: Call) => {
      scope(call)[call.param('field') as QuotaField] = null;
      return empty();
    },
    /** GET /quota/users?domain=&minOccupationRatio=&maxOccupationRatio=&limit=&offset=, by username. */
    searchUsers: (call: Call) => {
      const min = numberParam(call, 'minOccupationRatio', false);
      const max = numberParam(call, 'maxOccupationRatio', false);
      const limit = numberParam(call, 'limit', true);
      if (limit === 0) halt(400, 'InvalidArgument', 'limit can not be equal to zero');
      const offset = numberParam(call, 'offset', true) ?? 0;
      const rawDomain = call.query.get('domain');
      let domain: string | undefined;
      try {
        domain = rawDomain === null ? undefined : parseDomain(rawDomain);
      } catch (error) {
        if (error instanceof InvalidName) invalidArguments(error.message);
        throw error;
      }
      const usernames = domain === undefined ? store.users.keys() : store.usersByDomain.get(domain) ?? [];
      const matching = [...usernames]
        .sort()
        .map((username) => ({ username, detail: userDetail(username) }))
        .filter(({ detail }) => (min === undefined || detail.occupation.ratio.max >= min)
          && (max === undefined || detail.occupation.ratio.max <= max));
      return json(matching.slice(offset, limit === undefined ? undefined : offset + limit));
    },
  };
}

function addressEndpoints(store: Store) {
  return {
    allMappings: () => json(allMappings(store)),
    userMappings: (call: Call) => json(storedMappings(store, usernameParam(call.param('user').toLowerCase()).name)),

    aliasDestinations: () => json([...store.mappings.sourcesByValue.get('Alias')?.keys() ?? []].sort()),
    aliasesOf: (call: Call) => {
      const destination = addressParam(call.param('user'), 'alias');
      const sources = sourcesMappingTo(store, 'Alias', destination)
        .flatMap((source) => Array.from(copiesOfMapping(store, source, 'Alias', destination) ?? [], () => source))
        .sort();
      return json(sources.map((source) => ({ source })));
    },
    addAlias: (call: Call) => {
      const source = sourceOf(addressParam(call.param('alias'), 'alias'));
      const destination = addressParam(call.param('user'), 'alias');
      if (!store.domains.has(destination.slice(destination.lastIndexOf('@') + 1))) {
        halt(400, 'InvalidArgument', 'Domain in the destination is not managed by the DomainList');
      }
      addAlias(store, source, destination);
      return empty();
    },
    removeAlias: (call: Call) => {
      const destination = addressParam(call.param('user'), 'alias');
      removeMapping(store, sourceOf(addressParam(call.param('alias'), 'alias')), 'Alias', destination);
      return empty();
    },

    forwardSources: () => json(sourcesWithType(store, 'Forward')),
    forwardsOf: (call: Call) => {
      const base = sourceOf(addressParam(call.param('user'), 'base forward'));
      const targets = storedValues(store, base, 'Forward');
      if (targets.length === 0) halt(404, 'InvalidArgument', 'The forward does not exist');
      return json(targets.map((mailAddress) => ({ mailAddress })));
    },
    forwardWithoutTarget: () => halt(400, 'InvalidArgument', 'A destination address needs to be specified in the path'),
    addForward: (call: Call) => {
      const base = sourceOf(addressParam(call.param('user'), 'base forward'));
      if (!store.users.has(base)) halt(404, 'InvalidArgument', 'Requested base forward address does not correspond to a user');
      const destination = addressParam(call.param('target'), 'target forward');
      if (!hasMapping(store, base, 'Forward', destination)) addForward(store, base, destination);
      return empty();
    },
    removeForward: (call: Call) => {
      const base = sourceOf(addressParam(call.param('user'), 'base forward'));
      removeMapping(store, base, 'Forward', addressParam(call.param('target'), 'target forward'));
      return empty();
    },

    groups: () => json(sourcesWithType(store, 'Group')),
    membersOf: (call: Call) => {
      const group = sourceOf(addressParam(call.param('group'), 'group'));
      const members = storedValues(store, group, 'Group');
      if (members.length === 0) halt(404, 'InvalidArgument', 'The group does not exist');
      return json(members);
    },
    /** GroupsRoutes answers a bare 400 (no body) to PUT/DELETE on the group itself. */
    groupWithoutMember: () => ({ status: 400, headers: JSON_CONTENT }),
    addMember: (call: Call) => {
      const group = sourceOf(addressParam(call.param('group'), 'group'));
      addGroupMember(store, group, addressParam(call.param('member'), 'group member'));
      return empty();
    },
    removeMember: (call: Call) => {
      const group = sourceOf(addressParam(call.param('group'), 'group'));
      removeMapping(store, group, 'Group', addressParam(call.param('member'), 'group member'));
      return empty();
    },
  };
}

const TASK_STATUSES: readonly TaskStatus[] = ['waiting', 'inProgress', 'canceledRequested', 'completed', 'canceled', 'failed'];
const MAX_AWAIT_MS = 365 * 86_400_000;

function taskEndpoints(store: Store, tasks: TaskManager) {
  const taskIdOf = (call: Call): string => {
    const raw = call.param('id');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) {
      halt(400, 'InvalidArgument', 'Invalid task id', `Invalid UUID string: ${raw}`);
    }
    return raw.toLowerCase();
  };
  return {
    list: (call: Call) => {
      const status = call.query.get('status');
      const type = call.query.get('type');
      if (status !== null && !TASK_STATUSES.some((known) => known.toLowerCase() === status.toLowerCase())) {
        halt(400, 'InvalidArgument', 'Invalid status query parameter', `Unknown status value '${status}'`);
      }
      // TasksRoutes reports a bad offset or limit as a bad status too.
      const count = (name: string): number | undefined => {
        const raw = call.query.get(name);
        if (raw === null) return undefined;
        if (!/^\d+$/.test(raw)) halt(400, 'InvalidArgument', 'Invalid status query parameter', `For input string: "${raw}"`);
        return Number(raw);
      };
      const offset = count('offset') ?? 0;
      const limit = count('limit');
      const reports = [...store.tasks.values()]
        .filter((task) => status === null || task.status.toLowerCase() === status.toLowerCase())
        .filter((task) => type === null || task.type === type)
        .sort((a, b) => b.submitDate.getTime() - a.submitDate.getTime())
        .slice(offset, limit === undefined ? undefined : offset + limit)
        .map(taskReport);
      return json(reports);
    },
    show: (call: Call) => {
      const id = taskIdOf(call);
      const task = store.tasks.get(id);
      return task === undefined ? halt(404, 'notFound', `${id} can not be found`) : json(taskReport(task));
    },
    /** Blocks until the task ends; `timeout` like "30s" or "500ms" (bare numbers are seconds), at most a year. */
    await: async (call: Call) => {
      const id = taskIdOf(call);
      const rawTimeout = call.query.get('timeout');
      let timeoutMs = MAX_AWAIT_MS;
      if (rawTimeout !== null && rawTimeout !== '') {
        try {
          timeoutMs = parseDuration(rawTimeout, 's');
        } catch {
          const unit = /^\s*\d+\s*([a-zA-Z,]+)\s*$/.exec(rawTimeout)?.[1];
          halt(400, 'InvalidArgument', 'Invalid timeout', unit === undefined
            ? 'Supplied value do not follow the unit format (number optionally suffixed with a string representing the unit'
            : `Unknown unit: ${unit}`);
        }
        if (timeoutMs > MAX_AWAIT_MS) halt(400, 'InvalidArgument', 'Invalid timeout', 'Timeout should not exceed 365 days');
      }
      const task = store.tasks.get(id);
      if (task === undefined) halt(404, 'ServerError', 'The taskId is not found');
      const finished = await tasks.awaitTask(task, timeoutMs, call.request.signal);
      return finished ? json(taskReport(task)) : jamesError(408, 'ServerError', 'The timeout has been reached');
    },
    /** Asks for cancellation; 204 even for an unknown or finished task. */
    cancel: (call: Call) => {
      const task = store.tasks.get(taskIdOf(call));
      if (task !== undefined) tasks.cancel(task);
      return empty();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Authentication

type Authenticate = (request: EmulatorRequest) => Promise<EmulatorResponse | undefined>;

/** The 401 bodies are plain text, yet the content type is still application/json (set by an earlier filter). */
function unauthorized(text: string): EmulatorResponse {
  return { status: 401, headers: JSON_CONTENT, body: text };
}

function bearerOf(request: EmulatorRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

function createAuthentication(options: JamesEmulatorOptions): Authenticate {
  if (options.jwtPublicKey !== undefined && options.password !== undefined) {
    throw new Error('give jwtPublicKey (James 3.8 JWT) or password (James 3.9), not both');
  }
  if (options.jwtPublicKey !== undefined) {
    const key: KeyObject = createPublicKey(options.jwtPublicKey);
    // JwtFilter: a missing header, a token that does not verify or has no `sub`, and a non-admin token differ.
    return async (request) => {
      const token = bearerOf(request);
      if (token === undefined) return unauthorized('No Bearer header.');
      let payload: Record<string, unknown>;
      try {
        payload = (await jwtVerify(token, key)).payload;
      } catch {
        return unauthorized('Invalid Bearer header.');
      }
      if (typeof payload['sub'] !== 'string' || payload['sub'] === '') return unauthorized('Invalid Bearer header.');
      if (payload['admin'] !== true) return unauthorized('Non authorized user.');
      return undefined;
    };
  }
  if (options.password !== undefined) {
    const passwords = options.password.split(',');
    // PasswordFilter: the `Password` header, else `Authorization: Bearer <password>`.
    return async (request) => {
      const header = request.headers['password'];
      const given = (Array.isArray(header) ? header[0] : header) ?? bearerOf(request);
      if (given === undefined) return unauthorized('No Password in header.');
      return passwords.includes(given) ? undefined : unauthorized('Wrong password.');
    };
  }
  return async () => undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The route table and the emulator

const PUBLIC_BASE = 'healthcheck';

function jamesRoutes(store: Store, tasks: TaskManager): Route<Handler>[] {
  const health = healthEndpoints();
  const domains = domainEndpoints(store);
  const users = userEndpoints(store, tasks);
  const mailboxes = mailboxEndpoints(store);
  const quotas = quotaEndpoints(store);
  const { global, domain, user } = quotas.scopes;
  const address = addressEndpoints(store);
  const taskRoutes = taskEndpoints(store, tasks);
  const table: [string, string, Handler][] = [
    ['GET', '/healthcheck', health.check],
    ['GET', '/healthcheck/checks', health.list],
    ['GET', '/healthcheck/checks/:component', health.checkOne],

    ['GET', '/domains', domains.list],
    ['GET', '/domains/:domain', domains.exists],
    ['PUT', '/domains/:domain', domains.create],
    ['DELETE', '/domains/:domain', domains.remove],
    ['GET', '/domains/:domain/aliases', domains.listAliases],
    ['PUT', '/domains/:domain/aliases/:source', domains.addAlias],
    ['DELETE', '/domains/:domain/aliases/:source', domains.removeAlias],

    ['GET', '/users', users.list],
    ['HEAD', '/users/:user', users.exists],
    ['PUT', '/users/:user', users.upsert],
    ['DELETE', '/users/:user', users.remove],
    ['POST', '/users/:user/verify', users.verify],
    ['POST', '/users/:oldUser/rename/:newUser', users.rename],
    ['GET', '/users/:user/mailboxes', mailboxes.list],
    ['DELETE', '/users/:user/mailboxes', mailboxes.removeAll],
    ['GET', '/users/:user/mailboxes/:mailbox', mailboxes.exists],
    ['PUT', '/users/:user/mailboxes/:mailbox', mailboxes.create],
    ['DELETE', '/users/:user/mailboxes/:mailbox', mailboxes.remove],
    ['GET', '/users/:user/mailboxes/:mailbox/messageCount', mailboxes.messageCount],

    ['GET', '/quota', quotas.showGlobal],
    ['PUT', '/quota', quotas.replace(global)],
    ['GET', '/quota/users', quotas.searchUsers],
    ['GET', '/quota/:field(count|size)', quotas.showField(global)],
    ['PUT', '/quota/:field(count|size)', quotas.setField(global)],
    ['DELETE', '/quota/:field(count|size)', quotas.unsetField(global)],
    ['GET', '/quota/domains/:domain', quotas.showDomain],
    ['PUT', '/quota/domains/:domain', quotas.replace(domain)],
    ['GET', '/quota/domains/:domain/:field(count|size)', quotas.showField(domain)],
    ['PUT', '/quota/domains/:domain/:field(count|size)', quotas.setField(domain)],
    ['DELETE', '/quota/domains/:domain/:field(count|size)', quotas.unsetField(domain)],
    ['GET', '/quota/users/:user', quotas.showUser],
    ['PUT', '/quota/users/:user', quotas.replace(user)],
    ['GET', '/quota/users/:user/:field(count|size)', quotas.showField(user)],
    ['PUT', '/quota/users/:user/:field(count|size)', quotas.setField(user)],
    ['DELETE', '/quota/users/:user/:field(count|size)', quotas.unsetField(user)],

    ['GET', '/mappings', address.allMappings],
    ['GET', '/mappings/user/:user', address.userMappings],
    ['GET', '/address/aliases', address.aliasDestinations],
    ['GET', '/address/aliases/:user', address.aliasesOf],
    ['PUT', '/address/aliases/:user/sources/:alias', address.addAlias],
    ['DELETE', '/address/aliases/:user/sources/:alias', address.removeAlias],
    ['GET', '/address/forwards', address.forwardSources],
    ['GET', '/address/forwards/:user', address.forwardsOf],
    ['PUT', '/address/forwards/:user', address.forwardWithoutTarget],
    ['DELETE', '/address/forwards/:user', address.forwardWithoutTarget],
    ['PUT', '/address/forwards/:user/targets/:target', address.addForward],
    ['DELETE', '/address/forwards/:user/targets/:target', address.removeForward],
    ['GET', '/address/groups', address.groups],
    ['GET', '/address/groups/:group', address.membersOf],
    ['PUT', '/address/groups/:group', address.groupWithoutMember],
    ['DELETE', '/address/groups/:group', address.groupWithoutMember],
    ['PUT', '/address/groups/:group/:member', address.addMember],
    ['DELETE', '/address/groups/:group/:member', address.removeMember],

    ['GET', '/tasks', taskRoutes.list],
    ['GET', '/tasks/:id', taskRoutes.show],
    ['GET', '/tasks/:id/await', taskRoutes.await],
    ['DELETE', '/tasks/:id', taskRoutes.cancel],
  ];
  return table.map(([method, path, handler]) => ({ method, path, handler }));
}

function stateView(store: Store): JamesStateView {
  const limits = (map: Map<string, QuotaLimits>) => Object.fromEntries([...map]
    .filter(([, value]) => value.count !== null || value.size !== null)
    .map(([key, value]) => [key, { ...value }]));
  return {
    defaultDomain: store.defaultDomain,
    domains: [...store.domains],
    users: [...store.users.keys()],
    mappings: allMappings(store),
    quotas: { global: { ...store.globalQuota }, domains: limits(store.domainQuotas), users: limits(store.userQuotas) },
    mailboxes: Object.fromEntries([...store.mailboxes]
      .filter(([, mailboxes]) => mailboxes.size > 0)
      .map(([username, mailboxes]) => [username, [...mailboxes].map(([name, mailbox]) => ({ name, ...mailbox }))])),
    tasks: [...store.tasks.values()].map((task) => ({
      taskId: task.taskId,
      type: task.type,
      status: task.status,
      statusHistory: [...task.statusHistory],
      oldUser: task.oldUser,
      newUser: task.newUser,
    })),
  };
}

export async function startJamesEmulator(options: JamesEmulatorOptions = {}): Promise<JamesEmulator> {
  const store = createStore(parseDomain(options.defaultDomain ?? 'localhost'));
  const tasks = createTaskManager(store, options.taskDurationMs ?? 50, hostname());
  const routes = jamesRoutes(store, tasks);
  const route = createRouter(routes);
  const authenticate = createAuthentication(options);
  // The authentication filter sits on each private route group's base path, so `GET /nothing` is a plain 404
  // while anything under /users/… needs credentials first (seen on 3.8.1).
  const privateBases = new Set(routes.map((candidate) => candidate.path.split('/')[1]).filter((base) => base !== PUBLIC_BASE));

  const emulator = await startEmulator({
    name: 'james',
    serverError: (message) => jamesError(500, 'ServerError', 'WebAdmin encountered an unexpected internal error', message),
    close: () => tasks.close(),
    async handle(request) {
      const segments = decodePath(request.rawPath);
      if (segments === undefined) return malformedUrl();
      if (privateBases.has(segments[0])) {
        const refusal = await authenticate(request);
        if (refusal !== undefined) return refusal;
      }
      let match = route(request.method, segments);
      // Spark answers HEAD on a GET route like the GET (Node sends no body).
      if (match.kind !== 'found' && request.method === 'HEAD') match = route('GET', segments);
      // Spark has no 405: a known path with another method is "not found" too.
      if (match.kind !== 'found') return routeNotFound(request.method, `/${segments.join('/')}`);
      const call: Call = {
        request,
        query: request.query,
        param: (name) => match.params.get(name) ?? '',
      };
      try {
        return await match.handler(call);
      } catch (error) {
        if (error instanceof Halt) return error.response;
        throw error;
      }
    },
  }, options);

  return {
    get backend() { return emulator.backend; },
    get url() { return emulator.url; },
    get stats() { return emulator.stats; },
    get requestLog() { return emulator.requestLog; },
    close: () => emulator.close(),
    get state() { return stateView(store); },
    get entriesVisited() { return store.meter.visited; },
    deliverMessage(username, mailboxName, sizeBytes) {
      const mailbox = createMailbox(store, parseUsername(username).name, mailboxName);
      mailbox.messageCount += 1;
      mailbox.size += sizeBytes;
    },
  };
}
