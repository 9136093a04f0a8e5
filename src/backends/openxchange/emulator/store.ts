// What an Open-Xchange installation keeps, as its provisioning and REST APIs show it (shared/backends/openxchange.md):
// contexts with their login mappings, filestore quota and admin; users per context with their addresses; and the
// sessions users have open. Collections are metered (../../emulator/store.ts) and indexed (login mapping → context,
// user name and mail address → user per context), so that a call about one object costs the same however many
// the installation holds.

import { createHash, randomBytes } from 'node:crypto';
import { createMeteredStore, type MeteredStore } from '../../emulator/store.ts';

export interface UserRecord {
  readonly id: number;
  readonly name: string;
  displayName: string;
  givenName: string;
  surName: string;
  /** SHA-256 of the password: the emulator keeps no password. */
  passwordHash: string;
  primaryEmail: string;
  email1: string;
  /** The user's addresses, the primary one among them (OX's convention). */
  aliases: string[];
  mailEnabled: boolean;
  /** Filestore quota in MB; -1: unlimited. */
  maxQuota: number;
  language: string;
  timezone: string;
}

export interface ContextRecord {
  readonly id: number;
  name: string;
  enabled: boolean;
  /** Filestore quota in MB; -1: unlimited. */
  maxQuota: number;
  /** Login mappings given explicitly; the id and the name map to the context as well. */
  loginMappings: Set<string>;
  readonly adminId: number;
  readonly users: Map<number, UserRecord>;
  readonly userByName: Map<string, number>;
  /** Every address of every user of the context → the user's id. */
  readonly userByAddress: Map<string, number>;
  nextUserId: number;
  /** Module quotas set with changeQuota (`calendar` …), in the module's unit. */
  readonly moduleQuotas: Map<string, number>;
}

export interface SessionRecord {
  readonly id: string;
  readonly contextId: number;
  readonly userId: number;
}

export interface OXStore {
  readonly collections: MeteredStore;
  readonly contexts: Map<number, ContextRecord>;
  /** Login mapping (the id and the name included) → context id. */
  readonly contextByMapping: Map<string, number>;
  readonly sessions: Map<string, SessionRecord>;
  nextContextId: number;
}

/** The context admin's user id: the first user of every context. */
export const ADMIN_USER_ID = 2;

export function createOXStore(): OXStore {
  const collections = createMeteredStore();
  return { collections, contexts: collections.map(), contextByMapping: collections.map(), sessions: collections.map(), nextContextId: 1 };
}

export function passwordHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

export function newContext(store: OXStore, id: number, name: string, maxQuota: number, mappings: readonly string[]): ContextRecord {
  const context: ContextRecord = {
    id,
    name,
    enabled: true,
    maxQuota,
    loginMappings: store.collections.set(mappings),
    adminId: ADMIN_USER_ID,
    users: store.collections.map(),
    userByName: store.collections.map(),
    userByAddress: store.collections.map(),
    nextUserId: ADMIN_USER_ID,
    moduleQuotas: store.collections.map(),
  };
  store.contexts.set(id, context);
  for (const mapping of mappingsOf(context)) store.contextByMapping.set(mapping, id);
  store.nextContextId = Math.max(store.nextContextId, id + 1);
  return context;
}

/** Every login mapping of a context: its id, its name and the explicit ones. */
export function mappingsOf(context: ContextRecord): string[] {
  return [...new Set([String(context.id), context.name, ...context.loginMappings])];
}

export function setMappings(store: OXStore, context: ContextRecord, name: string, explicit: readonly string[]): void {
  for (const mapping of mappingsOf(context)) store.contextByMapping.delete(mapping);
  context.name = name;
  context.loginMappings = store.collections.set(explicit);
  for (const mapping of mappingsOf(context)) store.contextByMapping.set(mapping, context.id);
}

export function deleteContext(store: OXStore, context: ContextRecord): void {
  for (const mapping of mappingsOf(context)) store.contextByMapping.delete(mapping);
  store.contexts.delete(context.id);
  for (const session of [...store.sessions.values()]) if (session.contextId === context.id) store.sessions.delete(session.id);
}

export function putUser(context: ContextRecord, user: UserRecord, previous?: UserRecord): void {
  if (previous) for (const address of previous.aliases) context.userByAddress.delete(address);
  context.users.set(user.id, user);
  context.userByName.set(user.name, user.id);
  for (const address of user.aliases) context.userByAddress.set(address, user.id);
}

export function removeUser(context: ContextRecord, user: UserRecord): void {
  context.users.delete(user.id);
  context.userByName.delete(user.name);
  for (const address of user.aliases) context.userByAddress.delete(address);
}

export function openSession(store: OXStore, contextId: number, userId: number): string {
  const id = randomBytes(16).toString('hex');
  store.sessions.set(id, { id, contextId, userId });
  return id;
}
