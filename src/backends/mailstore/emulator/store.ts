// What a MailStore Server keeps that the Administration API's user functions touch (mailstore.md): users with
// their full name, authentication, email addresses (first = primary), privileges, login privileges, folder
// privileges and a password. User names are case-insensitive, as Windows accounts are; the name keeps the case it
// was given. The built-in `admin` user exists from the start. Collections are metered (../../emulator/store.ts):
// a call about one user must cost the same however many users there are.

import { createMeteredStore, type MeteredStore } from '../../emulator/store.ts';

export const PRIVILEGES = ['none', 'admin', 'login', 'changePassword', 'archive', 'modifyArchiveProfiles', 'export', 'modifyExportProfiles', 'delete'] as const;
export const LOGIN_PRIVILEGES = ['none', 'windows', 'web', 'outlook', 'windowsCmd', 'imap', 'api'] as const;
export const FOLDER_PRIVILEGES = ['none', 'read', 'write', 'delete'] as const;
export const AUTHENTICATIONS = ['integrated', 'directoryServices'] as const;

export interface StoredUser {
  userName: string;
  fullName: string | null;
  distinguishedName: string | null;
  authentication: (typeof AUTHENTICATIONS)[number];
  emailAddresses: string[];
  pop3UserNames: string[];
  privileges: string[];
  loginPrivileges: string[];
  /** folder → privileges */
  privilegesOnFolders: Map<string, string[]>;
  /** Kept so tests can check what was set; a real server keeps a hash. Never in an answer. */
  password: string | null;
}

export interface MailStoreStore {
  readonly collections: MeteredStore;
  /** lower-cased user name → user */
  readonly users: Map<string, StoredUser>;
}

/** A refusal the way MailStore words it; the function that hit it answers with `error`. */
export class MailStoreRefusal extends Error {
  readonly details: string | null;
  constructor(message: string, details: string | null = null) {
    super(message);
    this.name = 'MailStoreRefusal';
    this.details = details;
  }
}

export function createMailStoreStore(): MailStoreStore {
  const collections = createMeteredStore();
  const store: MailStoreStore = { collections, users: collections.map() };
  putUser(store, {
    userName: 'admin',
    fullName: 'Administrator',
    distinguishedName: null,
    authentication: 'integrated',
    emailAddresses: [],
    pop3UserNames: [],
    privileges: ['admin'],
    loginPrivileges: ['windows', 'web', 'outlook', 'windowsCmd', 'imap', 'api'],
    privilegesOnFolders: new Map(),
    password: null,
  });
  return store;
}

export function putUser(store: MailStoreStore, user: StoredUser): void {
  store.users.set(user.userName.toLowerCase(), user);
}

export function findUser(store: MailStoreStore, userName: string): StoredUser | undefined {
  return store.users.get(userName.toLowerCase());
}

export function userOf(store: MailStoreStore, userName: string): StoredUser {
  const user = findUser(store, userName);
  if (user === undefined) throw new MailStoreRefusal(`User '${userName}' does not exist.`);
  return user;
}

/** A comma list of one of MailStore's privilege sets; `none` alone means the empty set. */
export function privilegeList(value: readonly string[], allowed: readonly string[], what: string): string[] {
  for (const item of value) {
    if (!allowed.includes(item)) throw new MailStoreRefusal(`Invalid ${what} '${item}'.`, `Allowed values: ${allowed.join(', ')}`);
  }
  const set = value.filter((item) => item !== 'none');
  if (set.length !== value.length && set.length > 0) throw new MailStoreRefusal(`Invalid ${what}: 'none' cannot be combined with other values.`);
  return [...new Set(set)];
}

const ADDRESS = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/** A user's email addresses, first = primary, each once. */
export function emailAddressList(value: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const address of value) {
    if (!ADDRESS.test(address)) throw new MailStoreRefusal(`Invalid email address '${address}'.`);
    if (seen.has(address.toLowerCase())) throw new MailStoreRefusal(`The email address '${address}' is listed twice.`);
    seen.add(address.toLowerCase());
  }
  return [...value];
}
