// MailStore Server as a mailops backend. MailStore is an email archive: every mailbox user should also be an
// archive user with the right email addresses, so that the archive assigns their mail to them.
//
// How the model maps onto MailStore (shared/backends/mailstore.md):
//   MailUser        → a MailStore user named by the rule in spec.mailstore.userName (default: the address;
//                     `localPart`: the part before @); displayName → full name; address, extraAddresses and
//                     single-member aliases → the email addresses, primary first; password → integrated
//                     authentication's password (write-only); spec.mailstore.privileges → privileges (owned on
//                     every user when set); address change → RenameUser where the rule gives another name
//   Alias (1 user)  → one more email address of that user; an alias with more members: not applicable
//   MailDomain      → nothing (MailStore has no domains); its prune setting still decides about its users
//   quotas, forwarding, disabled → not applicable
//   delete          → DeleteUser; MailStore keeps the user's archive
//
// Every call may become long-running: a call that answers `running` is a task the engine waits out (block) or
// looks at again (poll), recorded before the first poll, so that a run killed meanwhile polls the same token
// again instead of repeating the write. Each operation works from a fresh GetUserInfo of the user, so a token the
// server no longer knows only means "look again": what already took effect is never written twice.
import type { ApplyContext, BackendAdapter, ObserveScope, TaskContext, TaskRef, TaskStatus } from '../../engine/adapter.ts';
import { BackendError, isBackendError } from '../../engine/adapter.ts';
import { silentLogger, type Logger } from '../../log.ts';
import type { Capabilities } from '../../plan/capabilities.ts';
import type { Change, GroupChange, UserChange } from '../../plan/plan.ts';
import type { BackendState, DesiredUser, GroupState, UserState } from '../../plan/state.ts';
import type { ConnectionOptions } from '../http/index.ts';
import { KeyedSerializer } from '../serial.ts';
import {
  createUser,
  deleteUser,
  getUserInfo,
  isRunning,
  isTokenLost,
  MailStoreClient,
  parseUserInfo,
  renameUser,
  setUserEmailAddresses,
  setUserFullName,
  setUserPassword,
  setUserPrivileges,
  type ApiForm,
  type Invocation,
  type MailStoreStatus,
  type MailStoreUserInfo,
} from './client.ts';

export type UserNameRule = 'address' | 'localPart';

/** `spec.mailstore` of a MailBackend (src/model/schema.ts). */
export interface MailStoreSettings {
  apiForm?: ApiForm;
  userName?: UserNameRule;
  /** Owned on every user mailops manages here; unset: not managed. */
  privileges?: string[];
  /** What users mailops creates start with. */
  newUsers?: { privileges?: string[]; loginPrivileges?: string[] };
}

/** What a user mailops creates may do, unless the MailBackend says otherwise: log in and read their own archive. */
export const NEW_USER_PRIVILEGES = ['login'];
/** And how: MailStore Client, the web access and Outlook. Not the API, not the command line, not IMAP. */
export const NEW_USER_LOGIN_PRIVILEGES = ['windows', 'web', 'outlook'];

export const MAILSTORE_CAPABILITIES: Capabilities = {
  domains: false,
  aliasDomains: false,
  displayName: true,
  disableUser: false,
  extraAddresses: true,
  forwarding: false,
  keepCopy: false,
  groups: true,
  aliasMembers: 'one-user',
  quota: { storage: false, messages: false, domainDefault: false, global: false, storageUnit: 1 },
  rename: 'call',
  userDeletion: 'MailStore keeps the archive of a deleted user',
};

export interface MailStoreCredentials {
  username: string;
  password: string;
}

/** The calls that send the password: once one succeeded, the operation does not send it again. */
const PASSWORD_WRITES: ReadonlySet<string> = new Set(['CreateUser', 'SetUserPassword']);

/** What an interrupted operation left for the next run: whether the password was already sent. */
interface OperationData extends Record<string, unknown> {
  passwordSet?: boolean;
}

export class MailStoreAdapter implements BackendAdapter {
  readonly capabilities: Capabilities;
  readonly client: MailStoreClient;
  /** Observation's own lane: its connections and slots, so that reading users one by one never starves writes. */
  readonly #reader: MailStoreClient;
  readonly #settings: MailStoreSettings;
  readonly #rule: UserNameRule;
  readonly #admin: string;
  readonly #log: Logger;
  readonly #backend: string;
  /** Final statuses seen by pollTask, by token: the legacy form delivers a final status once only. */
  readonly #finalStatuses = new Map<string, MailStoreStatus>();
  /** Address lists are written whole: one read-modify-write per user at a time. */
  readonly #userLocks = new KeyedSerializer();
  /** The scope of the last observation: which addresses the configuration manages. */
  #scope: ObserveScope = { domains: [] };

  constructor(options: ConnectionOptions, credentials: MailStoreCredentials, settings: MailStoreSettings = {}) {
    this.#settings = settings;
    this.#rule = settings.userName ?? 'address';
    this.#admin = credentials.username.toLowerCase();
    this.#log = options.log ?? silentLogger;
    this.#backend = options.backend;
    const clientOptions = { apiForm: settings.apiForm ?? 'current', username: credentials.username, password: credentials.password };
    this.client = new MailStoreClient(options, clientOptions);
    this.#reader = new MailStoreClient(options, clientOptions);
    this.capabilities = {
      ...MAILSTORE_CAPABILITIES,
      // `none` is how MailStore spells the empty set; it reports that as [].
      ...(settings.privileges ? { ownedUserSettings: { privileges: settings.privileges.filter((p) => p !== 'none').sort() } } : {}),
    };
  }

  get requestCount(): number {
    return this.client.requestCount + this.#reader.requestCount;
  }

  /** The MailStore user name of an address, by the MailBackend's rule. */
  userNameOf(address: string): string {
    return this.#rule === 'localPart' ? address.slice(0, address.lastIndexOf('@')) : address;
  }

  // ------------------------------------------------------------------ observe
  /**
   * GetUsers, then GetUserInfo for each user the configuration manages (and, where a domain prunes and the
   * user name does not tell the domain, for the other users too): MailStore has no call that returns every
   * user's details, so a steady-state plan costs 1 + (managed users) requests, sent `concurrency` at a time.
   */
  async observe(scope: ObserveScope, context: TaskContext): Promise<BackendState> {
    this.#scope = scope;
    const before = this.#reader.requestCount;
    const listed = await this.#read({ fn: 'GetUsers', args: {}, description: 'list the users' }, context);
    if (!Array.isArray(listed)) throw new BackendError('Protocol', `MailStore GetUsers: unexpected result ${JSON.stringify(listed)?.slice(0, 80)}`);
    const names = new Map<string, { userName: string; fullName: string | null }>();
    for (const entry of listed as Array<{ userName?: unknown; fullName?: unknown }>) {
      if (typeof entry?.userName === 'string') names.set(entry.userName.toLowerCase(), { userName: entry.userName, fullName: typeof entry.fullName === 'string' ? entry.fullName : null });
    }

    // Which addresses each managed user name stands for (more than one: the same user before and after an address change).
    const candidates = new Map<string, string[]>();
    for (const address of [...(scope.users ?? []), ...(scope.previousAddresses ?? [])]) {
      const name = this.userNameOf(address).toLowerCase();
      candidates.set(name, [...(candidates.get(name) ?? []), address]);
    }
    this.#refuseSharedNames(scope, candidates);
    const prunes = new Set(scope.pruneDomains ?? []);
    const managed = [...candidates.keys()].filter((name) => names.has(name));
    // An export reads every user of the domains it discovers (all of them, when it names none).
    const discovered = (address: string) => scope.discover !== undefined && (scope.discover.domains === null || scope.discover.domains.includes(domainOf(address)));
    // Undeclared users of a pruning domain: their name tells the domain (userName: address), or their info does.
    const pruneCandidates = prunes.size === 0 && !scope.discover ? [] : [...names.keys()].filter((name) => !candidates.has(name) && name !== 'admin' && name !== this.#admin);
    const byName = scope.discover
      ? pruneCandidates.filter((name) => !name.includes('@') || discovered(name))
      : this.#rule === 'address' ? [] : pruneCandidates;

    const infos = await Promise.all([...managed, ...byName].map(async (name) => parseUserInfo(await this.#read(getUserInfo(names.get(name)!.userName), context))));
    const users = new Map<string, UserState>();
    const holders = new Map<string, string>(); // address → key of the user holding it
    const aliasAddresses = new Set(Object.keys(scope.aliases ?? {}));
    for (const info of infos) {
      const name = info.userName.toLowerCase();
      const addresses = info.emailAddresses.map((a) => a.toLowerCase());
      const primary = addresses[0] ?? null;
      const declared = candidates.get(name);
      const key = declared ? (declared.find((a) => a === primary) ?? declared.find((a) => !aliasAddresses.has(a)) ?? declared[0]!) : primary;
      if (key === null) continue; // an undeclared user without addresses belongs to no domain
      if (!declared && !prunes.has(domainOf(key)) && !discovered(key)) continue;
      for (const address of addresses) holders.set(address, key);
      users.set(key, {
        address: key,
        displayName: info.fullName || null,
        disabled: false,
        extraAddresses: this.#extraAddresses(key, addresses).sort(),
        forwards: [],
        keepCopy: false,
        quota: { storage: null, messages: null },
        primaryAddress: primary,
        settings: { privileges: [...info.privileges].sort() },
      });
    }
    if (this.#rule === 'address' && !scope.discover) {
      // The name is the address: an undeclared user of a pruning domain needs no further reading to be deleted.
      for (const name of pruneCandidates) {
        if (!name.includes('@') || !prunes.has(domainOf(name)) || users.has(name)) continue;
        users.set(name, { address: name, displayName: names.get(name)!.fullName || null, disabled: false, extraAddresses: [], forwards: [], keepCopy: false, quota: { storage: null, messages: null } });
      }
    }

    // A declared alias of a declared user is an alias object, wherever its address sits now.
    const groups = new Map<string, GroupState>();
    const declaredUsers = new Set(scope.users ?? []);
    for (const [address, member] of Object.entries(scope.aliases ?? {})) {
      const holder = holders.get(address);
      if (declaredUsers.has(member) && holder !== undefined && holder !== address) groups.set(address, { address, members: [holder] });
    }
    const requests = this.#reader.requestCount - before;
    this.#log.debug(
      { backend: this.#backend, managedUsers: managed.length, otherUsersRead: byName.length, requests },
      `MailStore observation: GetUsers, then GetUserInfo per managed user (${managed.length})${byName.length ? ` and per other user of a pruning domain (${byName.length})` : ''}; a steady-state plan costs 1 + 1 per managed user`,
    );
    return { domains: new Map(), users, groups, globalQuota: { storage: null, messages: null } };
  }

  /**
   * Two declared users that the rule turns into one user name (userName: localPart) cannot both be managed.
   * (A declared address and an earlier address of the same user may share a name: that is a rename.)
   */
  #refuseSharedNames(scope: ObserveScope, candidates: Map<string, string[]>): void {
    const declared = new Set(scope.users ?? []);
    for (const [name, addresses] of candidates) {
      const distinct = addresses.filter((a) => declared.has(a));
      if (distinct.length > 1) {
        throw new BackendError('Invalid', `the users ${distinct.join(' and ')} would both be MailStore user "${name}" (spec.mailstore.userName: localPart); use userName: address`);
      }
    }
  }

  /**
   * The extra addresses as mailops sees them: not the user's own, not a declared alias's (an alias object),
   * and not one of a domain the configuration does not manage — unless the user's domain prunes.
   */
  #extraAddresses(key: string, addresses: readonly string[]): string[] {
    const managedDomains = new Set(this.#scope.domains);
    const ownsAll = this.#scope.discover !== undefined || (this.#scope.pruneDomains ?? []).includes(domainOf(key));
    return addresses.filter((a) => a !== key && this.#scope.aliases?.[a] === undefined && (ownsAll || managedDomains.has(domainOf(a))));
  }

  /**
   * A read that may become long-running: its token is waited out through the engine, its result kept by
   * pollTask. A read is safe to repeat, so a token the server forgot costs one more try.
   */
  async #read(invocation: Invocation, context: TaskContext, attempt = 1): Promise<unknown> {
    const status = await this.#reader.start(invocation, { idempotent: true, signal: context.signal });
    if (!isRunning(status)) return status.result;
    const token = status.token!;
    try {
      await context.awaitTask({ id: token, description: `MailStore ${invocation.fn}: ${invocation.description}`, cursor: status.statusVersion });
    } catch (error) {
      if (isTokenLost(error) && attempt < 2) return this.#read(invocation, context, attempt + 1);
      throw error;
    }
    const final = this.#finalStatuses.get(token);
    this.#finalStatuses.delete(token);
    if (!final) throw new BackendError('Protocol', `MailStore ${invocation.fn}: the call ended, but its result was not seen`);
    return final.result;
  }

  // ------------------------------------------------------------------ apply
  async apply(change: Change, context: ApplyContext): Promise<void> {
    switch (change.resource) {
      case 'user':
        return this.#applyUser(change, context);
      case 'group':
        return this.#applyGroup(change, context);
      default:
        // The planner plans neither domains nor quotas for a backend without them (capabilities).
        throw new BackendError('Unsupported', `MailStore has no ${change.resource === 'domain' ? 'domains' : 'quotas'}`);
    }
  }

  async #applyUser(change: UserChange, context: ApplyContext): Promise<void> {
    const data: OperationData = { ...(context.resumeFrom?.data as OperationData | undefined) };
    // A run that died while MailStore was working: wait for that very call first. Whatever it did or did not do
    // is then read back from the server below, so nothing is written twice.
    const resumed = context.resumeFrom?.task;
    if (resumed) {
      const outcome = await this.#awaitRecorded(resumed, context, data);
      if (outcome === 'done' && PASSWORD_WRITES.has(context.resumeFrom!.step)) data.passwordSet = true;
    }
    if (change.action === 'delete') {
      const name = this.#manageable(this.userNameOf(change.key));
      const info = await this.#freshInfo(name);
      if (info) await this.#write(deleteUser(info.userName), context, data);
      return;
    }
    const want = change.after!;
    const name = this.#manageable(this.userNameOf(want.address));
    await this.#withUser(name, async () => {
      let info = await this.#freshInfo(name);
      if (!info && change.action === 'replace') {
        const oldName = this.#manageable(this.userNameOf(change.renameFrom!));
        const old = oldName.toLowerCase() !== name.toLowerCase() ? await this.#freshInfo(oldName) : undefined;
        if (old) {
          await this.#write(renameUser(old.userName, name), context, data);
          info = await this.#freshInfo(name);
        }
      }
      if (!info) {
        const outcome = await this.#write(createUser({
          userName: name,
          privileges: want.settings?.privileges ?? this.#settings.newUsers?.privileges ?? NEW_USER_PRIVILEGES,
          loginPrivileges: this.#settings.newUsers?.loginPrivileges ?? NEW_USER_LOGIN_PRIVILEGES,
          authentication: 'integrated',
          password: revealPassword(want),
          ...(want.displayName !== undefined ? { fullName: want.displayName } : {}),
        }), context, data, { conflictIsDone: true });
        // A create whose outcome is unknown (a lost token, a user that was there already) sets the password below.
        if (outcome !== 'done') data.passwordSet = false;
        info = await this.#freshInfo(name);
        if (!info) throw new BackendError('Protocol', `MailStore CreateUser ${name}: the call succeeded, but the user is not there`);
      }
      const setPassword = change.action === 'create' || change.fields.some((f) => f.field === 'password');
      // After an address change the old address goes, as it does on the mail server (unless declared again).
      await this.#converge(info, want, context, data, setPassword, change.action === 'replace' ? change.renameFrom : undefined);
    });
  }

  /** Writes what differs between the user as MailStore has it now and as the configuration wants it. */
  async #converge(info: MailStoreUserInfo, want: DesiredUser, context: ApplyContext, data: OperationData, setPassword: boolean, oldAddress?: string): Promise<void> {
    const name = info.userName;
    if (want.displayName !== undefined && (info.fullName || null) !== want.displayName) {
      await this.#write(setUserFullName(name, want.displayName), context, data);
    }
    const current = info.emailAddresses.map((a) => a.toLowerCase());
    const kept = current.filter((a) => a !== want.address && !this.#extraAddresses(want.address, [a]).includes(a));
    const extras = want.extraAddresses ?? this.#extraAddresses(want.address, current).filter((a) => a !== oldAddress);
    const target = [...new Set([want.address, ...extras, ...kept])];
    if (!sameAddresses(current, target)) await this.#write(setUserEmailAddresses(name, target), context, data);
    const privileges = want.settings?.privileges;
    if (privileges && !sameSet(info.privileges, privileges)) await this.#write(setUserPrivileges(name, privileges), context, data);
    if (setPassword && !data.passwordSet) {
      if (info.authentication === 'directoryServices') {
        // MailStore checks such a user's password with the directory; there is nothing to set.
        this.#log.debug({ backend: this.#backend, user: name }, 'MailStore user authenticates through directory services: password not set');
      } else {
        await this.#write(setUserPassword(name, revealPassword(want)), context, data);
        data.passwordSet = true;
      }
    }
  }

  /** An alias is one more address of its member: moved from whoever holds it to the member, or taken off. */
  async #applyGroup(change: GroupChange, context: ApplyContext): Promise<void> {
    const address = change.key;
    const data: OperationData = { ...(context.resumeFrom?.data as OperationData | undefined) };
    if (context.resumeFrom?.task) await this.#awaitRecorded(context.resumeFrom.task, context, data);
    const holder = change.before?.members[0];
    const member = change.after?.members[0];
    // A holder that is gone (renamed, deleted) holds nothing any more.
    if (holder !== undefined && holder !== member) await this.#editAddresses(holder, (list) => list.filter((a) => a !== address), context, data, { missingIsOk: true });
    if (member !== undefined) await this.#editAddresses(member, (list) => (list.includes(address) ? list : [...list, address]), context, data);
  }

  async #editAddresses(userAddress: string, edit: (addresses: string[]) => string[], context: ApplyContext, data: OperationData, options: { missingIsOk?: boolean } = {}): Promise<void> {
    const name = this.#manageable(this.userNameOf(userAddress));
    await this.#withUser(name, async () => {
      const info = await this.#freshInfo(name);
      if (!info && options.missingIsOk) return;
      if (!info) throw new BackendError('NotFound', `MailStore user ${name} (${userAddress}) does not exist`);
      const current = info.emailAddresses.map((a) => a.toLowerCase());
      const target = edit(current);
      if (!sameAddresses(current, target)) await this.#write(setUserEmailAddresses(info.userName, target), context, data);
    });
  }

  /**
   * Sends one write. If MailStore answers `running`, the token is recorded with the operation (the step is the
   * function's name) and waited out through the engine: progress reaches the object's status, and a run killed
   * meanwhile resumes polling this token. Returns `lost` when the server forgot the token: the caller reads the
   * user again instead of repeating the write.
   */
  async #write(invocation: Invocation, context: ApplyContext, data: OperationData, options: { conflictIsDone?: boolean } = {}): Promise<'done' | 'lost' | 'conflict'> {
    let status: MailStoreStatus;
    try {
      status = await this.client.start(invocation, { signal: context.signal });
    } catch (error) {
      if (options.conflictIsDone && isBackendError(error, 'Conflict')) return 'conflict';
      throw error;
    }
    if (!isRunning(status)) {
      if (PASSWORD_WRITES.has(invocation.fn)) data.passwordSet = true;
      return 'done';
    }
    const task: TaskRef = { id: status.token!, description: `MailStore ${invocation.fn}: ${invocation.description}`, cursor: status.statusVersion };
    try {
      await context.awaitTask(task, { step: invocation.fn, data });
    } catch (error) {
      if (isTokenLost(error)) {
        this.#log.warn({ backend: this.#backend, fn: invocation.fn }, `${error.message}; reading the user again`);
        return 'lost';
      }
      if (options.conflictIsDone && isBackendError(error, 'Conflict')) return 'conflict';
      throw error;
    } finally {
      this.#finalStatuses.delete(task.id);
    }
    if (PASSWORD_WRITES.has(invocation.fn)) data.passwordSet = true;
    // The call is over: the next run need not poll its token again.
    await context.checkpoint({ step: `${invocation.fn}:done`, data });
    return 'done';
  }

  /** Waits for the call a previous run recorded; `lost` when the server no longer knows it. */
  async #awaitRecorded(task: TaskRef, context: ApplyContext, data: OperationData): Promise<'done' | 'lost'> {
    try {
      await context.awaitTask(task, { step: context.resumeFrom?.step ?? 'resumed', data });
      return 'done';
    } catch (error) {
      if (!isTokenLost(error)) throw error;
      this.#log.warn({ backend: this.#backend }, `${error.message}; reading the user again`);
      return 'lost';
    } finally {
      this.#finalStatuses.delete(task.id);
    }
  }

  /** GetUserInfo now (writes must not trust an older observation), or undefined when there is no such user. */
  async #freshInfo(name: string): Promise<MailStoreUserInfo | undefined> {
    try {
      return await this.client.getUserInfo(name);
    } catch (error) {
      if (isBackendError(error, 'NotFound') && !isTokenLost(error)) return undefined;
      throw error;
    }
  }

  /** Never the built-in administrator, nor the user mailops logs in as. */
  #manageable(name: string): string {
    const lower = name.toLowerCase();
    if (lower === 'admin' || lower === this.#admin) {
      throw new BackendError('Forbidden', `MailStore user "${name}" is ${lower === 'admin' ? "MailStore's built-in administrator" : 'the user mailops logs in as'}; mailops does not manage it (see spec.mailstore.userName)`);
    }
    return name;
  }

  #withUser<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.#userLocks.run(name.toLowerCase(), work);
  }

  // ------------------------------------------------------------------ tasks
  async pollTask(task: TaskRef, waitMs: number, signal?: AbortSignal): Promise<TaskStatus> {
    const known = typeof task.cursor === 'number' ? task.cursor : Number(task.cursor ?? 0);
    const status = await this.client.getStatus(task.id, Number.isFinite(known) ? known : 0, waitMs, { what: task.description, ...(signal ? { signal } : {}) });
    if (!isRunning(status)) this.#finalStatuses.set(task.id, status);
    return taskStatusOf(status);
  }

  async cancelTask(task: TaskRef): Promise<void> {
    try {
      await this.client.cancel(task.id);
    } catch (error) {
      // The legacy form cannot cancel; a forgotten token has nothing left to cancel. The engine keeps polling.
      if (!isBackendError(error, 'Unsupported') && !isTokenLost(error)) throw error;
      this.#log.warn({ backend: this.#backend }, `MailStore: cannot cancel ${task.description}: ${error.message}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.#reader.close()]);
  }
}

export function taskStatusOf(status: MailStoreStatus): TaskStatus {
  const progress = status.percentProgress ?? undefined;
  const lastLine = status.logOutput?.split(/\r?\n/).filter((l) => l.trim() !== '').at(-1)?.trim();
  const common = { ...(progress !== undefined ? { progress } : {}), cursor: status.statusVersion };
  if (isRunning(status)) return { state: 'running', ...common, ...(lastLine || status.statusText ? { message: lastLine ?? status.statusText! } : {}) };
  if (/^cancel/i.test(status.statusCode)) return { state: 'canceled', ...common, message: 'the call was cancelled' };
  if (status.error) {
    return { state: 'failed', ...common, message: `${status.error.message}${status.error.details ? ` (${status.error.details})` : ''}` };
  }
  return { state: 'succeeded', ...common };
}

function revealPassword(user: DesiredUser): string {
  if (!user.password) throw new BackendError('Invalid', `no password for ${user.address}`);
  return user.password.reveal();
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/** The same primary address and the same set of addresses (MailStore's order past the first means nothing). */
function sameAddresses(have: readonly string[], want: readonly string[]): boolean {
  return have[0] === want[0] && sameSet(have, want);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}
