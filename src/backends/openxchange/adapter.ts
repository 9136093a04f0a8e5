// Open-Xchange App Suite as a mailops backend: provisioning through SOAP (OXContextService as the master admin,
// OXUserService as each context's admin), health, sessions and address checks through the REST admin API.
//
// How the model maps onto Open-Xchange (shared/backends/openxchange.md):
//   MailDomain      → a context: its name is the domain and the domain is one of its login mappings (users log in as
//                     alice@example.com); its id is spec.openxchange.contextId, else allocated (the MailBackend's
//                     spec.openxchange.contextIdFrom: the lowest free id from there; unset: Open-Xchange's next free
//                     id); totalStorage → the filestore quota (maxQuota, MB); disabled → enable/disable (disabling
//                     closes the context's sessions). A new context gets the admin of spec.openxchange.contextAdmin.
//   MailUser        → a user of its domain's context: login name = the local part; displayName → display_name, and
//                     given_name/sur_name derived from it (the last word is the surname) unless they were set to
//                     something else on the server; address → primaryEmail and email1; extraAddresses → aliases (with
//                     the primary address, as OX expects); password (write-only); quota → maxQuota (MB, rounded up;
//                     unlimited is -1); disabled → mailenabled false, and the user's sessions are closed;
//                     spec.openxchange.users {language, timezone} → owned on every user when set
//   Alias (1 user)  → one more address among the member's aliases; with more members there is no OX equivalent:
//                     not applicable, shown in the plan
//   deleting        → a user is deleted and its sessions closed; a context only once it holds no user but its admin
//
// Observing: GET /health first (a DOWN middleware fails the observation, naming the failing checks), then listAll
// of the contexts, and per declared domain listAll of its users (ids only) and getMultipleData in batches.
import type { ApplyContext, BackendAdapter, ObserveScope, TaskRef, TaskStatus } from '../../engine/adapter.ts';
import { BackendError, domainsToRead, isBackendError } from '../../engine/adapter.ts';
import { UNLIMITED, type Limit } from '../../model/quantity.ts';
import type { BackendOptions } from '../../model/schema.ts';
import type { Capabilities } from '../../plan/capabilities.ts';
import type { Change, DomainChange, GroupChange, UserChange } from '../../plan/plan.ts';
import type { BackendState, DesiredUser, DomainState, GroupState, UserState } from '../../plan/state.ts';
import type { ConnectionOptions } from '../http/index.ts';
import { KeyedSerializer } from '../serial.ts';
import { OXClient, type OXContext, type OXCredentials, type OXUser, type UserFields } from './client.ts';

const MiB = 1024 * 1024;

export type OpenXchangeSettings = BackendOptions['openxchange'];

export const OPENXCHANGE_CAPABILITIES: Capabilities = {
  domains: true,
  aliasDomains: false,
  displayName: true,
  disableUser: true,
  extraAddresses: true,
  forwarding: false,
  keepCopy: false,
  groups: true,
  aliasMembers: 'one-user',
  // Per user only, in MB: a domain's defaultQuota and the global default are folded into each user.
  quota: { storage: true, messages: false, domainDefault: false, global: false, storageUnit: MiB },
  // A context can be disabled and has a filestore quota of its own; it has no display name or per-user ceiling.
  domainProfile: ['disabled', 'totalStorage'],
  rename: 'none',
};

/** getMultipleData reads this many users at a time unless spec.openxchange.batchSize says otherwise. */
export const DEFAULT_BATCH_SIZE = 100;

/** What the adapter remembers of a user between observing and applying. */
interface KnownUser {
  contextId: number;
  id: number;
  name: string;
  givenName: string | null;
  surName: string | null;
}

export class OpenXchangeAdapter implements BackendAdapter {
  readonly capabilities: Capabilities;
  readonly client: OXClient;
  readonly #settings: OpenXchangeSettings;
  readonly #contextAdmin: { login: string; password: string };
  /** Declared domain → its context, from the last observation and the contexts created since. */
  readonly #contexts = new Map<string, OXContext>();
  /** Context ids taken (observed, or handed out by this adapter to a create under way). */
  readonly #contextIds = new Set<number>();
  readonly #users = new Map<string, KnownUser>();
  /** Aliases are written whole: one read-modify-write per user at a time. */
  readonly #userLocks = new KeyedSerializer();
  #scope: ObserveScope = { domains: [] };

  constructor(options: ConnectionOptions, credentials: OXCredentials, settings: OpenXchangeSettings) {
    this.#settings = settings;
    this.#contextAdmin = credentials.contextAdmin;
    this.client = new OXClient(options, credentials, settings.restUrl ? { restUrl: settings.restUrl.replace(/\/+$/, '') } : {});
    const users = settings.users;
    this.capabilities = {
      ...OPENXCHANGE_CAPABILITIES,
      ...(users?.language || users?.timezone
        ? { ownedUserSettings: { ...(users.language ? { language: [users.language] } : {}), ...(users.timezone ? { timezone: [users.timezone] } : {}) } }
        : {}),
    };
  }

  get requestCount(): number {
    return this.client.requestCount;
  }

  // ------------------------------------------------------------------ observe
  /**
   * 2 + per declared domain that has a context (1 + ⌈users / batchSize⌉) requests: the health check, the contexts,
   * and per context the user ids and their data in batches.
   */
  async observe(scope: ObserveScope): Promise<BackendState> {
    this.#scope = scope;
    const health = await this.client.health();
    if (health.status !== 'UP') {
      const failing = health.checks.filter((check) => check.status !== 'UP').map((check) => check.name);
      throw new BackendError(
        'Unavailable',
        `Open-Xchange reports itself DOWN (GET /health): ${failing.length > 0 ? `failing check${failing.length === 1 ? '' : 's'} ${failing.join(', ')}` : 'no check named'}`,
      );
    }
    const contexts = await this.client.listAllContexts();
    this.#contexts.clear();
    this.#contextIds.clear();
    const domains = new Map<string, DomainState>();
    for (const context of contexts) {
      this.#contextIds.add(context.id);
      // Every name a context answers to that is not its bare id: a domain it serves (or just its name).
      for (const mapping of new Set([context.name, ...context.loginMappings].map((m) => m.toLowerCase()))) {
        if (/^\d+$/.test(mapping) || domains.has(mapping)) continue;
        domains.set(mapping, domainState(mapping, context));
      }
    }
    // The declared domains, or, for an export, the ones it discovers.
    for (const domain of domainsToRead(scope, domains.keys())) {
      const context = contexts.find((c) => c.name.toLowerCase() === domain) ?? contexts.find((c) => c.loginMappings.some((m) => m.toLowerCase() === domain));
      if (context) this.#contexts.set(domain, context);
    }

    this.#users.clear();
    const users = new Map<string, UserState>();
    const holders = new Map<string, string>(); // address → the user holding it
    const batchSize = this.#settings.batchSize ?? DEFAULT_BATCH_SIZE;
    const read = await Promise.all(
      [...new Set(this.#contexts.values())].map(async (context) => {
        const ids = await this.#asContextAdmin(context, () => this.client.listAllUsers(context.id));
        const batches: number[][] = [];
        for (let start = 0; start < ids.length; start += batchSize) batches.push(ids.slice(start, start + batchSize));
        const found = await Promise.all(batches.map((batch) => this.#asContextAdmin(context, () => this.client.getUsers(context.id, batch.map((id) => ({ id }))))));
        return { context, users: found.flat() };
      }),
    );
    for (const { context, users: oxUsers } of read) {
      for (const user of oxUsers) {
        // The context's own admin is the login mailops works with, not a mailbox it manages.
        if (user.name === this.#contextAdmin.login || !user.primaryEmail) continue;
        const address = user.primaryEmail;
        this.#users.set(address, { contextId: context.id, id: user.id, name: user.name, givenName: user.givenName, surName: user.surName });
        for (const alias of user.aliases) holders.set(alias, address);
        users.set(address, this.#userState(user));
      }
    }

    // A declared alias of a declared user is an alias object, wherever its address sits now.
    const groups = new Map<string, GroupState>();
    const declaredUsers = new Set(scope.users ?? []);
    for (const [address, member] of Object.entries(scope.aliases ?? {})) {
      const holder = holders.get(address);
      if (declaredUsers.has(member) && holder !== undefined && holder !== address) groups.set(address, { address, members: [holder] });
    }
    return { domains, users, groups, globalQuota: { storage: null, messages: null } };
  }

  #userState(user: OXUser): UserState {
    const address = user.primaryEmail!;
    return {
      address,
      displayName: user.displayName,
      disabled: !user.mailEnabled,
      extraAddresses: this.#extraAddresses(address, user.aliases).sort(),
      forwards: [],
      keepCopy: false,
      quota: { storage: fromMegabytes(user.maxQuota), messages: null },
      settings: { language: user.language ? [user.language] : [], timezone: user.timezone ? [user.timezone] : [] },
    };
  }

  /** The user's aliases as mailops sees its extra addresses: not its own address, not a declared alias's. */
  #extraAddresses(address: string, aliases: readonly string[]): string[] {
    return aliases.filter((alias) => alias !== address && this.#scope.aliases?.[alias] === undefined);
  }

  /** A user call, with the context admin's refusal said in terms of the configuration. */
  async #asContextAdmin<T>(context: OXContext, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!isBackendError(error, 'Unauthorized')) throw error;
      throw new BackendError(
        'Unauthorized',
        `${error.message} — the context admin "${this.#contextAdmin.login}" (spec.openxchange.contextAdmin) was refused in context ${context.id} (${context.name}); ` +
          'every context mailops manages needs that admin with that password',
        { cause: error },
      );
    }
  }

  // ------------------------------------------------------------------ apply
  async apply(change: Change, _context: ApplyContext): Promise<void> {
    switch (change.resource) {
      case 'domain':
        return this.#applyDomain(change);
      case 'user':
        return this.#applyUser(change);
      case 'group':
        return this.#applyGroup(change);
      case 'globalQuota':
        // The planner plans no global level for a backend without one (capabilities).
        throw new BackendError('Unsupported', 'Open-Xchange has no server-wide quota level');
    }
  }

  async #applyDomain(change: DomainChange): Promise<void> {
    const domain = change.key;
    if (change.action === 'delete') return this.#deleteContext(domain);
    const want = change.after!;
    let context = this.#contexts.get(domain);
    if (change.action === 'create' || !context) {
      context = await this.#createContext(domain, want.settings?.['contextId'] as number | undefined, want.totalStorage);
    } else {
      const declaredId = want.settings?.['contextId'];
      if (declaredId !== undefined && declaredId !== context.id) {
        throw new BackendError('Invalid', `the context of ${domain} has id ${context.id}; a context keeps its id (spec.openxchange.contextId: ${String(declaredId)}): remove contextId or set it to ${context.id}`);
      }
    }
    const maxQuota = want.totalStorage !== undefined ? megabytes(want.totalStorage) : undefined;
    const mapped = context.loginMappings.some((m) => m.toLowerCase() === domain);
    if ((maxQuota !== undefined && maxQuota !== context.maxQuota) || !mapped) {
      await this.client.changeContext({ id: context.id, ...(maxQuota !== undefined ? { maxQuota } : {}), ...(!mapped ? { loginMappings: [...context.loginMappings, domain] } : {}) });
    }
    if (want.disabled !== undefined && want.disabled === context.enabled) {
      if (want.disabled) {
        await this.client.disableContext(context.id);
        // A disabled context's users are logged out, not just refused at their next login.
        await this.client.closeContextSessions([context.id]);
      } else {
        await this.client.enableContext(context.id);
      }
    }
    this.#contexts.set(domain, { ...context, ...(maxQuota !== undefined ? { maxQuota } : {}), enabled: !(want.disabled ?? !context.enabled) });
  }

  /** A new context for the domain, with its admin; one a lost answer already created is taken over. */
  async #createContext(domain: string, declaredId: number | undefined, totalStorage: Limit | undefined): Promise<OXContext> {
    const id = declaredId ?? this.#allocateContextId();
    const admin = this.#contextAdmin.login;
    try {
      const created = await this.client.createContext(
        { ...(id !== undefined ? { id } : {}), name: domain, maxQuota: totalStorage !== undefined ? megabytes(totalStorage) : -1, loginMappings: [domain] },
        { name: admin, displayName: `Context admin of ${domain}`, givenName: 'Context', surName: 'Admin', password: this.#contextAdmin.password, primaryEmail: `${admin}@${domain}`, email1: `${admin}@${domain}` },
      );
      this.#contexts.set(domain, created);
      this.#contextIds.add(created.id);
      return created;
    } catch (error) {
      if (id !== undefined && declaredId === undefined) this.#contextIds.delete(id);
      if (!isBackendError(error, 'Conflict')) throw error;
      const existing = (await this.client.listContexts(domain)).find((c) => c.name.toLowerCase() === domain || c.loginMappings.some((m) => m.toLowerCase() === domain));
      if (!existing) throw error;
      if (declaredId !== undefined && existing.id !== declaredId) {
        throw new BackendError('Conflict', `${domain} already has context ${existing.id}, not ${declaredId} (spec.openxchange.contextId)`, { cause: error });
      }
      this.#contexts.set(domain, existing);
      return existing;
    }
  }

  /** With spec.openxchange.contextIdFrom: the lowest id from there that no context has; else OX chooses. */
  #allocateContextId(): number | undefined {
    const from = this.#settings.contextIdFrom;
    if (from === undefined) return undefined;
    let id = from;
    while (this.#contextIds.has(id)) id += 1;
    this.#contextIds.add(id);
    return id;
  }

  /** Deleting a context deletes every user in it: refused while any but its admin is left. */
  async #deleteContext(domain: string): Promise<void> {
    const context = this.#contexts.get(domain) ?? (await this.client.listContexts(domain)).find((c) => c.name.toLowerCase() === domain);
    if (!context) return;
    const ids = await this.#asContextAdmin(context, () => this.client.listAllUsers(context.id));
    const users = (await this.client.getUsers(context.id, ids.map((id) => ({ id })))).filter((user) => user.name !== this.#contextAdmin.login);
    if (users.length > 0) {
      const names = users.slice(0, 3).map((user) => user.primaryEmail ?? user.name).join(', ');
      throw new BackendError('Conflict', `context ${context.id} of ${domain} still holds ${users.length} user${users.length === 1 ? '' : 's'} (${names}${users.length > 3 ? ', …' : ''}); deleting it would delete them too`);
    }
    try {
      await this.client.deleteContext(context.id);
    } catch (error) {
      if (!isBackendError(error, 'NotFound')) throw error;
    }
    this.#contexts.delete(domain);
  }

  async #applyUser(change: UserChange): Promise<void> {
    switch (change.action) {
      case 'create':
        return this.#withUser(change.key, () => this.#createUser(change.after!));
      case 'update':
        return this.#withUser(change.key, () => this.#updateUser(change));
      case 'delete':
        return this.#withUser(change.key, () => this.#deleteUser(change.key));
      case 'replace':
        throw new BackendError('Unsupported', 'Open-Xchange keeps a user’s login name: an address change creates the new user (rename: none)');
    }
  }

  async #createUser(want: DesiredUser): Promise<void> {
    const context = this.#contextFor(want.address);
    const name = localPart(want.address);
    const aliases = [...new Set([want.address, ...(want.extraAddresses ?? [])])];
    await this.#refuseAddressesElsewhere(aliases, context.id);
    const displayName = want.displayName ?? name;
    const fields: UserFields = {
      name,
      displayName,
      ...personName(displayName),
      password: revealPassword(want),
      primaryEmail: want.address,
      email1: want.address,
      aliases,
      ...(want.quota.storage !== undefined && want.quota.storage !== null ? { maxQuota: megabytes(want.quota.storage) } : {}),
      ...(want.disabled !== undefined ? { mailEnabled: !want.disabled } : {}),
      ...this.#ownedSettings(want),
    };
    let user: OXUser;
    try {
      user = await this.#asContextAdmin(context, () => this.client.createUser(context.id, fields));
    } catch (error) {
      if (!isBackendError(error, 'Conflict')) throw error;
      // Created by a run whose answer was lost, or by hand: take it over. An address another user has stays the conflict it is.
      const existing = await this.client.getUser(context.id, { name }).catch((lookup: unknown) => {
        throw isBackendError(lookup, 'NotFound') ? error : lookup;
      });
      if (existing.primaryEmail !== want.address) throw error;
      const { name: _name, ...changes } = fields;
      await this.client.changeUser(context.id, { id: existing.id, ...changes });
      user = existing;
    }
    this.#users.set(want.address, { contextId: context.id, id: user.id, name, givenName: fields.givenName ?? null, surName: fields.surName ?? null });
  }

  async #updateUser(change: UserChange): Promise<void> {
    const want = change.after!;
    const have = change.before!;
    const known = await this.#known(want.address);
    const fields: UserFields = {};
    if (change.fields.some((f) => f.field === 'password')) fields.password = revealPassword(want);
    if (want.displayName !== undefined && want.displayName !== have.displayName) {
      fields.displayName = want.displayName;
      // The person's name follows the display name, unless someone set it to something else.
      const before = personName(have.displayName ?? known.name);
      if ((known.givenName ?? before.givenName) === before.givenName && (known.surName ?? before.surName) === before.surName) Object.assign(fields, personName(want.displayName));
    }
    if (want.extraAddresses && !sameSet(want.extraAddresses, have.extraAddresses)) {
      // Written whole: from what the server has now, keeping the addresses that declared aliases hold.
      const current = await this.client.getUser(known.contextId, { id: known.id });
      const held = current.aliases.filter((alias) => alias !== want.address && this.#scope.aliases?.[alias] !== undefined);
      const aliases = [...new Set([want.address, ...want.extraAddresses, ...held])];
      await this.#refuseAddressesElsewhere(aliases.filter((a) => !current.aliases.includes(a)), known.contextId);
      fields.aliases = aliases;
    }
    if (want.quota.storage !== undefined && want.quota.storage !== have.quota.storage && want.quota.storage !== null) fields.maxQuota = megabytes(want.quota.storage);
    const disabling = want.disabled === true && !have.disabled;
    if (want.disabled !== undefined && want.disabled !== have.disabled) fields.mailEnabled = !want.disabled;
    for (const [key, value] of Object.entries(this.#ownedSettings(want))) {
      if (value !== have.settings?.[key]?.[0]) Object.assign(fields, { [key]: value });
    }
    if (Object.keys(fields).length > 0) await this.#asContextAdmin(this.#contextFor(want.address), () => this.client.changeUser(known.contextId, { id: known.id, ...fields }));
    if (fields.givenName !== undefined) this.#users.set(want.address, { ...known, givenName: fields.givenName, surName: fields.surName ?? known.surName });
    // A disabled user is logged out everywhere, not just refused at the next login.
    if (disabling) await this.client.closeUserSessions([{ contextId: known.contextId, userId: known.id }]);
  }

  async #deleteUser(address: string): Promise<void> {
    const known = await this.#known(address).catch((error: unknown) => {
      if (isBackendError(error, 'NotFound')) return undefined;
      throw error;
    });
    if (!known) return;
    try {
      await this.client.deleteUser(known.contextId, { id: known.id });
    } catch (error) {
      if (!isBackendError(error, 'NotFound')) throw error;
    }
    this.#users.delete(address);
    // Its sessions outlive the user otherwise.
    await this.client.closeUserSessions([{ contextId: known.contextId, userId: known.id }]);
  }

  /** An alias is one more address of its member: taken from whoever holds it, given to the member. */
  async #applyGroup(change: GroupChange): Promise<void> {
    const address = change.key;
    const holder = change.before?.members[0];
    const member = change.after?.members[0];
    if (holder !== undefined && holder !== member) await this.#editAliases(holder, (aliases) => aliases.filter((a) => a !== address), { missingIsOk: true });
    if (member !== undefined) {
      await this.#editAliases(member, (aliases) => (aliases.includes(address) ? aliases : [...aliases, address]), { checkNew: true });
    }
  }

  async #editAliases(userAddress: string, edit: (aliases: string[]) => string[], options: { missingIsOk?: boolean; checkNew?: boolean } = {}): Promise<void> {
    await this.#withUser(userAddress, async () => {
      const known = await this.#known(userAddress).catch((error: unknown) => {
        if (options.missingIsOk && isBackendError(error, 'NotFound')) return undefined;
        throw error;
      });
      if (!known) return;
      const current = await this.client.getUser(known.contextId, { id: known.id });
      const target = [...new Set(edit(current.aliases))];
      if (sameSet(current.aliases, target)) return;
      if (options.checkNew) await this.#refuseAddressesElsewhere(target.filter((a) => !current.aliases.includes(a)), known.contextId);
      await this.client.changeUser(known.contextId, { id: known.id, aliases: target });
    });
  }

  /**
   * Open-Xchange refuses an address another user of the same context has, but not one a user of another context
   * has: mail to it would then have two owners. The mail resolver tells, for all the addresses in one request.
   */
  async #refuseAddressesElsewhere(addresses: readonly string[], contextId: number): Promise<void> {
    if (addresses.length === 0) return;
    const resolved = await this.client.resolveAddresses(addresses);
    const elsewhere = [...resolved].filter(([, where]) => where.contextId !== contextId);
    if (elsewhere.length > 0) {
      const list = elsewhere.map(([address, where]) => `${address} (user ${where.userId} of context ${where.contextId})`).join(', ');
      throw new BackendError('Conflict', `${list} already belong${elsewhere.length === 1 ? 's' : ''} to a user of another context`);
    }
  }

  /** The user's ids: from the observation, or read now (a user created by another run meanwhile). */
  async #known(address: string): Promise<KnownUser> {
    const known = this.#users.get(address);
    if (known) return known;
    const context = this.#contextFor(address);
    const user = await this.#asContextAdmin(context, () => this.client.getUser(context.id, { name: localPart(address) }));
    if (user.primaryEmail !== address) throw new BackendError('NotFound', `no user ${address} in context ${context.id}: the user named ${user.name} there has ${user.primaryEmail ?? 'no address'}`);
    const found = { contextId: context.id, id: user.id, name: user.name, givenName: user.givenName, surName: user.surName };
    this.#users.set(address, found);
    return found;
  }

  #contextFor(address: string): OXContext {
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const context = this.#contexts.get(domain);
    if (!context) throw new BackendError('NotFound', `there is no context for ${domain} on this Open-Xchange server (no context maps the domain)`);
    return context;
  }

  #ownedSettings(want: DesiredUser): Pick<UserFields, 'language' | 'timezone'> {
    const language = want.settings?.['language']?.[0];
    const timezone = want.settings?.['timezone']?.[0];
    return { ...(language ? { language } : {}), ...(timezone ? { timezone } : {}) };
  }

  #withUser<T>(address: string, work: () => Promise<T>): Promise<T> {
    return this.#userLocks.run(address, work);
  }

  // ------------------------------------------------------------------ tasks: every call is synchronous
  async pollTask(task: TaskRef): Promise<TaskStatus> {
    throw new BackendError('Unsupported', `Open-Xchange has no tasks (asked about ${task.id})`);
  }

  async cancelTask(): Promise<void> {}

  close(): Promise<void> {
    return this.client.close();
  }
}

function domainState(name: string, context: OXContext): DomainState {
  return {
    name,
    aliasDomains: [],
    defaultQuota: { storage: null, messages: null },
    disabled: !context.enabled,
    totalStorage: fromMegabytes(context.maxQuota),
    settings: { contextId: context.id },
  };
}

/** "Ada Lovelace" → Ada / Lovelace; "Ludwig van Beethoven" → Ludwig van / Beethoven; one word is both. */
export function personName(displayName: string): { givenName: string; surName: string } {
  const words = displayName.trim().split(/\s+/).filter(Boolean);
  if (words.length <= 1) return { givenName: words[0] ?? displayName, surName: words[0] ?? displayName };
  return { givenName: words.slice(0, -1).join(' '), surName: words.at(-1)! };
}

/** Whole MiB (the planner has rounded up already); unlimited is -1. */
function megabytes(limit: Limit): number {
  return limit === UNLIMITED ? -1 : Math.ceil(limit / MiB);
}

/** -1 (or none) is unlimited. */
function fromMegabytes(mb: number | null): Limit {
  return mb === null || mb < 0 ? UNLIMITED : mb * MiB;
}

function localPart(address: string): string {
  return address.slice(0, address.lastIndexOf('@'));
}

function revealPassword(user: DesiredUser): string {
  if (!user.password) throw new BackendError('Invalid', `no password for ${user.address}`);
  return user.password.reveal();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((x) => right.has(x));
}

