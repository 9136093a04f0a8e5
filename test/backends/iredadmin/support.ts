// What the iRedAdmin-Pro tests share: emulators started per test and closed after it, a MailBackend manifest, a
// client with test-sized limits, and plain API calls (curl-like) to set up and inspect a server independently of
// the code under test.
import { IRedAdminClient } from '../../../src/backends/iredadmin/client.ts';
import { startIRedAdminEmulator, type IRedAdminEmulator, type IRedAdminEmulatorOptions } from '../../../src/backends/iredadmin/emulator.ts';
import { startJamesEmulator, type JamesEmulator } from '../../../src/backends/james/emulator.ts';
import type { ConnectionOptions } from '../../../src/backends/http/index.ts';
import { closeAfterEach } from '../../support/emulators.ts';
import { backend } from '../../support/manifests.ts';

export const ADMIN = { user: 'postmaster@example.org', password: 'Admin-S3cret!' } as const;

/** Starts emulators for one test; every one of them is closed after it. */
export function useEmulators(): {
  iredadmin(options?: IRedAdminEmulatorOptions): Promise<IRedAdminEmulator>;
  james(): Promise<JamesEmulator>;
} {
  const keep = closeAfterEach();
  return {
    iredadmin: async (options = {}) => keep(await startIRedAdminEmulator({ user: ADMIN.user, password: ADMIN.password, ...options })),
    james: async () => keep(await startJamesEmulator({})),
  };
}

export function connection(url: string, overrides: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { backend: 'iredadmin', baseUrl: url, concurrency: 4, requestsPerSecond: 1000, timeoutMs: 5000, retries: 0, ...overrides };
}

export function clientFor(url: string, password: string = ADMIN.password): IRedAdminClient {
  return new IRedAdminClient(connection(url), { username: ADMIN.user, password });
}

/** A MailBackend manifest for an iRedAdmin-Pro emulator; its admin password is the secret `<name>-admin`. */
export function iredadminBackend(url: string, name = 'iredadmin', extra = ''): string {
  const credentials = `  limits: {retries: 0}\n  credentials:\n    username: ${ADMIN.user}\n    passwordSecretRef: {name: ${name}-admin, key: password}\n`;
  return backend(name, url, credentials + extra).replace('type: james', 'type: iredadmin');
}

export interface RawAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Plain API calls with a cookie jar of one session, as `curl -b cookie.txt` would make them. */
export class RawIRedAdmin {
  readonly url: string;
  #cookie = '';
  constructor(url: string) {
    this.url = url;
  }
  async login(username: string = ADMIN.user, password: string = ADMIN.password): Promise<RawAnswer> {
    const response = await fetch(`${this.url}/api/login`, { method: 'POST', body: new URLSearchParams({ username, password }) });
    this.#cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }
  async call(method: string, path: string, form?: Record<string, string>): Promise<RawAnswer> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: this.#cookie ? { cookie: this.#cookie } : {},
      ...(form ? { body: new URLSearchParams(form) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
  }
  /** The call's `_data`; throws when it failed. */
  async data(path: string): Promise<unknown> {
    const answer = await this.call('GET', path);
    if (answer.body['_success'] !== true) throw new Error(`GET ${path}: ${JSON.stringify(answer.body)}`);
    return answer.body['_data'];
  }
  async ok(method: string, path: string, form?: Record<string, string>): Promise<void> {
    const answer = await this.call(method, path, form);
    if (answer.body['_success'] !== true) throw new Error(`${method} ${path}: ${JSON.stringify(answer.body)}`);
  }
}

/** An emulator with the admin logged in through RawIRedAdmin. */
export async function loggedIn(emulator: IRedAdminEmulator): Promise<RawIRedAdmin> {
  const raw = new RawIRedAdmin(emulator.url);
  await raw.login();
  return raw;
}
