// The one shape in which desired and observed state meet. Every backend adapter reports what it
// sees in this shape; the desired state is compiled into it; the diff compares the two field by
// field. Lists are sorted and addresses normalised so that equal means equal.
import type { ObjectRef, QuotaLimits } from '../model/config.ts';
import type { Sensitive } from '../model/sensitive.ts';

export interface DomainState {
  name: string;
  aliasDomains: string[];
  /** Default limits for the domain's users, where the backend has such a level. */
  defaultQuota: QuotaLimits;
}

export interface UserState {
  address: string;
  displayName: string | null;
  disabled: boolean;
  extraAddresses: string[];
  forwards: string[];
  /** Deliver to the mailbox as well as to the forwards. */
  keepCopy: boolean;
  /** The user's own limits (where the backend has levels) or the effective ones (where not). */
  quota: QuotaLimits;
}

export interface GroupState {
  address: string;
  members: string[];
}

/** What a backend reports; also the desired state without its bookkeeping. */
export interface BackendState {
  domains: Map<string, DomainState>;
  users: Map<string, UserState>;
  groups: Map<string, GroupState>;
  /** Server-wide default limits, where the backend has them. */
  globalQuota: QuotaLimits;
}

export function emptyState(): BackendState {
  return { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } };
}

export interface DesiredDomain extends DomainState {
  owner: ObjectRef;
  prune: { enabled: boolean; maxUserDeletionPercent: number };
}

export interface DesiredUser extends UserState {
  owner: ObjectRef;
  domain: string;
  password: Sensitive;
  /** Keyed fingerprint of the password (see state/fingerprint.ts); never the password. */
  passwordFingerprint: string;
}

export interface DesiredGroup extends GroupState {
  owner: ObjectRef;
  domain: string;
}

/** A declared field the backend cannot represent: shown in the plan, never silently dropped. */
export interface NotApplicable {
  resource: ResourceKind;
  key: string;
  owner: ObjectRef;
  field: string;
  value: unknown;
  reason: string;
}

export interface DesiredBackendState {
  domains: Map<string, DesiredDomain>;
  users: Map<string, DesiredUser>;
  groups: Map<string, DesiredGroup>;
  /** null: the configuration does not manage the global level on this backend. */
  globalQuota: { owner: ObjectRef; limits: QuotaLimits } | null;
  notApplicable: NotApplicable[];
}

export type ResourceKind = 'domain' | 'user' | 'group' | 'globalQuota';

/** What mailops last applied for an object on a backend: the only memory of write-only fields. */
export interface AppliedRecord {
  address: string;
  passwordFingerprint: string | null;
}
