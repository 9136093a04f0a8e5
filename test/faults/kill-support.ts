// What the kill tests share: a large configuration, `mailops apply` as a child process in a process
// group of its own (so that a SIGKILL takes everything it started with it), a kill that lands right
// after the k-th request an in-process emulator answered, and a look at the state directory as a
// later run would find it.
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RequestLogEntry, RunningEmulator } from '../../src/backends/emulator/server.ts';
import { ROOT, tempDir } from '../support/cli.ts';
import { alias, docs, domain, quotaPolicy, user } from '../support/manifests.ts';

export const DOMAIN = 'kills.example';

/** The seed of the kill points: MAILOPS_FAULT_SEED, or a fixed default so that a failure repeats. */
export function faultSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.MAILOPS_FAULT_SEED;
  if (text === undefined || text === '') return 20_240_613;
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`MAILOPS_FAULT_SEED must be an integer, got ${JSON.stringify(text)}`);
  return seed;
}

export const userName = (i: number) => `u${String(i).padStart(4, '0')}`;
export const userAddress = (i: number) => `${userName(i)}@${DOMAIN}`;
export const passwordOf = (i: number) => `pw-${userName(i)}-${(i * 7919) % 10_007}`;

export interface LargeConfig {
  yaml: string;
  /** MAILOPS_SECRET_* for every user's password. */
  secrets: Record<string, string>;
  /** The aliases (groups) the configuration declares: address → members. */
  aliases: Map<string, string[]>;
}

/**
 * `users` mailboxes in one domain with a default quota; every 10th user has an extra address, every
 * 7th a quota policy of its own, every 25th an inline quota; one alias of two members per 40 users.
 * `extra` is the backend's part (the MailBackend), `backendRefs` names it.
 */
export function largeConfig(users: number, backendYaml: string, backendName: string, options: { quotas?: boolean; aliases?: boolean } = {}): LargeConfig {
  const quotas = options.quotas ?? true;
  const parts = [backendYaml];
  if (quotas) parts.push(quotaPolicy('large', '  storage: 20Gi\n  messages: unlimited\n'));
  parts.push(domain(DOMAIN, quotas ? '  defaultQuota: {storage: 2Gi}\n' : '', [backendName]));
  const secrets: Record<string, string> = {};
  for (let i = 0; i < users; i++) {
    let fields = '';
    if (i % 10 === 3) fields += `  extraAddresses: [${userName(i)}.extra@${DOMAIN}]\n`;
    if (quotas && i % 7 === 5) fields += '  quota: {policyRef: {name: large}}\n';
    else if (quotas && i % 25 === 11) fields += '  quota: {storage: 500Mi, messages: 1000}\n';
    parts.push(user(userAddress(i), fields, userName(i)));
    secrets[`MAILOPS_SECRET_${userName(i).toUpperCase()}_PASSWORD`] = passwordOf(i);
  }
  const aliases = new Map<string, string[]>();
  for (let a = 0; options.aliases !== false && a * 40 < users; a++) {
    const members = [userAddress(a * 40), userAddress(Math.min(users - 1, a * 40 + 1))].sort();
    aliases.set(`list${a}@${DOMAIN}`, members);
    parts.push(alias(`list${a}@${DOMAIN}`, members));
  }
  return { yaml: docs(...parts), secrets, aliases };
}

export async function writeConfig(yaml: string): Promise<string> {
  const dir = await tempDir('mailops-kills-config-');
  await writeFile(path.join(dir, 'config.yaml'), yaml);
  return dir;
}

export interface ApplyRun {
  readonly pid: number;
  /** How the run ended: its exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly output: () => { stdout: string; stderr: string };
  /** SIGKILL to the whole process group (no-op once it has ended). */
  kill(): void;
}

/** `mailops apply -f dir` as a user would run it, leader of its own process group. */
export function startApply(dir: string, env: Record<string, string>, extraArgs: string[] = []): ApplyRun {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'mailops.js'), 'apply', '-f', dir, ...extraArgs], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid!,
    exited,
    output: () => ({ stdout, stderr }),
    kill: () => {
      if (ended) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
  };
}

/**
 * Calls `listener` synchronously as each request is logged by the emulator: after the backend
 * handled it and before the answer is sent. A kill from there lands with the write applied on the
 * server and its answer never read — the worst moment for a client. Returns the unhook.
 */
export function onRequestLogged(emulator: RunningEmulator, listener: (entry: RequestLogEntry, count: number) => void): () => void {
  const log = emulator.requestLog as RequestLogEntry[];
  const push = log.push;
  log.push = function (...entries: RequestLogEntry[]): number {
    const length = push.apply(this, entries);
    for (const entry of entries) listener(entry, length);
    return length;
  };
  return () => {
    log.push = push;
  };
}

/** What the state directory holds, as the next run would read it. Throws when records.json is not a valid record file. */
export async function readStateDir(stateDir: string): Promise<{ files: string[]; records: RecordFile | null }> {
  const files = (await readdir(stateDir)).sort();
  if (!files.includes('records.json')) return { files, records: null };
  const text = await readFile(path.join(stateDir, 'records.json'), 'utf8');
  const records = JSON.parse(text) as RecordFile;
  if (records.version !== 1 || typeof records.backends !== 'object' || records.backends === null) {
    throw new Error(`records.json is not a record file: ${text.slice(0, 200)}`);
  }
  return { files, records };
}

export interface RecordFile {
  version: 1;
  keyId?: string;
  backends: Record<string, Record<string, { address: string; passwordFingerprint: string | null }>>;
  operations?: Record<string, Record<string, unknown>>;
}
