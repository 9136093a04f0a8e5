// What the Open-Xchange tests share: emulators started per test and closed after it, a MailBackend manifest, a
// client with test-sized limits, and plain SOAP calls to set up and inspect a server without the code under test.
import type { ConnectionOptions } from '../../../src/backends/http/index.ts';
import { startJamesEmulator, type JamesEmulator } from '../../../src/backends/james/emulator.ts';
import { OXClient, type OXCredentials } from '../../../src/backends/openxchange/client.ts';
import { startOpenXchangeEmulator, type OpenXchangeEmulator, type OpenXchangeEmulatorOptions } from '../../../src/backends/openxchange/emulator.ts';
import { closeAfterEach } from '../../support/emulators.ts';
import { backend } from '../../support/manifests.ts';

export const MASTER = { login: 'oxadminmaster', password: 'Master-S3cret!' } as const;
export const CONTEXT_ADMIN = { login: 'oxadmin', password: 'Context<Admin>&1' } as const;

/** The secrets a test configuration names: the two admins and the users' passwords. */
export const SECRETS = { 'ox-master': MASTER.password, 'ox-context-admin': CONTEXT_ADMIN.password, alice: 'Alice-S3cret!', bob: 'Bob-S3cret!', carol: 'Carol-S3cret!' };

/** Starts emulators for one test; every one of them is closed after it. */
export function useEmulators(): { openxchange(options?: OpenXchangeEmulatorOptions): Promise<OpenXchangeEmulator>; james(): Promise<JamesEmulator> } {
  const keep = closeAfterEach();
  return {
    openxchange: async (options = {}) => keep(await startOpenXchangeEmulator({ user: MASTER.login, password: MASTER.password, ...options })),
    james: async () => keep(await startJamesEmulator({})),
  };
}

export function connection(url: string, overrides: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { backend: 'openxchange', baseUrl: url, concurrency: 4, requestsPerSecond: 1000, timeoutMs: 5000, retries: 0, ...overrides };
}

export function clientFor(url: string, credentials: Partial<OXCredentials> = {}, overrides: Partial<ConnectionOptions> = {}): OXClient {
  return new OXClient(connection(url, overrides), { master: MASTER, contextAdmin: CONTEXT_ADMIN, ...credentials });
}

/** Runs `work` with a client of the server (the test's admins, or those given), closed afterwards. */
export async function usingClient<T>(url: string, work: (client: OXClient) => Promise<T>, credentials: Partial<OXCredentials> = {}, overrides: Partial<ConnectionOptions> = {}): Promise<T> {
  const client = clientFor(url, credentials, overrides);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** A MailBackend of type openxchange: master admin `ox-master`, context admin `ox-context-admin`, with `settings` added to its block. */
export function openxchangeBackend(url: string, settings = '', name = 'openxchange'): string {
  const spec = `  limits: {retries: 0}
  credentials:
    username: ${MASTER.login}
    passwordSecretRef: {name: ox-master, key: password}
  openxchange:
    contextAdmin: {username: ${CONTEXT_ADMIN.login}, passwordSecretRef: {name: ox-context-admin, key: password}}
${settings}`;
  return backend(name, url, spec).replace('type: james', 'type: openxchange');
}

/** Creates a context for `domain` with the test's context admin, as an administrator would with createcontext. */
export async function createContext(client: OXClient, domain: string, id?: number, adminPassword: string = CONTEXT_ADMIN.password): Promise<number> {
  const admin = `${CONTEXT_ADMIN.login}@${domain}`;
  const context = await client.createContext(
    { ...(id !== undefined ? { id } : {}), name: domain, maxQuota: 1000, loginMappings: [domain] },
    { name: CONTEXT_ADMIN.login, displayName: 'Admin', givenName: 'Context', surName: 'Admin', password: adminPassword, primaryEmail: admin, email1: admin },
  );
  return context.id;
}

/** A user made by hand in a context. */
export async function createUser(client: OXClient, contextId: number, address: string, more: Parameters<OXClient['createUser']>[1] extends infer F ? Partial<F> : never = {}) {
  const name = address.split('@')[0]!;
  return client.createUser(contextId, { name, displayName: name, givenName: name, surName: name, password: 'Hand-Made-1', primaryEmail: address, email1: address, ...more });
}
