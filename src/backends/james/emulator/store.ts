// What the James memory server keeps: domains, users (with a password hash only), quotas at three levels and
// mailboxes, in metered collections (../../emulator/store.ts) indexed so that a request touches only what it is
// about. The recipient rewrite table is in rewrite-table.ts.

import { createHash } from 'node:crypto';
import { createMeteredStore, entryOf, type MeteredStore, type SetIndex } from '../../emulator/store.ts';
import { RewriteTable } from './rewrite-table.ts';
import type { Username } from './names.ts';

export type QuotaValue = number | null;
export interface QuotaLimits {
  /** null = unset, -1 = unlimited. */
  count: QuotaValue;
  size: QuotaValue;
}

export interface Mailbox {
  readonly id: string;
  messageCount: number;
  size: number;
}

export interface JamesStore {
  readonly collections: MeteredStore;
  readonly defaultDomain: string;
  readonly domains: Set<string>;
  /** username → SHA-256 of the password (the emulator keeps no password). Change it with putUser / deleteUser. */
  readonly users: Map<string, string>;
  /** domain → its users. */
  readonly usersByDomain: SetIndex<string, string>;
  readonly mappings: RewriteTable;
  readonly globalQuota: QuotaLimits;
  readonly domainQuotas: Map<string, QuotaLimits>;
  readonly userQuotas: Map<string, QuotaLimits>;
  /** username → mailbox name → mailbox; mailboxes outlive their user, as in James. */
  readonly mailboxes: Map<string, Map<string, Mailbox>>;
  nextMailboxId: number;
}

export function createJamesStore(defaultDomain: string): JamesStore {
  const collections = createMeteredStore();
  return {
    collections,
    defaultDomain,
    domains: collections.set([defaultDomain]),
    users: collections.map(),
    usersByDomain: collections.index(),
    mappings: new RewriteTable(collections),
    globalQuota: { count: null, size: null },
    domainQuotas: collections.map(),
    userQuotas: collections.map(),
    mailboxes: collections.map(),
    nextMailboxId: 1,
  };
}

export function passwordHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

/** Creates a user or changes its password. */
export function putUser(store: JamesStore, username: Username, password: string): void {
  store.users.set(username.name, passwordHash(password));
  store.usersByDomain.add(username.domain ?? '', username.name);
}

export function deleteUser(store: JamesStore, username: Username): void {
  if (store.users.delete(username.name)) store.usersByDomain.delete(username.domain ?? '', username.name);
}

export function limitsOf(map: Map<string, QuotaLimits>, key: string): QuotaLimits {
  return entryOf(map, key, () => ({ count: null, size: null }));
}

export function mailboxesOf(store: JamesStore, username: string): Map<string, Mailbox> {
  return entryOf(store.mailboxes, username, () => store.collections.map());
}

/** Creates a mailbox and its missing parents (`INBOX.work` creates `INBOX`); the hierarchy delimiter is `.`. */
export function createMailbox(store: JamesStore, username: string, name: string): Mailbox {
  const mailboxes = mailboxesOf(store, username);
  const parts = name.split('.');
  let created: Mailbox | undefined;
  for (let depth = 1; depth <= parts.length; depth += 1) {
    const path = parts.slice(0, depth).join('.');
    created = mailboxes.get(path);
    if (created === undefined) {
      created = { id: String(store.nextMailboxId++), messageCount: 0, size: 0 };
      mailboxes.set(path, created);
    }
  }
  return created as Mailbox;
}

/** What a user's mailboxes hold: the quota "occupation". */
export function usageOf(store: JamesStore, username: string): { count: number; size: number } {
  let count = 0;
  let size = 0;
  for (const mailbox of store.mailboxes.get(username)?.values() ?? []) {
    count += mailbox.messageCount;
    size += mailbox.size;
  }
  return { count, size };
}
