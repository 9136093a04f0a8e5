// What an iRedAdmin-Pro server (SQL edition) keeps, as its API shows it: domains with their settings and alias
// domains, mailboxes (quota in MB, per-user alias addresses, forwardings), alias accounts with members, iRedAPD
// throttle settings, and the mailboxes of deleted accounts waiting to be purged (keep_mailbox_days). Collections
// are metered (../../emulator/store.ts) and indexed by domain, so that a request about one account costs the same
// however many the server holds. Facts: shared/backends/iredadmin.md.

import { createHash } from 'node:crypto';
import { createMeteredStore, type MeteredStore, type SetIndex } from '../../emulator/store.ts';

export interface DomainRecord {
  readonly domain: string;
  /** The domain's `name` (SQL column `description`). */
  description: string;
  /** Storage of the whole domain, in MB; 0 = unlimited (SQL column `maxquota`). */
  maxquota: number;
  active: boolean;
  transport: string;
  language: string;
  /** Per-user defaults and ceilings, in MB; 0 = none. */
  defaultUserQuota: number;
  maxUserQuota: number;
  /** Account limits; 0 = unlimited. */
  mailboxes: number;
  aliases: number;
  created: string;
  modified: string;
}

export interface MailboxRecord {
  readonly username: string;
  readonly domain: string;
  /** SHA-256 of the password: the emulator keeps no password. */
  passwordHash: string;
  name: string;
  language: string;
  /** In MB; 0 = unlimited. */
  quota: number;
  active: boolean;
  employeeid: string;
  transport: string;
  /** Per-user alias addresses, in the user's own domain. */
  aliases: Set<string>;
  /** Forwarding addresses; the user's own address among them keeps a copy in the mailbox. */
  forwardings: Set<string>;
  storedBytes: number;
  created: string;
  modified: string;
}

export interface AliasRecord {
  readonly address: string;
  readonly domain: string;
  name: string;
  accesspolicy: string;
  active: boolean;
  members: Set<string>;
  created: string;
}

export type ThrottleKind = 'inbound' | 'outbound';

/** One iRedAPD throttle setting; a limit of 0 (global) or -1 (domain, user) is no limit. */
export interface ThrottleRecord {
  /** `@.` (global), `@example.com` (a domain) or `user@example.com`. */
  readonly account: string;
  readonly kind: ThrottleKind;
  readonly priority: number;
  period: number;
  msg_size: number;
  max_msgs: number;
  max_quota: number;
}

/** A deleted account's mailbox, kept on disk until `deleteDate` (null: for good). */
export interface DeletedMailbox {
  readonly username: string;
  readonly domain: string;
  readonly deleted: string;
  readonly deleteDate: string | null;
}

export interface IRedAdminStore {
  readonly collections: MeteredStore;
  readonly domains: Map<string, DomainRecord>;
  /** alias domain → the domain it is an alias of. */
  readonly aliasDomains: Map<string, string>;
  readonly aliasDomainsOf: SetIndex<string, string>;
  readonly mailboxes: Map<string, MailboxRecord>;
  readonly mailboxesByDomain: SetIndex<string, string>;
  /** Per-user alias address → its user. */
  readonly userAliases: Map<string, string>;
  readonly aliases: Map<string, AliasRecord>;
  readonly aliasesByDomain: SetIndex<string, string>;
  /** `${account} ${kind}` → setting. */
  readonly throttles: Map<string, ThrottleRecord>;
  readonly deletedMailboxes: DeletedMailbox[];
  /** The clock, for created/modified stamps and purge dates. */
  readonly now: () => Date;
}

export function createIRedAdminStore(now: () => Date = () => new Date()): IRedAdminStore {
  const collections = createMeteredStore();
  return {
    collections,
    domains: collections.map(),
    aliasDomains: collections.map(),
    aliasDomainsOf: collections.index(),
    mailboxes: collections.map(),
    mailboxesByDomain: collections.index(),
    userAliases: collections.map(),
    aliases: collections.map(),
    aliasesByDomain: collections.index(),
    throttles: collections.map(),
    deletedMailboxes: [],
    now,
  };
}

export function passwordHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

export function timestamp(store: IRedAdminStore): string {
  return store.now().toISOString().slice(0, 19);
}

/** Whether the address is taken by any account: a mailbox, a per-user alias address or an alias account. */
export function addressTaken(store: IRedAdminStore, address: string): boolean {
  return store.mailboxes.has(address) || store.userAliases.has(address) || store.aliases.has(address);
}

/** Whether the domain is hosted here, as a domain or an alias domain. */
export function domainHosted(store: IRedAdminStore, domain: string): boolean {
  return store.domains.has(domain) || store.aliasDomains.has(domain);
}

/** The megabytes the domain's mailboxes are given together (their quotas, not what they use). */
export function allocatedQuota(store: IRedAdminStore, domain: string): number {
  let total = 0;
  for (const username of store.mailboxesByDomain.get(domain)) total += store.mailboxes.get(username)?.quota ?? 0;
  return total;
}

export function throttleKey(account: string, kind: ThrottleKind): string {
  return `${account} ${kind}`;
}

/** Removes a mailbox and everything that belongs to it, keeping its mail on disk as iRedAdmin-Pro does. */
export function deleteMailbox(store: IRedAdminStore, username: string, keepMailboxDays: number): void {
  const mailbox = store.mailboxes.get(username);
  if (!mailbox) return;
  for (const alias of mailbox.aliases) store.userAliases.delete(alias);
  store.mailboxes.delete(username);
  store.mailboxesByDomain.delete(mailbox.domain, username);
  for (const kind of ['inbound', 'outbound'] as const) store.throttles.delete(throttleKey(username, kind));
  const deleteDate = keepMailboxDays > 0 ? new Date(store.now().getTime() + keepMailboxDays * 86_400_000).toISOString().slice(0, 10) : null;
  store.deletedMailboxes.push({ username, domain: mailbox.domain, deleted: timestamp(store), deleteDate });
}

export function deleteAliasAccount(store: IRedAdminStore, address: string): void {
  const alias = store.aliases.get(address);
  if (!alias) return;
  store.aliases.delete(address);
  store.aliasesByDomain.delete(alias.domain, address);
}
