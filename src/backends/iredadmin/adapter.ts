// iRedAdmin-Pro as a mailops backend: observe with list calls, apply one change at a time.
//
// How the model maps onto iRedAdmin-Pro (shared/backends/iredadmin.md):
//   MailDomain            → domain: displayName → name, disabled → accountStatus, totalStorage → quota,
//                           maxUserStorage → maxUserQuota, defaultQuota.storage → defaultQuota (copied into
//                           accounts when they are created: mailops also sets each user's effective quota),
//                           aliasDomains → alias domains
//   MailUser              → mailbox: displayName → name, password (write-only; checked with verify_password),
//                           quota → quota, disabled → accountStatus, extraAddresses → per-user alias addresses
//                           (in the user's own domain only), forwarding → forwardings (keepCopy = the user's own
//                           address among them); an address change → change_email (within one domain)
//   Alias                 → alias account and its members
//   QuotaPolicy throttle  → iRedAPD throttle settings: global (globalDefault), per domain (a domain's
//                           defaultQuota.policyRef), per user (a user's quota.policyRef)
//   deleting              → keeps the mailboxes spec.iredadmin.keepMailboxDays days (0, the default: for good)
//
// Quotas: iRedAdmin-Pro stores megabytes, and its MB are MiB (Dovecot's M is 1,048,576 bytes). The planner rounds a
// declared storage limit **up** to whole MiB before comparing (Capabilities.quota.storageUnit), so `1G` becomes
// 954 MiB, is written as 954 and read back as 954 MiB: the next plan sees no difference. 0 means unlimited.
import type { ApplyContext, BackendAdapter, BackendCredentials, ObserveScope, TaskRef, TaskStatus } from '../../engine/adapter.ts';
import { BackendError, domainsToRead, isBackendError } from '../../engine/adapter.ts';
import { formatStorage, UNLIMITED, type Limit } from '../../model/quantity.ts';
import type { Sensitive } from '../../model/sensitive.ts';
import { THROTTLE_DIRECTIONS, sameThrottleLimits, type Throttle, type ThrottleLimits } from '../../model/throttle.ts';
import type { Capabilities } from '../../plan/capabilities.ts';
import type { Change, DomainChange, GlobalQuotaChange, GroupChange, UserChange } from '../../plan/plan.ts';
import { domainAfter, emptyUser, userAfter, type BackendState, type DesiredUser, type DomainState, type GroupState, type UserState } from '../../plan/state.ts';
import type { ConnectionOptions, FormFields } from '../http/index.ts';
import { IRedAdminClient, type IRedAdminRecord, type ThrottleDirection } from './client.ts';

const MiB = 1024 * 1024;

export const IREDADMIN_CAPABILITIES: Capabilities = {
  domains: true,
  aliasDomains: true,
  displayName: true,
  disableUser: true,
  extraAddresses: true,
  forwarding: true,
  keepCopy: true,
  groups: true,
  // Only storage, only per user: a domain's defaultQuota is copied into new accounts, not inherited.
  quota: { storage: true, messages: false, domainDefault: false, global: false, storageUnit: MiB, domainDefaultCopied: true },
  domainProfile: true,
  throttling: true,
  rename: 'call',
};

export interface IRedAdminOptions {
  /** Days a deleted account's mailbox is kept before it is purged; 0: for good. */
  keepMailboxDays?: number;
}

/** What the adapter remembers of each domain to refuse a quota the server would quietly lower. */
interface DomainCeilings {
  totalStorage: Limit | null;
  maxUserStorage: Limit | null;
}

export class IRedAdminAdapter implements BackendAdapter {
  readonly capabilities = IREDADMIN_CAPABILITIES;
  readonly client: IRedAdminClient;
  readonly #keepMailboxDays: number;
  readonly #ceilings = new Map<string, DomainCeilings>();

  constructor(options: ConnectionOptions, credentials: BackendCredentials, settings: Readonly<Record<string, unknown>> & IRedAdminOptions = {}) {
    if (!credentials.username || !credentials.password) {
      throw new BackendError('Unauthorized', 'an iRedAdmin-Pro backend logs in as an admin: set credentials.username (the admin’s email address) and credentials.passwordSecretRef');
    }
    this.client = new IRedAdminClient(options, { username: credentials.username, password: credentials.password.reveal() });
    this.#keepMailboxDays = settings.keepMailboxDays ?? 0;
  }

  get requestCount(): number {
    return this.client.http.requestCount;
  }

  // ------------------------------------------------------------------ observe
  /**
   * 3 + 4 × (declared domains present on the server) + 2 × (users a QuotaPolicy throttles) requests, whatever the
   * number of users: the domains with their profiles, the global throttle, and per declared domain its users, its
   * aliases and its throttle. A server whose lists lack alias domains or per-user aliases and forwardings (the SQL
   * edition lists table rows only) costs one more request per domain, or per user, to fill them in.
   */
  async observe(scope: ObserveScope): Promise<BackendState> {
    const [profiles, globalThrottle] = await Promise.all([this.client.listDomains(), this.#readThrottle('global', '@.')]);
    const byName = new Map(Object.entries(profiles).map(([name, profile]) => [name.toLowerCase(), profile]));
    const declared = domainsToRead(scope, byName.keys());
    const perDomain = new Map(
      await Promise.all(
        declared.map(async (domain) => {
          const [profile, users, aliases, throttle] = await Promise.all([
            'alias_domains' in byName.get(domain)! ? byName.get(domain)! : this.client.getDomain(domain),
            this.client.listUsers(domain),
            this.client.listAliases(domain),
            this.#readThrottle(domain, `@${domain}`),
          ]);
          return [domain, { profile, users: await Promise.all(users.map((user) => this.#withAddresses(user))), aliases, throttle }] as const;
        }),
      ),
    );

    const domains = new Map<string, DomainState>();
    for (const [name, listed] of byName) {
      const read = perDomain.get(name);
      const state = domainState(name, read?.profile ?? listed);
      domains.set(name, read ? { ...state, throttle: read.throttle } : state);
      this.#ceilings.set(name, { totalStorage: state.totalStorage ?? null, maxUserStorage: state.maxUserStorage ?? null });
    }

    const users = new Map<string, UserState>();
    const groups = new Map<string, GroupState>();
    for (const { users: records, aliases } of perDomain.values()) {
      for (const record of records) {
        const user = userState(record);
        if (user) users.set(user.address, user);
      }
      for (const record of aliases) {
        const address = text(record['address'] ?? record['mail']).toLowerCase();
        if (address) groups.set(address, { address, members: addresses(record['members'] ?? record['forwardings']).sort() });
      }
    }
    const throttled = (scope.throttledUsers ?? []).filter((address) => users.has(address));
    await Promise.all(throttled.map(async (address) => (users.get(address)!.throttle = await this.#readThrottle(address, address))));

    return { domains, users, groups, globalQuota: { storage: null, messages: null, throttle: globalThrottle } };
  }

  /** A listed user whose record lacks its alias addresses or forwardings, completed from its profile. */
  async #withAddresses(record: IRedAdminRecord): Promise<IRedAdminRecord> {
    if ('forwardings' in record && 'aliases' in record) return record;
    const mail = text(record['username'] ?? record['mail']);
    return mail ? { ...record, ...(await this.client.getUser(mail)) } : record;
  }

  async #readThrottle(target: string, account: string): Promise<Throttle> {
    const [inbound, outbound] = await Promise.all([this.client.getThrottle(target, 'inbound'), this.client.getThrottle(target, 'outbound')]);
    return { inbound: throttleLimits(inbound, account), outbound: throttleLimits(outbound, account) };
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
        return this.#applyGlobal(change);
    }
  }

  async #applyDomain(change: DomainChange): Promise<void> {
    const name = change.key;
    if (change.action === 'delete') {
      await this.client.deleteDomain(name, this.#keepMailboxDays);
      this.#ceilings.delete(name);
      return;
    }
    const have = change.before;
    const declared = change.after!;
    // The profile fields a create takes too; the planner put only declared fields in `declared`.
    const profile: Record<string, string | number> = {};
    if (declared.displayName !== undefined && declared.displayName !== (have?.displayName ?? null)) profile['name'] = declared.displayName;
    if (declared.totalStorage !== undefined && declared.totalStorage !== (have?.totalStorage ?? null)) profile['quota'] = megabytes(declared.totalStorage);
    if (declared.maxUserStorage !== undefined && declared.maxUserStorage !== (have?.maxUserStorage ?? null)) profile['maxUserQuota'] = megabytes(declared.maxUserStorage);
    if (declared.defaultQuota && declared.defaultQuota.storage !== (have?.defaultQuota.storage ?? null)) profile['defaultQuota'] = megabytes(declared.defaultQuota.storage ?? UNLIMITED);

    let update: Record<string, string | number> = profile;
    if (change.action === 'create') {
      try {
        await this.client.createDomain(name, profile);
        update = {};
      } catch (error) {
        // Created by a run whose answer was lost: the profile goes in the update below.
        if (!isBackendError(error, 'Conflict')) throw error;
      }
    }
    if (declared.disabled !== undefined && declared.disabled !== (have?.disabled ?? false)) update['accountStatus'] = declared.disabled ? 'disabled' : 'active';
    const haveAliases = have?.aliasDomains ?? [];
    const wantAliases = declared.aliasDomains ?? haveAliases;
    const added = wantAliases.filter((alias) => !haveAliases.includes(alias));
    const removed = haveAliases.filter((alias) => !wantAliases.includes(alias));
    if (added.length > 0) update['addAliasDomain'] = added.join(',');
    if (removed.length > 0) update['removeAliasDomain'] = removed.join(',');
    if (Object.keys(update).length > 0) await this.client.updateDomain(name, update);
    if (declared.throttle) await this.#writeThrottle(name, have?.throttle, declared.throttle, false);
    const after = domainAfter(have, declared);
    this.#ceilings.set(name, { totalStorage: after.totalStorage ?? null, maxUserStorage: after.maxUserStorage ?? null });
  }

  async #applyUser(change: UserChange): Promise<void> {
    switch (change.action) {
      case 'create': {
        const want = change.after!;
        const after = userAfter(emptyUser(want.address), want);
        this.#checkQuota(after);
        const fields: Record<string, string | number> = { password: revealPassword(want), ...(want.displayName !== undefined ? { name: want.displayName } : {}) };
        if (want.quota.storage !== undefined && want.quota.storage !== null) fields['quota'] = megabytes(want.quota.storage);
        try {
          await this.client.createUser(want.address, fields);
        } catch (error) {
          // Created by a run whose answer was lost, or by hand: take it over with this password. An address
          // taken by something else (an alias account) stays the conflict it is.
          if (!isBackendError(error, 'Conflict')) throw error;
          await this.client.updateUser(want.address, fields).catch((updateError: unknown) => {
            throw isBackendError(updateError, 'NotFound') ? error : updateError;
          });
        }
        const created = { ...emptyUser(want.address), displayName: want.displayName ?? null, quota: { storage: fields['quota'] === undefined ? null : after.quota.storage, messages: null } };
        return this.#converge(created, after, null);
      }
      case 'update': {
        const want = change.after!;
        const password = change.fields.some((f) => f.field === 'password') ? revealPassword(want) : null;
        return this.#converge(change.before!, userAfter(change.before!, want), password);
      }
      case 'replace': {
        const want = change.after!;
        const oldAddress = change.renameFrom!;
        if (domainOf(oldAddress) !== domainOf(want.address)) {
          throw new BackendError('Invalid', `iRedAdmin-Pro changes a mailbox's address only within its domain: ${oldAddress} cannot become ${want.address} (create the new user and remove the old one instead)`);
        }
        await this.client.changeEmail(oldAddress, want.address);
        // The forwardings, aliases and quota travel with the mailbox; the rest is brought in line.
        const moved: UserState = { ...change.before!, address: want.address, keepCopy: change.before!.keepCopy };
        return this.#converge(moved, userAfter(moved, want), revealPassword(want));
      }
      case 'delete':
        return this.client.deleteUser(change.key, this.#keepMailboxDays);
    }
  }

  /** Brings one user from `have` to `want` with one update call (and its throttle), writing only what differs. */
  async #converge(have: UserState, want: UserState, password: string | null): Promise<void> {
    const address = want.address;
    this.#checkQuota(want);
    const foreign = want.extraAddresses.filter((alias) => domainOf(alias) !== domainOf(address));
    if (foreign.length > 0) {
      throw new BackendError('Invalid', `iRedAdmin-Pro keeps a user's extra addresses only in the user's own domain (${domainOf(address)}); it would drop ${foreign.join(', ')} (an alias domain covers its addresses without them)`);
    }
    const fields: Record<string, string | number> = {};
    if (password !== null) fields['password'] = password;
    if (want.displayName !== have.displayName && want.displayName !== null) fields['name'] = want.displayName;
    if (want.disabled !== have.disabled) fields['accountStatus'] = want.disabled ? 'disabled' : 'active';
    if (want.quota.storage !== have.quota.storage && want.quota.storage !== null) fields['quota'] = megabytes(want.quota.storage);
    const addedAliases = want.extraAddresses.filter((a) => !have.extraAddresses.includes(a));
    const removedAliases = have.extraAddresses.filter((a) => !want.extraAddresses.includes(a));
    if (addedAliases.length > 0) fields['addAlias'] = addedAliases.join(',');
    if (removedAliases.length > 0) fields['removeAlias'] = removedAliases.join(',');
    // keepCopy is the user's own address among the forwardings; on its own it forwards nothing.
    const targets = (user: UserState) => (user.forwards.length > 0 ? [...user.forwards, ...(user.keepCopy ? [address] : [])].sort() : []);
    const wantTargets = targets(want);
    if (wantTargets.join(',') !== targets(have).join(',')) fields['forwarding'] = wantTargets.join(',');
    if (Object.keys(fields).length > 0) await this.client.updateUser(address, fields);
    if (want.throttle) await this.#writeThrottle(address, have.throttle, want.throttle, false);
  }

  /** iRedAdmin-Pro lowers a quota above the domain's ceilings without a word: refuse it with one instead. */
  #checkQuota(user: UserState): void {
    const storage = user.quota.storage;
    const ceilings = this.#ceilings.get(domainOf(user.address));
    if (storage === null || !ceilings) return;
    const max = ceilings.maxUserStorage;
    if (typeof max === 'number' && typeof storage === 'number' && storage > max) {
      throw new BackendError('Invalid', `quota ${formatStorage(storage)} of ${user.address} is more than its domain allows one user (maxUserStorage ${formatStorage(max)}); iRedAdmin-Pro would quietly lower it`);
    }
    if (storage === UNLIMITED && typeof ceilings.totalStorage === 'number') {
      throw new BackendError('Invalid', `${user.address} cannot have an unlimited quota: its domain has a totalStorage of ${formatStorage(ceilings.totalStorage)}, and iRedAdmin-Pro would give it a limit of its own choosing`);
    }
  }

  async #applyGroup(change: GroupChange): Promise<void> {
    const address = change.key;
    if (change.action === 'delete') return this.client.deleteAlias(address);
    const want = change.after!.members;
    if (change.action === 'create') {
      try {
        await this.client.createAlias(address, { members: want.join(',') });
      } catch (error) {
        if (!isBackendError(error, 'Conflict')) throw error;
        await this.client.updateAlias(address, { members: want.join(',') });
      }
      return;
    }
    const have = change.before?.members ?? [];
    const added = want.filter((m) => !have.includes(m));
    const removed = have.filter((m) => !want.includes(m));
    // A few members in or out: say just those (members added elsewhere meanwhile stay); many: replace the list.
    const fields: FormFields = added.length + removed.length < want.length
      ? { ...(added.length > 0 ? { addMember: added.join(',') } : {}), ...(removed.length > 0 ? { removeMember: removed.join(',') } : {}) }
      : { members: want.join(',') };
    await this.client.updateAlias(address, fields);
  }

  async #applyGlobal(change: GlobalQuotaChange): Promise<void> {
    if (change.after.throttle) await this.#writeThrottle('global', change.before.throttle, change.after.throttle, true);
  }

  /** Writes the directions that differ; a direction no longer wanted is removed (period 0). */
  async #writeThrottle(target: string, have: Throttle | undefined, want: Throttle, global: boolean): Promise<void> {
    for (const direction of THROTTLE_DIRECTIONS) {
      if (sameThrottleLimits(have?.[direction] ?? null, want[direction])) continue;
      await this.client.setThrottle(target, direction as ThrottleDirection, throttleFields(want[direction], global));
    }
  }

  async verifyPassword(address: string, password: Sensitive): Promise<boolean> {
    try {
      return await this.client.verifyPassword(address, password.reveal());
    } catch (error) {
      // Only a global admin may check passwords; a domain admin cannot tell, so the password is set once.
      if (isBackendError(error, 'Forbidden') || isBackendError(error, 'NotFound')) return false;
      throw error;
    }
  }

  // ------------------------------------------------------------------ tasks: every call is synchronous
  async pollTask(task: TaskRef): Promise<TaskStatus> {
    throw new BackendError('Unsupported', `iRedAdmin-Pro has no tasks (asked about ${task.id})`);
  }

  async cancelTask(): Promise<void> {}

  close(): Promise<void> {
    return this.client.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Records → state. Field names differ between releases (`name`/`cn`, `quota`/`mailQuota`); both are read.

function domainState(name: string, record: IRedAdminRecord): DomainState {
  const settings = (typeof record['settings'] === 'object' && record['settings'] !== null ? record['settings'] : {}) as Record<string, unknown>;
  const defaultQuota = number(settings['default_user_quota'] ?? record['defaultQuota']);
  return {
    name,
    aliasDomains: addresses(record['alias_domains'] ?? record['aliasDomains']).sort(),
    defaultQuota: { storage: defaultQuota > 0 ? defaultQuota * MiB : null, messages: null },
    displayName: text(record['description'] ?? record['name'] ?? record['cn']) || null,
    disabled: !active(record),
    totalStorage: fromMegabytes(number(record['maxquota'] ?? record['quota'] ?? record['domainQuota'])),
    maxUserStorage: fromMegabytes(number(settings['max_user_quota'] ?? record['maxUserQuota'])),
  };
}

function userState(record: IRedAdminRecord): UserState | undefined {
  const address = text(record['username'] ?? record['mail']).toLowerCase();
  if (!address) return undefined;
  const forwardings = addresses(record['forwardings']);
  const forwards = forwardings.filter((target) => target !== address).sort();
  return {
    address,
    displayName: text(record['name'] ?? record['cn']) || null,
    disabled: !active(record),
    extraAddresses: addresses(record['aliases']).filter((alias) => alias !== address).sort(),
    forwards,
    keepCopy: forwards.length > 0 && forwardings.includes(address),
    quota: { storage: fromMegabytes(number(record['quota'] ?? record['mailQuota'])), messages: null },
  };
}

/** iRedAPD's limits: 0 and -1 (and, for a domain or user, "inherit" 0) are no limit here. */
function throttleLimits(setting: IRedAdminRecord | null, _account: string): ThrottleLimits | null {
  if (!setting) return null;
  const limit = (key: string) => (number(setting[key]) > 0 ? number(setting[key]) : null);
  const period = number(setting['period']);
  if (period <= 0) return null;
  return { period, maxMessageSize: limit('msg_size'), maxMessages: limit('max_msgs'), maxTotalSize: limit('max_quota') };
}

/** A direction as the throttle call takes it; no limit is 0 globally and -1 for a domain or user (iRedAPD). */
function throttleFields(limits: ThrottleLimits | null, global: boolean): FormFields {
  if (!limits) return { period: 0, msg_size: 0 };
  const none = global ? 0 : -1;
  return {
    period: limits.period,
    msg_size: limits.maxMessageSize ?? none,
    max_msgs: limits.maxMessages ?? none,
    max_quota: limits.maxTotalSize ?? none,
  };
}

/** Whole MiB (the planner has rounded up already); unlimited is 0. */
function megabytes(limit: Limit): number {
  return limit === UNLIMITED ? 0 : Math.ceil(limit / MiB);
}

function fromMegabytes(mb: number): Limit {
  return mb > 0 ? mb * MiB : UNLIMITED;
}

function active(record: IRedAdminRecord): boolean {
  const value = record['active'] ?? record['accountStatus'];
  return value === undefined || value === 1 || value === true || value === '1' || value === 'active';
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

function number(value: unknown): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : 0;
  return Number.isFinite(n) ? n : 0;
}

/** A list of addresses or domains, given as an array or a comma-separated string, in lower case. */
function addresses(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return [...new Set(items.filter((item): item is string => typeof item === 'string').map((item) => item.trim().toLowerCase()).filter(Boolean))];
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

function revealPassword(user: DesiredUser): string {
  if (!user.password) throw new BackendError('Invalid', `no password for ${user.address}`);
  return user.password.reveal();
}
