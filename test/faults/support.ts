// What the faults suite shares: for each backend, an emulator started in process (faults switched on and off
// while it runs, with a seed so that a failure reproduces), a configuration that exercises what the backend holds,
// a view of its final state to compare exactly, and the requests that create something (to count how often the
// emulator executed them). The CLI runs as a user runs it (test/support/cli.ts).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FaultOptions, FaultTarget, RequestLogEntry, RunningEmulator } from '../../src/backends/emulator/server.ts';
import { startIRedAdminEmulator, type IRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { startOpenXchangeEmulator, type OpenXchangeEmulator } from '../../src/backends/openxchange/emulator.ts';
import { mailops, tempDir, type CliResult } from '../support/cli.ts';
import { RawJames } from '../support/james-targets.ts';
import { alias, backend, docs, domain, user } from '../support/manifests.ts';

/** Small limits keep the suite fast: a held answer costs one second, a failed attempt is repeated twice. */
export const LIMITS = '  limits: {timeoutSeconds: 1, retries: 2, concurrency: 2}\n';

export const USERS = ['alice', 'bob', 'carol', 'dave'] as const;
export const DOMAIN = 'example.com';

const ADMIN_PASSWORD = 'Adm1n-Faults!';
const CONTEXT_ADMIN_PASSWORD = 'Ctx-Adm1n-Faults!';

/** Every secret the configurations name, as the environment the CLI reads them from. */
export const SECRET_ENV: Record<string, string> = {
  ...Object.fromEntries(USERS.map((name) => [`MAILOPS_SECRET_${name.toUpperCase()}_PASSWORD`, passwordOf(name)])),
  MAILOPS_SECRET_BACKEND_ADMIN_PASSWORD: ADMIN_PASSWORD,
  MAILOPS_SECRET_CONTEXT_ADMIN_PASSWORD: CONTEXT_ADMIN_PASSWORD,
};

export function passwordOf(name: string): string {
  return `${name[0]!.toUpperCase()}${name.slice(1)}-F4ults!`;
}

/** One backend as the suite drives it. */
export interface FaultTargetBackend<E extends RunningEmulator = RunningEmulator> {
  readonly type: 'james' | 'iredadmin' | 'mailstore' | 'openxchange';
  start(): Promise<E>;
  /** The MailBackend, named `name`, with the suite's limits. */
  backendManifest(url: string, name: string): string;
  /** The domain's users and aliases, in the fields this backend can hold. */
  objects(backends: string[]): string[];
  /** Whether a request asks to create a user (aimed at by the lost-create tests). */
  createsUser(request: FaultTarget): boolean;
  /** Whether the request to create a user is safe to repeat (James: PUT). */
  readonly createIsIdempotent: boolean;
  /** The executed requests that created a user: one per user, whatever the faults, or a user was created twice. */
  creations(emulator: E): RequestLogEntry[];
  /** The backend's state, with what differs between two servers holding the same things (ids, times) taken out. */
  state(emulator: E): unknown;
  /** Whether every user logs in with the password its secret holds. */
  passwordsWork(emulator: E): Promise<boolean>;
}

function userFields(name: string, extra: string): string {
  return `  displayName: ${name[0]!.toUpperCase()}${name.slice(1)} Faults\n  extraAddresses: [${name}.f@${DOMAIN}]\n${extra}`;
}

function stripVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripVolatile);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !['created', 'modified', 'passwordlastchange', 'id', 'tasks'].includes(key))
      .map(([key, inner]) => [key, stripVolatile(inner)]),
  );
}

const byName = <T>(items: readonly T[], key: (item: T) => string): T[] => [...items].sort((a, b) => key(a).localeCompare(key(b)));

export const james: FaultTargetBackend<JamesEmulator> = {
  type: 'james',
  start: () => startJamesEmulator({}),
  backendManifest: (url, name) => backend(name, url, LIMITS),
  objects: (backends) => [
    domain(DOMAIN, '', backends),
    ...USERS.map((name) => user(`${name}@${DOMAIN}`, userFields(name, `  forwarding: {to: [${name}@home.example], keepCopy: true}\n  quota: {storage: 1Gi, messages: 1000}\n`))),
    alias(`team@${DOMAIN}`, [`alice@${DOMAIN}`, `bob@${DOMAIN}`]),
  ],
  createsUser: (request) => request.method === 'PUT' && /^\/users\/[^/]+$/.test(request.path),
  createIsIdempotent: true,
  // A repeated PUT /users/{name} (after a lost answer) finds the user and is refused with 409; the client then sets
  // the password with `?force`. Neither creates anything: what created is the PUT without force that was not refused.
  creations: (emulator) => executed(emulator, (r) => james.createsUser(r)).filter((entry) => entry.query === '' && entry.status !== 409),
  state: (emulator) => {
    const { users, ...state } = emulator.state;
    return stripVolatile({ ...state, users: [...users].sort() });
  },
  passwordsWork: async (emulator) => {
    const raw = new RawJames(emulator.url);
    for (const name of USERS) if (!(await raw.passwordWorks(`${name}@${DOMAIN}`, passwordOf(name)))) return false;
    return true;
  },
};

export const iredadmin: FaultTargetBackend<IRedAdminEmulator> = {
  type: 'iredadmin',
  start: () => startIRedAdminEmulator({ user: `postmaster@${DOMAIN}`, password: ADMIN_PASSWORD }),
  backendManifest: (url, name) =>
    backend(name, url, `${LIMITS}  credentials:\n    username: postmaster@${DOMAIN}\n    passwordSecretRef: {name: backend-admin, key: password}\n`).replace('type: james', 'type: iredadmin'),
  objects: (backends) => [
    domain(DOMAIN, '  displayName: Faults Inc\n', backends),
    ...USERS.map((name) => user(`${name}@${DOMAIN}`, userFields(name, `  forwarding: {to: [${name}@home.example], keepCopy: true}\n  quota: {storage: 1Gi}\n`))),
    alias(`team@${DOMAIN}`, [`alice@${DOMAIN}`, `bob@${DOMAIN}`]),
  ],
  createsUser: (request) => request.method === 'POST' && /^\/api\/user\/[^/]+$/.test(request.path),
  createIsIdempotent: false,
  creations: (emulator) => executed(emulator, (r) => iredadmin.createsUser(r)),
  state: (emulator) => {
    const { deletedMailboxes, ...state } = emulator.state;
    return stripVolatile({ ...state, deletedMailboxes: deletedMailboxes.length });
  },
  passwordsWork: async (emulator) => USERS.every((name) => emulator.passwordMatches(`${name}@${DOMAIN}`, passwordOf(name))),
};

export const mailstore: FaultTargetBackend<MailStoreEmulator> = {
  type: 'mailstore',
  start: () => startMailStoreEmulator({ password: ADMIN_PASSWORD, invokeWaitMs: 50 }),
  backendManifest: (url, name) =>
    backend(name, url, `${LIMITS}  credentials:\n    username: admin\n    passwordSecretRef: {name: backend-admin, key: password}\n`).replace('type: james', 'type: mailstore'),
  objects: (backends) => [
    domain(DOMAIN, '', backends),
    ...USERS.map((name) => user(`${name}@${DOMAIN}`, userFields(name, ''))),
    alias(`postmaster@${DOMAIN}`, [`alice@${DOMAIN}`]),
  ],
  createsUser: (request) => request.method === 'POST' && /\/CreateUser$/.test(request.path),
  createIsIdempotent: false,
  creations: (emulator) => executed(emulator, (r) => mailstore.createsUser(r)),
  state: (emulator) => byName(emulator.users, (u) => u.userName),
  passwordsWork: async (emulator) => USERS.every((name) => emulator.passwordMatches(`${name}@${DOMAIN}`, passwordOf(name))),
};

export const openxchange: FaultTargetBackend<OpenXchangeEmulator> = {
  type: 'openxchange',
  start: () => startOpenXchangeEmulator({ user: 'oxadminmaster', password: ADMIN_PASSWORD }),
  backendManifest: (url, name) =>
    backend(
      name,
      url,
      `${LIMITS}  credentials:\n    username: oxadminmaster\n    passwordSecretRef: {name: backend-admin, key: password}\n` +
        `  openxchange:\n    contextAdmin: {username: oxadmin, passwordSecretRef: {name: context-admin, key: password}}\n`,
    ).replace('type: james', 'type: openxchange'),
  objects: (backends) => [
    domain(DOMAIN, '  totalStorage: 100Gi\n', backends),
    ...USERS.map((name) => user(`${name}@${DOMAIN}`, userFields(name, '  quota: {storage: 1Gi}\n'))),
    alias(`postmaster@${DOMAIN}`, [`alice@${DOMAIN}`]),
  ],
  createsUser: (request) => request.action === 'urn:create' && request.path.endsWith('/OXUserService'),
  createIsIdempotent: false,
  creations: (emulator) => executed(emulator, (r) => openxchange.createsUser(r)),
  state: (emulator) => ({
    contexts: stripVolatile(emulator.contexts),
    users: stripVolatile(byName(emulator.users, (u) => u.name).map(({ contextId: _context, ...u }) => u)),
  }),
  passwordsWork: async (emulator) => {
    const context = emulator.contexts.find((c) => c.name === DOMAIN);
    return context !== undefined && USERS.every((name) => emulator.passwordMatches(context.id, name, passwordOf(name)));
  },
};

export const BACKENDS = [james, iredadmin, mailstore, openxchange] as const;

/** A configuration in a temporary folder, with a state directory of its own, run with the CLI. */
export class Workspace {
  readonly dir: string;
  /** Secrets (`MAILOPS_SECRET_…`) beyond the suite's own. */
  readonly env: Record<string, string> = {};
  private constructor(dir: string) {
    this.dir = dir;
  }
  static async create(): Promise<Workspace> {
    return new Workspace(await tempDir('mailops-faults-'));
  }
  get file(): string {
    return path.join(this.dir, 'config.yaml');
  }
  async write(...parts: string[]): Promise<void> {
    await writeFile(this.file, docs(...parts));
  }
  run(...args: string[]): Promise<CliResult> {
    return mailops([...args, '-f', this.file], { env: { ...SECRET_ENV, ...this.env, MAILOPS_STATE_DIR: path.join(this.dir, 'state') } });
  }
}

/** The mixed faults of the suite: 20 % of requests fail, each in one of the four ways, in a repeatable order. */
export function mixedFaults(seed: number): FaultOptions {
  return { failureRate: 0.2, failureMode: 'mixed', seed };
}

/** Faults the emulator injected, by kind, from its request log. */
export function faultsByKind(emulator: RunningEmulator): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of emulator.requestLog) if (entry.fault) counts[entry.fault] = (counts[entry.fault] ?? 0) + 1;
  return counts;
}

/** The requests of `emulator` that reached the backend's handler (a `status` or `reset` fault never does). */
export function executed(emulator: RunningEmulator, test: (request: FaultTarget) => boolean) {
  return emulator.requestLog.filter((entry) => entry.fault !== 'status' && entry.fault !== 'reset' && test(entry));
}

/** A workspace whose configuration is the target's objects on the emulator, as the backend `server`. */
export async function configured<E extends RunningEmulator>(target: FaultTargetBackend<E>, emulator: E): Promise<Workspace> {
  const workspace = await Workspace.create();
  await workspace.write(target.backendManifest(emulator.url, 'server'), ...target.objects(['server']));
  return workspace;
}

/** What one apply without faults leaves on a fresh emulator: the state every faulted sequence must end in. */
const references = new Map<string, unknown>();
export async function referenceState<E extends RunningEmulator>(target: FaultTargetBackend<E>): Promise<unknown> {
  if (!references.has(target.type)) {
    const emulator = await target.start();
    try {
      const result = await (await configured(target, emulator)).run('apply');
      if (result.code !== 0) throw new Error(`the reference apply on ${target.type} failed:\n${result.stdout}${result.stderr}`);
      references.set(target.type, target.state(emulator));
    } finally {
      await emulator.close();
    }
  }
  return references.get(target.type);
}
