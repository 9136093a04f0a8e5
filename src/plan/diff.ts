// Desired vs observed → ordered changes for one backend. Pure: no I/O, no clock.
//
// Order: domains, then users, then aliases, then the global quota; deletes afterwards in the
// reverse order (aliases, users, domains). Ownership: only what the configuration declares is
// created or changed, and only a MailDomain with prune enabled lets undeclared users and aliases
// of that domain be deleted — never anything in a domain the configuration does not declare.
import { describeObject, objectKey, type QuotaLimits } from '../model/config.ts';
import { formatMessages, formatStorage } from '../model/quantity.ts';
import type { Capabilities } from './capabilities.ts';
import type { Change, DomainChange, FieldChange, GlobalQuotaChange, GroupChange, UserChange } from './plan.ts';
import type {
  AppliedRecord,
  BackendState,
  DesiredBackendState,
  DesiredDomain,
  DesiredUser,
  DomainState,
  UserState,
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
  refusals: string[];
}

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
  const domainCreates = new Set<string>();

  // --- domains
  for (const want of desired.domains.values()) {
    const have = observed.domains.get(want.name);
    if (!have) {
      domainCreates.add(want.name);
      changes.push(domainChange('create', want, null, domainFields(null, want, capabilities)));
      continue;
    }
    const fields = domainFields(have, want, capabilities);
    if (fields.length > 0) changes.push(domainChange('update', want, have, fields));
  }
  const dependsOnDomain = (domain: string) => (domainCreates.has(domain) ? [`domain:${domain}`] : []);

  // --- users
  const renamedFrom = new Set<string>();
  for (const want of desired.users.values()) {
    const record = records.get(objectKey(want.owner));
    const have = observed.users.get(want.address);
    const previous = record && record.address !== want.address ? observed.users.get(record.address) : undefined;

    if (previous && capabilities.rename !== 'none' && !desired.users.has(record!.address)) {
      // The same MailUser now has another address: keep its mailbox by moving it.
      renamedFrom.add(previous.address);
      const fields: FieldChange[] = [
        { field: 'address', before: previous.address, after: want.address },
        ...userFields(previous, want, null, capabilities).filter((f) => f.field !== 'password'),
        { field: 'password', sensitive: true },
      ];
      changes.push(
        change<UserChange>({ resource: 'user', action: 'replace', key: want.address, owner: want.owner, before: previous, after: want, renameFrom: previous.address, fields, dependsOn: dependsOnDomain(want.domain) }),
      );
      continue;
    }
    if (!have) {
      changes.push(
        change<UserChange>({ resource: 'user', action: 'create', key: want.address, owner: want.owner, before: null, after: want, fields: userFields(null, want, null, capabilities), dependsOn: dependsOnDomain(want.domain) }),
      );
      continue;
    }
    const recordedFingerprint = record?.address === want.address ? record.passwordFingerprint : null;
    const fields = userFields(have, want, recordedFingerprint, capabilities);
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
    const fields = quotaFields('', observed.globalQuota, desired.globalQuota.limits);
    if (fields.length > 0) {
      changes.push(
        change<GlobalQuotaChange>({ resource: 'globalQuota', action: 'update', key: 'global', owner: desired.globalQuota.owner, before: observed.globalQuota, after: desired.globalQuota.limits, fields }),
      );
    }
  }

  // --- prune: undeclared users and aliases of domains that opted in
  const refusals: string[] = [];
  for (const domain of desired.domains.values()) {
    if (!domain.prune.enabled) continue;
    const reason = `not declared; ${describeObject(domain.owner)} prunes`;
    const inDomain = (address: string) => address.endsWith(`@${domain.name}`);
    const observedUsers = [...observed.users.keys()].filter(inDomain);
    const userDeletes = observedUsers.filter((a) => !desired.users.has(a) && !renamedFrom.has(a));
    for (const address of userDeletes) {
      changes.push(change<UserChange>({ resource: 'user', action: 'delete', key: address, owner: domain.owner, before: observed.users.get(address)!, after: null, fields: [], reason }));
    }
    for (const group of observed.groups.values()) {
      if (!inDomain(group.address) || desired.groups.has(group.address)) continue;
      changes.push(
        change<GroupChange>({ resource: 'group', action: 'delete', key: group.address, owner: domain.owner, before: group, after: null, fields: setField('members', group.members, []), reason }),
      );
    }
    const limit = domain.prune.maxUserDeletionPercent;
    if (userDeletes.length > 0 && userDeletes.length * 100 > observedUsers.length * limit && !input.allowMassDeletion) {
      refusals.push(
        `${describeObject(domain.owner)}: the plan would delete ${userDeletes.length} of the ${observedUsers.length} users of ${domain.name} ` +
          `(more than maxUserDeletionPercent: ${limit}%); check the configuration, or pass --allow-mass-deletion`,
      );
    }
  }

  return { changes: orderChanges(changes), refusals };
}

/** One change; the id is derived from resource and key, so it is the same in every plan. */
function change<C extends Change>(fields: Omit<C, 'id' | 'dependsOn'> & { dependsOn?: string[] }): C {
  return { id: `${fields.resource}:${fields.key}`, dependsOn: [], ...fields } as unknown as C;
}

function orderChanges(changes: Change[]): Change[] {
  const phase = (c: Change) => PHASE[`${c.resource}:${c.action}`] ?? 9;
  return changes.sort((a, b) => phase(a) - phase(b) || a.key.localeCompare(b.key));
}

function domainChange(action: 'create' | 'update', want: DesiredDomain, have: DomainState | null, fields: FieldChange[]): DomainChange {
  return change<DomainChange>({ resource: 'domain', action, key: want.name, owner: want.owner, before: have, after: want, fields });
}

function domainFields(have: DomainState | null, want: DesiredDomain, capabilities: Capabilities): FieldChange[] {
  return [
    ...setField('aliasDomains', have?.aliasDomains ?? [], want.aliasDomains),
    ...(capabilities.quota.domainDefault
      ? quotaFields('defaultQuota.', have?.defaultQuota ?? { storage: null, messages: null }, want.defaultQuota)
      : []),
  ];
}

function userFields(
  have: UserState | null,
  want: DesiredUser,
  recordedFingerprint: string | null,
  capabilities: Capabilities,
): FieldChange[] {
  const fields: FieldChange[] = [];
  if (!have) {
    fields.push({ field: 'password', sensitive: true });
  } else if (recordedFingerprint !== want.passwordFingerprint) {
    fields.push({
      field: 'password',
      sensitive: true,
      ...(recordedFingerprint === null ? { note: 'not set by mailops before; it will be set once' } : {}),
    });
  }
  if (capabilities.displayName && (have?.displayName ?? null) !== want.displayName) {
    fields.push({ field: 'displayName', before: have?.displayName ?? null, after: want.displayName });
  }
  if (capabilities.disableUser && (have?.disabled ?? false) !== want.disabled) {
    fields.push({ field: 'disabled', before: have?.disabled ?? false, after: want.disabled });
  }
  fields.push(...setField('extraAddresses', have?.extraAddresses ?? [], want.extraAddresses));
  fields.push(...setField('forwarding.to', have?.forwards ?? [], want.forwards));
  if ((have?.keepCopy ?? false) !== want.keepCopy && (want.forwards.length > 0 || have?.keepCopy)) {
    fields.push({ field: 'forwarding.keepCopy', before: have?.keepCopy ?? false, after: want.keepCopy });
  }
  fields.push(...quotaFields('quota.', have?.quota ?? { storage: null, messages: null }, want.quota));
  return fields;
}

function quotaFields(prefix: string, have: QuotaLimits, want: QuotaLimits): FieldChange[] {
  const fields: FieldChange[] = [];
  if (have.storage !== want.storage) {
    fields.push({ field: `${prefix}storage`, before: formatStorage(have.storage), after: formatStorage(want.storage) });
  }
  if (have.messages !== want.messages) {
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
