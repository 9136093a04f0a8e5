// What a backend can represent. The planner reads this, not the backend's type, so a new backend
// only declares its capabilities and every unsupported field shows up as "not applicable".

export interface Capabilities {
  /** Has a list of mail domains to create (an archive like MailStore has none). */
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
  };
  /** How an address change keeps the mailbox: a backend task that moves data, a rename call, or not at all. */
  rename: 'task' | 'call' | 'none';
}
