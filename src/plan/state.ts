// The one shape in which desired and observed state meet. Every backend adapter reports what it
// sees in this shape; the desired state is compiled into it; the diff compares the two field by
// field. Lists are sorted and addresses normalised so that equal means equal.
import type { DeletionDecl, ObjectRef, QuotaLimits } from '../model/config.ts';
import type { Limit } from '../model/quantity.ts';
import type { Sensitive } from '../model/sensitive.ts';
import type { Throttle } from '../model/throttle.ts';

export interface DomainState {
  name: string;
  aliasDomains: string[];
  /** Default limits for the domain's users, where the backend has such a level. */
  defaultQuota: QuotaLimits;
  // The domain profile, where the backend has one (Capabilities.domainProfile); absent elsewhere.
  displayName?: string | null;
  disabled?: boolean;
  totalStorage?: Limit | null;
  maxUserStorage?: Limit | null;
  /** Where the backend throttles (Capabilities.throttling). */
  throttle?: Throttle;
  /** What the backend has of the settings a MailDomain can give its type (Open-Xchange: contextId). */
  settings?: Readonly<Record<string, unknown>>;
}

/** The domain-profile fields, in the order plans show them. */
export const DOMAIN_PROFILE_FIELDS = ['displayName', 'disabled', 'totalStorage', 'maxUserStorage'] as const;
export type DomainProfileField = (typeof DOMAIN_PROFILE_FIELDS)[number];

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
  /** Where the backend throttles (Capabilities.throttling). */
  throttle?: Throttle;
  /**
   * Where a backend keeps the user's addresses as a list of its own (MailStore), the one it treats
   * as primary (null: none at all); it must be the user's address. Absent elsewhere.
   */
  primaryAddress?: string | null;
  /** Backend-specific fields (Capabilities.ownedUserSettings), as sorted lists. */
  settings?: Readonly<Record<string, readonly string[]>>;
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
  globalQuota: GlobalLimits;
}

/** The server-wide level: default quota limits, and the throttle where the backend throttles. */
export interface GlobalLimits extends QuotaLimits {
  throttle?: Throttle;
}

export function emptyUser(address: string): UserState {
  return { address, displayName: null, disabled: false, extraAddresses: [], forwards: [], keepCopy: false, quota: { storage: null, messages: null } };
}

export function emptyState(): BackendState {
  return { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } };
}

/**
 * The desired state holds only what the configuration manages. An optional field that is absent
 * is not managed: it is observed and shown (`plan -v`), never changed. A field that is present is
 * owned whole (`extraAddresses: []` removes every extra address).
 */
export interface DesiredDomain {
  name: string;
  owner: ObjectRef;
  prune: { enabled: boolean; maxUserDeletionPercent: number };
  aliasDomains?: string[];
  /** The domain level, owned whole: a limit that is null there is unset (users inherit). */
  defaultQuota?: QuotaLimits;
  displayName?: string;
  disabled?: boolean;
  totalStorage?: Limit;
  maxUserStorage?: Limit;
  /** Owned whole: a direction that is null has no throttling at this level. */
  throttle?: Throttle;
  /** The MailDomain's settings for this backend's type (`spec.openxchange`), each owned. */
  settings?: Readonly<Record<string, unknown>>;
}

export interface DesiredUser {
  address: string;
  owner: ObjectRef;
  domain: string;
  /** null: the password secret could not be read; the user is declared but nothing is planned for it (but see passwordUnmanaged). */
  password: Sensitive | null;
  /**
   * The secret is optional and does not exist: the password is left as it is on the backend
   * (neither compared nor sent) while the other declared fields are planned; a user the backend
   * does not have cannot be created without it (a refusal).
   */
  passwordUnmanaged?: boolean;
  /** Keyed fingerprint of the password (see state/fingerprint.ts); never the password. */
  passwordFingerprint: string | null;
  displayName?: string;
  disabled?: boolean;
  extraAddresses?: string[];
  /** Present together: forwarding is owned whole. */
  forwards?: string[];
  keepCopy?: boolean;
  /** Per limit: absent = not managed; null = unset at the user level (inherits); a value = owned. */
  quota: Partial<QuotaLimits>;
  /** Owned whole when present. */
  throttle?: Throttle;
  /** Backend-specific fields owned on this backend (Capabilities.ownedUserSettings). */
  settings?: Readonly<Record<string, readonly string[]>>;
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
  /** The backend cannot hold the object at all (an Alias where there are no aliases, a domain where there are no domains). */
  wholeObject?: boolean;
}

export interface DesiredBackendState {
  domains: Map<string, DesiredDomain>;
  users: Map<string, DesiredUser>;
  groups: Map<string, DesiredGroup>;
  /**
   * null: the configuration does not manage the global level on this backend. Otherwise what it
   * manages there: the limits (where the backend has a global quota level), the throttle (where it
   * throttles), each owned whole.
   */
  globalQuota: { owner: ObjectRef; limits?: QuotaLimits; throttle?: Throttle } | null;
  /** Objects being deleted (in a cluster) that this backend holds or may hold. */
  deletions: DeletionDecl[];
  /** Addresses that prune leaves alone although nothing usable declares them (Config.reservedAddresses). */
  reserved?: ReadonlySet<string>;
  notApplicable: NotApplicable[];
  /**
   * Declared domains of a backend that has no domain objects (MailStore): nothing is planned for
   * them, but their prune setting still governs their users.
   */
  domainsWithoutObject?: DesiredDomain[];
}

export type ResourceKind = 'domain' | 'user' | 'group' | 'globalQuota';

/** A field of a declared object that the configuration leaves unset, with what the backend has. */
export interface UnmanagedField {
  field: string;
  value: unknown;
}

/** The fields mailops leaves alone on one declared object (shown by `plan -v`). */
export interface Unmanaged {
  resource: ResourceKind;
  key: string;
  owner: ObjectRef;
  fields: UnmanagedField[];
}

/** What mailops last applied for an object on a backend: the only memory of write-only fields. */
export interface AppliedRecord {
  address: string;
  passwordFingerprint: string | null;
}

/** The user as it will be once `want` is applied: the declared fields from `want`, the rest as `have`. */
export function userAfter(have: UserState, want: DesiredUser): UserState {
  return {
    address: want.address,
    displayName: want.displayName ?? have.displayName,
    disabled: want.disabled ?? have.disabled,
    extraAddresses: want.extraAddresses ?? have.extraAddresses,
    forwards: want.forwards ?? have.forwards,
    keepCopy: want.keepCopy ?? have.keepCopy,
    quota: quotaAfter(have.quota, want.quota),
    ...((want.throttle ?? have.throttle) ? { throttle: want.throttle ?? have.throttle } : {}),
    ...(have.primaryAddress !== undefined ? { primaryAddress: want.address } : {}),
    ...(have.settings || want.settings ? { settings: { ...have.settings, ...want.settings } } : {}),
  };
}

/** The domain as it will be once `want` is applied. */
export function domainAfter(have: DomainState | null, want: DesiredDomain): DomainState {
  const after: DomainState = {
    name: want.name,
    aliasDomains: want.aliasDomains ?? have?.aliasDomains ?? [],
    defaultQuota: want.defaultQuota ?? have?.defaultQuota ?? { storage: null, messages: null },
  };
  // The profile fields and the throttle exist only on backends that have them: absent stays absent.
  const displayName = want.displayName ?? have?.displayName;
  const disabled = want.disabled ?? have?.disabled;
  const totalStorage = want.totalStorage ?? have?.totalStorage;
  const maxUserStorage = want.maxUserStorage ?? have?.maxUserStorage;
  const throttle = want.throttle ?? have?.throttle;
  const settings = want.settings || have?.settings ? { ...have?.settings, ...want.settings } : undefined;
  return {
    ...after,
    ...(displayName !== undefined ? { displayName } : {}),
    ...(disabled !== undefined ? { disabled } : {}),
    ...(totalStorage !== undefined ? { totalStorage } : {}),
    ...(maxUserStorage !== undefined ? { maxUserStorage } : {}),
    ...(throttle !== undefined ? { throttle } : {}),
    ...(settings !== undefined ? { settings } : {}),
  };
}

export function quotaAfter(have: QuotaLimits, want: Partial<QuotaLimits>): QuotaLimits {
  return { storage: want.storage !== undefined ? want.storage : have.storage, messages: want.messages !== undefined ? want.messages : have.messages };
}
