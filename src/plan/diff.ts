// Desired vs observed → ordered changes for one backend. Pure: no I/O, no clock.
//
// Order: domains, then users, then aliases, then the global quota; deletes afterwards in the
// reverse order (aliases, users, domains). Ownership: only what the configuration declares is
// created or changed, and of a declared object only the fields it sets (state.ts); only a
// MailDomain with prune enabled lets undeclared users and aliases of that domain be deleted —
// never anything in a domain the configuration does not declare.
import { NO_QUOTA, describeObject, objectKey, type DeletionDecl, type QuotaLimits } from '../model/config.ts';
import { formatMessages, formatStorage, type Limit } from '../model/quantity.ts';
import { formatThrottleLimits, sameThrottleLimits, THROTTLE_DIRECTIONS, type Throttle } from '../model/throttle.ts';
import { domainProfileFields, type Capabilities } from './capabilities.ts';
import type { Change, DomainChange, FieldChange, GlobalQuotaChange, GroupChange, Refusal, UserChange } from './plan.ts';
import {
  DOMAIN_PROFILE_FIELDS,
  emptyUser,
  type AppliedRecord,
  type BackendState,
  type DesiredBackendState,
  type DesiredDomain,
  type DesiredUser,
  type DomainState,
  type Unmanaged,
  type UnmanagedField,
  type UserState,
} from './state.ts';

export interface DiffInput {
  desired: DesiredBackendState;
  observed: BackendState;
  /** What was last applied on this backend, by the MailUser's objectKey. */
  records: ReadonlyMap<string, AppliedRecord>;
  capabilities: Capabilities;
  allowMassDeletion: boolean;
}

export interface DiffResult {
  changes: Change[];
  refusals: Refusal[];
  unmanaged: Unmanaged[];
}

/** How a plan shows the password of a user whose optional secret does not exist. */
export const PASSWORD_UNMANAGED = 'unmanaged until the secret exists';

const PHASE: Record<string, number> = {
  'domain:create': 0,
  'domain:update': 0,
  'user:create': 1,
  'user:update': 1,
  'user:replace': 1,
  'group:create': 2,
  'group:update': 2,
  'globalQuota:update': 3,
  'group:delete': 4,
  'user:delete': 5,
  'domain:delete': 6,
};

export function diffBackend(input: DiffInput): DiffResult {
  const { desired, observed, records, capabilities } = input;
  const changes: Change[] = [];
  const unmanaged: Unmanaged[] = [];
  const refusals: Refusal[] = [];
  const domainCreates = new Set<string>();

  // --- domains
  for (const want of desired.domains.values()) {
    const have = observed.domains.get(want.name);
    if (!have) {
      domainCreates.add(want.name);
      changes.push(domainChange('create', want, null, domainFields(null, want)));
      continue;
    }
    const fields = domainFields(have, want);
    if (fields.length > 0) changes.push(domainChange('update', want, have, fields));
    const leftAlone = unmanagedDomainFields(have, want, capabilities);
    if (leftAlone.length > 0) unmanaged.push({ resource: 'domain', key: want.name, owner: want.owner, fields: leftAlone });
  }
  const dependsOnDomain = (domain: string) => (domainCreates.has(domain) ? [`domain:${domain}`] : []);

  // --- users
  const renamedFrom = new Set<string>();
  for (const want of desired.users.values()) {
    const record = records.get(objectKey(want.owner));
    const have = observed.users.get(want.address);
    const previous = record && record.address !== want.address ? observed.users.get(record.address) : undefined;
    // Keep the old address out of prune even when nothing can be planned for the user now.
    if (previous && capabilities.rename !== 'none' && !desired.users.has(record!.address)) renamedFrom.add(previous.address);
    if (have) {
      const leftAlone = unmanagedUserFields(have, want, capabilities);
      if (leftAlone.length > 0) unmanaged.push({ resource: 'user', key: want.address, owner: want.owner, fields: leftAlone });
    }
    if (want.password === null && !want.passwordUnmanaged) continue; // its secret is missing: reported by the caller, nothing planned
    if (want.passwordUnmanaged && (!have || (previous && renamedFrom.has(previous.address)))) {
      // Creating the user (or moving it to its new address) sets a password, and there is none to set.
      refusals.push({
        owner: want.owner,
        message: `${describeObject(want.owner)}: ${want.address} cannot be ${have ? 'moved to its new address' : 'created on this backend'} without a password, ` +
          'and its passwordSecretRef is optional and does not exist; create the secret first',
      });
      continue;
    }

    if (previous && renamedFrom.has(previous.address)) {
      // The same MailUser now has another address: keep its mailbox by moving it.
      const fields: FieldChange[] = [
        { field: 'address', before: previous.address, after: want.address },
        ...userFields(previous, want, null).filter((f) => f.field !== 'password'),
        { field: 'password', sensitive: true },
      ];
      changes.push(
        change<UserChange>({ resource: 'user', action: 'replace', key: want.address, owner: want.owner, before: previous, after: want, renameFrom: previous.address, fields, dependsOn: dependsOnDomain(want.domain) }),
      );
      continue;
    }
    if (!have) {
      changes.push(
        change<UserChange>({ resource: 'user', action: 'create', key: want.address, owner: want.owner, before: null, after: want, fields: userFields(null, want, null), dependsOn: dependsOnDomain(want.domain) }),
      );
      continue;
    }
    const recordedFingerprint = record?.address === want.address ? record.passwordFingerprint : null;
    const fields = userFields(have, want, recordedFingerprint);
    if (fields.length > 0) {
      changes.push(change<UserChange>({ resource: 'user', action: 'update', key: want.address, owner: want.owner, before: have, after: want, fields }));
    }
  }

  // --- aliases (groups)
  for (const want of desired.groups.values()) {
    const have = observed.groups.get(want.address);
    const fields = setField('members', have?.members ?? [], want.members);
    if (!have) {
      changes.push(change<GroupChange>({ resource: 'group', action: 'create', key: want.address, owner: want.owner, before: null, after: want, fields, dependsOn: dependsOnDomain(want.domain) }));
    } else if (fields.length > 0) {
      changes.push(change<GroupChange>({ resource: 'group', action: 'update', key: want.address, owner: want.owner, before: have, after: want, fields }));
    }
  }

  // --- global quota, only where the configuration manages it
  if (desired.globalQuota) {
    const { limits, throttle, owner } = desired.globalQuota;
    const have = observed.globalQuota;
    const fields = [...(limits ? quotaFields('', have, limits) : []), ...(throttle ? throttleFields(have.throttle, throttle) : [])];
    if (fields.length > 0) {
      const after = { ...have, ...limits, ...(throttle ? { throttle } : {}) };
      changes.push(change<GlobalQuotaChange>({ resource: 'globalQuota', action: 'update', key: 'global', owner, before: have, after, fields }));
    }
  }

  // --- prune: undeclared users and aliases of domains that opted in
  for (const domain of [...desired.domains.values(), ...(desired.domainsWithoutObject ?? [])]) {
    if (!domain.prune.enabled) continue;
    const reason = `not declared; ${describeObject(domain.owner)} prunes`;
    const userReason = capabilities.userDeletion ? `${reason}; ${capabilities.userDeletion}` : reason;
    const inDomain = (address: string) => address.endsWith(`@${domain.name}`);
    const observedUsers = [...observed.users.keys()].filter(inDomain);
    const kept = (address: string) => desired.reserved?.has(address) ?? false;
    const userDeletes = observedUsers.filter((a) => !desired.users.has(a) && !renamedFrom.has(a) && !kept(a));
    for (const address of userDeletes) {
      changes.push(change<UserChange>({ resource: 'user', action: 'delete', key: address, owner: domain.owner, before: observed.users.get(address)!, after: null, fields: [], reason: userReason }));
    }
    for (const group of observed.groups.values()) {
      if (!inDomain(group.address) || desired.groups.has(group.address) || kept(group.address)) continue;
      changes.push(
        change<GroupChange>({ resource: 'group', action: 'delete', key: group.address, owner: domain.owner, before: group, after: null, fields: setField('members', group.members, []), reason }),
      );
    }
    const limit = domain.prune.maxUserDeletionPercent;
    if (userDeletes.length > 0 && userDeletes.length * 100 > observedUsers.length * limit && !input.allowMassDeletion) {
      refusals.push({
        owner: domain.owner,
        message: `${describeObject(domain.owner)}: the plan would delete ${userDeletes.length} of the ${observedUsers.length} users of ${domain.name} ` +
          `(more than maxUserDeletionPercent: ${limit}%); check the configuration, or pass --allow-mass-deletion`,
      });
    }
  }

  planDeletions(desired, observed, changes, refusals);
  return { changes: orderChanges(changes), refusals, unmanaged };
}

/**
 * Objects being deleted from a cluster leave their backends too. A domain goes only once nothing
 * is left in it: deleting a MailDomain never cascades to users nobody asked to delete.
 */
function planDeletions(desired: DesiredBackendState, observed: BackendState, changes: Change[], refusals: Refusal[]): void {
  const planned = new Set(changes.filter((c) => c.action === 'delete').map((c) => c.id));
  const reason = (owner: DeletionDecl['ref']) => `${describeObject(owner)} is being deleted (deletionPolicy: Delete)`;
  for (const deletion of desired.deletions) {
    const { ref: owner, key } = deletion;
    if (deletion.resource === 'user') {
      const have = observed.users.get(key);
      if (!have || desired.users.has(key) || planned.has(`user:${key}`)) continue;
      changes.push(change<UserChange>({ resource: 'user', action: 'delete', key, owner, before: have, after: null, fields: [], reason: reason(owner) }));
      planned.add(`user:${key}`);
    } else if (deletion.resource === 'group') {
      const have = observed.groups.get(key);
      if (!have || desired.groups.has(key) || planned.has(`group:${key}`)) continue;
      changes.push(change<GroupChange>({ resource: 'group', action: 'delete', key, owner, before: have, after: null, fields: setField('members', have.members, []), reason: reason(owner) }));
      planned.add(`group:${key}`);
    }
  }
  for (const deletion of desired.deletions) {
    if (deletion.resource !== 'domain') continue;
    const { ref: owner, key: domain } = deletion;
    if (!observed.domains.has(domain) || desired.domains.has(domain)) continue;
    const inDomain = (address: string) => address.endsWith(`@${domain}`);
    const remaining = [
      ...[...observed.users.keys()].filter((a) => inDomain(a) && !planned.has(`user:${a}`)),
      ...[...observed.groups.keys()].filter((a) => inDomain(a) && !planned.has(`group:${a}`)),
    ];
    if (remaining.length > 0) {
      const shown = remaining.slice(0, 3).join(', ') + (remaining.length > 3 ? ` and ${remaining.length - 3} more` : '');
      refusals.push({
        owner,
        message: `${describeObject(owner)}: domain ${domain} still holds ${remaining.length} user${remaining.length === 1 ? '' : 's'} or alias${remaining.length === 1 ? '' : 'es'} on this backend (${shown}); ` +
          'delete them first, or set deletionPolicy: Orphan to leave the domain on its backends',
      });
      continue;
    }
    changes.push(domainDelete(domain, owner, observed.domains.get(domain)!, reason(owner)));
  }
}

/** One change; the id is derived from resource and key, so it is the same in every plan. */
function change<C extends Change>(fields: Omit<C, 'id' | 'dependsOn'> & { dependsOn?: string[] }): C {
  return { id: `${fields.resource}:${fields.key}`, dependsOn: [], ...fields } as unknown as C;
}

function orderChanges(changes: Change[]): Change[] {
  const phase = (c: Change) => PHASE[`${c.resource}:${c.action}`] ?? 9;
  return changes.sort((a, b) => phase(a) - phase(b) || a.key.localeCompare(b.key));
}

function domainDelete(name: string, owner: DeletionDecl['ref'], have: DomainState, reason: string): DomainChange {
  return change<DomainChange>({ resource: 'domain', action: 'delete', key: name, owner, before: have, after: null, fields: [], reason });
}

function domainChange(action: 'create' | 'update', want: DesiredDomain, have: DomainState | null, fields: FieldChange[]): DomainChange {
  return change<DomainChange>({ resource: 'domain', action, key: want.name, owner: want.owner, before: have, after: want, fields });
}

function domainFields(have: DomainState | null, want: DesiredDomain): FieldChange[] {
  const profile: FieldChange[] = [];
  for (const field of DOMAIN_PROFILE_FIELDS) {
    const before = have?.[field] ?? null;
    const after = want[field];
    if (after === undefined || before === after) continue;
    // A new domain is enabled: saying so is no change.
    if (field === 'disabled' && !have && after === false) continue;
    const storage = field === 'totalStorage' || field === 'maxUserStorage';
    profile.push({ field, before: storage ? formatStorage(before as Limit | null) : before, after: storage ? formatStorage(after as Limit) : after });
  }
  // Settings the domain gives this backend's type (Open-Xchange's contextId): shown on a create, compared after.
  for (const [field, after] of Object.entries(want.settings ?? {})) {
    const before = have?.settings?.[field] ?? null;
    if (after !== undefined && before !== after) profile.push({ field, before, after });
  }
  return [
    ...profile,
    ...(want.aliasDomains ? setField('aliasDomains', have?.aliasDomains ?? [], want.aliasDomains) : []),
    ...(want.defaultQuota ? quotaFields('defaultQuota.', have?.defaultQuota ?? NO_QUOTA, want.defaultQuota) : []),
    ...(want.throttle ? throttleFields(have?.throttle, want.throttle) : []),
  ];
}

/** One field per throttle direction that differs, shown as a person would read it. */
function throttleFields(have: Throttle | undefined, want: Throttle): FieldChange[] {
  return THROTTLE_DIRECTIONS.filter((direction) => !sameThrottleLimits(have?.[direction] ?? null, want[direction])).map((direction) => ({
    field: `throttle.${direction}`,
    before: formatThrottleLimits(have?.[direction] ?? null),
    after: formatThrottleLimits(want[direction]),
  }));
}

/** The declared fields of a user that differ from what the backend has (all of them for a new user). */
function userFields(have: UserState | null, want: DesiredUser, recordedFingerprint: string | null): FieldChange[] {
  const fields: FieldChange[] = [];
  if (!have) {
    fields.push({ field: 'password', sensitive: true });
  } else if (!want.passwordUnmanaged && recordedFingerprint !== want.passwordFingerprint) {
    fields.push({
      field: 'password',
      sensitive: true,
      ...(recordedFingerprint === null ? { note: 'not set by mailops before; it will be set once' } : {}),
    });
  }
  const current = have ?? emptyUser(want.address);
  // Where the backend keeps a list of addresses, the user's own address comes first in it.
  if (have?.primaryAddress !== undefined && have.primaryAddress !== want.address) {
    fields.push({ field: 'primaryAddress', before: have.primaryAddress, after: want.address });
  }
  if (want.displayName !== undefined && current.displayName !== want.displayName) {
    fields.push({ field: 'displayName', before: current.displayName, after: want.displayName });
  }
  if (want.disabled !== undefined && current.disabled !== want.disabled) {
    fields.push({ field: 'disabled', before: current.disabled, after: want.disabled });
  }
  if (want.extraAddresses) fields.push(...setField('extraAddresses', current.extraAddresses, want.extraAddresses));
  if (want.forwards) {
    fields.push(...setField('forwarding.to', current.forwards, want.forwards));
    // keepCopy means nothing without forwards: no difference to show when neither side forwards.
    if (current.keepCopy !== want.keepCopy && (want.forwards.length > 0 || current.forwards.length > 0 || current.keepCopy)) {
      fields.push({ field: 'forwarding.keepCopy', before: current.keepCopy, after: want.keepCopy });
    }
  }
  fields.push(...quotaFields('quota.', current.quota, want.quota));
  if (want.throttle) fields.push(...throttleFields(current.throttle, want.throttle));
  for (const [name, value] of Object.entries(want.settings ?? {})) fields.push(...setField(name, current.settings?.[name] ?? [], value));
  return fields;
}

function quotaFields(prefix: string, have: QuotaLimits, want: Partial<QuotaLimits>): FieldChange[] {
  const fields: FieldChange[] = [];
  if (want.storage !== undefined && have.storage !== want.storage) {
    fields.push({ field: `${prefix}storage`, before: formatStorage(have.storage), after: formatStorage(want.storage) });
  }
  if (want.messages !== undefined && have.messages !== want.messages) {
    fields.push({ field: `${prefix}messages`, before: formatMessages(have.messages), after: formatMessages(want.messages) });
  }
  return fields;
}

function setField(field: string, have: readonly string[], want: readonly string[]): FieldChange[] {
  const haveSet = new Set(have);
  const wantSet = new Set(want);
  const added = want.filter((x) => !haveSet.has(x));
  const removed = have.filter((x) => !wantSet.has(x));
  if (added.length === 0 && removed.length === 0) return [];
  return [{ field, before: [...have], after: [...want], added, removed }];
}

/** What the configuration leaves unset on a declared object that exists: observed, never changed. */
function unmanagedUserFields(have: UserState, want: DesiredUser, capabilities: Capabilities): UnmanagedField[] {
  const fields: UnmanagedField[] = [];
  if (want.passwordUnmanaged) fields.push({ field: 'password', value: PASSWORD_UNMANAGED });
  if (capabilities.displayName && want.displayName === undefined) fields.push({ field: 'displayName', value: have.displayName });
  if (capabilities.disableUser && want.disabled === undefined) fields.push({ field: 'disabled', value: have.disabled });
  if (capabilities.extraAddresses && !want.extraAddresses) fields.push({ field: 'extraAddresses', value: have.extraAddresses });
  if (capabilities.forwarding && !want.forwards) {
    fields.push({ field: 'forwarding', value: { to: have.forwards, ...(capabilities.keepCopy ? { keepCopy: have.keepCopy } : {}) } });
  }
  if (capabilities.quota.storage && want.quota.storage === undefined) fields.push({ field: 'quota.storage', value: formatStorage(have.quota.storage) });
  if (capabilities.quota.messages && want.quota.messages === undefined) fields.push({ field: 'quota.messages', value: formatMessages(have.quota.messages) });
  if (capabilities.throttling && !want.throttle && have.throttle) fields.push(...unmanagedThrottle(have.throttle));
  for (const [name, value] of Object.entries(have.settings ?? {})) if (!want.settings?.[name]) fields.push({ field: name, value });
  return fields;
}

function unmanagedThrottle(have: Throttle | undefined): UnmanagedField[] {
  return THROTTLE_DIRECTIONS.map((direction) => ({ field: `throttle.${direction}`, value: formatThrottleLimits(have?.[direction] ?? null) }));
}

function unmanagedDomainFields(have: DomainState, want: DesiredDomain, capabilities: Capabilities): UnmanagedField[] {
  const fields: UnmanagedField[] = [];
  if (capabilities.aliasDomains && !want.aliasDomains) fields.push({ field: 'aliasDomains', value: have.aliasDomains });
  for (const field of domainProfileFields(capabilities)) {
    if (want[field] !== undefined) continue;
    const value = have[field] ?? null;
    fields.push({ field, value: field === 'totalStorage' || field === 'maxUserStorage' ? formatStorage(value as Limit | null) : value });
  }
  if (capabilities.throttling && !want.throttle) fields.push(...unmanagedThrottle(have.throttle));
  for (const [field, value] of Object.entries(have.settings ?? {})) if (want.settings?.[field] === undefined) fields.push({ field, value });
  if ((capabilities.quota.domainDefault || capabilities.quota.domainDefaultCopied) && !want.defaultQuota) {
    if (capabilities.quota.storage) fields.push({ field: 'defaultQuota.storage', value: formatStorage(have.defaultQuota.storage) });
    if (capabilities.quota.messages) fields.push({ field: 'defaultQuota.messages', value: formatMessages(have.defaultQuota.messages) });
  }
  return fields;
}

