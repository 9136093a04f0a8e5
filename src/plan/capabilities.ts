import { DOMAIN_PROFILE_FIELDS, type DomainProfileField } from './state.ts';

// What a backend can represent. The planner reads this, not the backend's type, so a new backend
// only declares its capabilities and every unsupported field shows up as "not applicable".

export interface Capabilities {
  /**
   * Has a list of mail domains to create. An archive like MailStore has none: its users are
   * planned all the same, and the domain-level fields (aliasDomains, defaultQuota, prune) are
   * shown as not applicable.
   */
  domains: boolean;
  aliasDomains: boolean;
  displayName: boolean;
  disableUser: boolean;
  extraAddresses: boolean;
  forwarding: boolean;
  /** Forwarding can also keep the message in the mailbox. */
  keepCopy: boolean;
  /** Alias objects: an address delivering to one or more members. */
  groups: boolean;
  quota: {
    storage: boolean;
    messages: boolean;
    /** Limits per domain that users inherit; without it the effective limit is set per user. */
    domainDefault: boolean;
    /** Server-wide limits; without it the global default is folded into each user. */
    global: boolean;
    /**
     * The backend stores storage limits in multiples of this many bytes (iRedAdmin-Pro and
     * Open-Xchange: megabytes, 1 MiB). A declared limit is rounded **up** to it, so that a user
     * never gets less than declared and the stored value never shows as a lasting difference.
     */
    storageUnit: number;
    /**
     * The backend keeps a per-domain default that it copies into accounts when they are created
     * (iRedAdmin-Pro's defaultQuota), rather than one users inherit: a domain's defaultQuota is set
     * there too, and still folded into each user.
     */
    domainDefaultCopied?: boolean;
  };
  /**
   * Domain settings beyond alias domains (iRedAdmin-Pro): a display name, disabling the whole
   * domain, and storage ceilings (all mailboxes together, and the largest per user). Absent: none;
   * a list: only those (Open-Xchange: a context can be disabled and has a quota of its own).
   */
  domainProfile?: boolean | readonly DomainProfileField[];
  /** Throttling of inbound and outbound mail, server-wide, per domain and per user. Absent: none. */
  throttling?: boolean;
  /** How an address change keeps the mailbox: a backend task that moves data, a rename call, or not at all. */
  rename: 'task' | 'call' | 'none';
  /**
   * `one-user`: an alias is only an address of a user, so it may have exactly one member, a user
   * this backend serves (MailStore: one more email address of that archive user). Other aliases
   * are not applicable there.
   */
  aliasMembers?: 'any' | 'one-user';
  /**
   * Backend-specific user fields owned on every user this backend serves, from the MailBackend's
   * settings (MailStore's privileges), compared as sets. A key that is absent is not managed.
   */
  ownedUserSettings?: Readonly<Record<string, readonly string[]>>;
  /** What deleting a user means there, said next to each delete in the plan (MailStore keeps the archive). */
  userDeletion?: string;
}

/** A storage limit in bytes as the backend will store it (see `storageUnit`). */
export function roundStorage(bytes: number, unit: number): number {
  return unit <= 1 ? bytes : Math.ceil(bytes / unit) * unit;
}

/** The domain-profile fields the backend can hold. */
export function domainProfileFields(capabilities: Capabilities): readonly DomainProfileField[] {
  return capabilities.domainProfile === true ? DOMAIN_PROFILE_FIELDS : capabilities.domainProfile || [];
}
