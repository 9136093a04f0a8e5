// The two places the James contract suite runs: the emulator (JWT on, a key pair per run) and the
// real Apache James 3.8.1 that the global setup started. Tests reach both only over HTTP.
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, importPKCS8 } from 'jose';
import { afterAll, beforeAll, inject, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';

export interface JamesTarget {
  name: string;
  url: string;
  token: string;
  raw: RawJames;
  emulator?: JamesEmulator;
  close(): Promise<void>;
}

export interface TargetFactory {
  name: string;
  /** Whether this target can run here (the real one is skipped with MAILOPS_SKIP_REAL_JAMES=1). */
  available: boolean;
  start(): Promise<JamesTarget>;
}

export async function signedToken(privateKeyPem: string, claims: Record<string, unknown> = { admin: true }): Promise<string> {
  const key = await importPKCS8(privateKeyPem, 'RS256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setSubject('admin@mailops.test').setIssuedAt().sign(key);
}

export const emulatorTarget: TargetFactory = {
  name: 'emulator',
  available: true,
  async start() {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const emulator = await startJamesEmulator({
      jwtPublicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      taskDurationMs: 100,
    });
    const token = await signedToken(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    return { name: 'emulator', url: emulator.url, token, raw: new RawJames(emulator.url, token), emulator, close: () => emulator.close() };
  },
};

const realJames = inject('realJames');

export const realTarget: TargetFactory = {
  name: 'real James 3.8.1',
  available: realJames !== null,
  async start() {
    if (!realJames) throw new Error('no real James (MAILOPS_SKIP_REAL_JAMES=1)');
    return { name: 'real James 3.8.1', url: realJames.url, token: realJames.token, raw: new RawJames(realJames.url, realJames.token), close: async () => {} };
  },
};

export const TARGETS: TargetFactory[] = [emulatorTarget, realTarget];

/**
 * For a describe block run once per target: starts the target before its tests and closes it after them.
 * `test` is `it`, or `it.skip` where the target cannot run here.
 */
export function startedOnce(factory: TargetFactory): { readonly target: JamesTarget; readonly test: typeof it | typeof it.skip } {
  let started: JamesTarget | undefined;
  beforeAll(async () => {
    if (factory.available) started = await factory.start();
  });
  afterAll(() => started?.close());
  return {
    get target(): JamesTarget {
      if (started === undefined) throw new Error(`${factory.name} is not started`);
      return started;
    },
    test: factory.available ? it : it.skip,
  };
}

/** What a WebAdmin call answered, read the way a client (or curl) sees it. */
export interface RawAnswer {
  status: number;
  contentType: string | null;
  location: string | null;
  text: string;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  body: unknown;
  json: () => unknown;
}

export interface RawRequestOptions {
  /** Sent as is when a string, else as JSON. */
  body?: unknown;
  /** Added to (or replacing) the admin token and the JSON content type. */
  headers?: Record<string, string>;
}

/** Plain WebAdmin calls, to set up and inspect a server independently of the adapter under test. */
export class RawJames {
  readonly url: string;
  readonly #token: string | undefined;
  /** Without a token, calls carry no credentials. */
  constructor(url: string, token?: string) {
    this.url = url;
    this.#token = token;
  }
  async call(method: string, path: string, body?: unknown): Promise<RawAnswer> {
    return this.request(method, path, body === undefined ? {} : { body });
  }
  async request(method: string, path: string, options: RawRequestOptions = {}): Promise<RawAnswer> {
    const { body } = options;
    const response = await fetch(this.url + path, {
      method,
      headers: {
        ...(this.#token !== undefined ? { authorization: `Bearer ${this.#token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      location: response.headers.get('location'),
      text,
      body: parsed,
      json: () => JSON.parse(text),
    };
  }
  async ok(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.call(method, path, body);
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    return response.text ? response.json() : undefined;
  }
  /** Whether the user can log in with this password. */
  async passwordWorks(user: string, password: string): Promise<boolean> {
    return (await this.call('POST', `/users/${user}/verify`, { password })).status === 204;
  }
  async mappings(): Promise<Record<string, Array<{ type: string; mapping: string }>>> {
    return (await this.ok('GET', '/mappings')) as Record<string, Array<{ type: string; mapping: string }>>;
  }
  async users(): Promise<string[]> {
    return ((await this.ok('GET', '/users')) as Array<{ username: string }>).map((u) => u.username).sort();
  }
}

/** A domain name no other test uses, so that tests can share one real server. */
export function uniqueDomain(prefix = 'contract'): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}.test`;
}
