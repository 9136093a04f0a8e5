// What a new user found about the state directory and the apply command's output: a lost key, a
// corrupt record file, a plan that must write nothing, a refusal in JSON, a terminal without a
// width, two backends of the same name. End to end, against the James emulator.
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { ROOT, mailops, tempDir } from '../support/cli.ts';
import { configDir } from '../support/files.ts';
import { backend, docs, domain, user } from '../support/manifests.ts';

let emulator: JamesEmulator;
let stateDir: string;
let env: Record<string, string>;

beforeEach(async () => {
  emulator = await startJamesEmulator({});
  stateDir = await tempDir('mailops-state-');
  env = { MAILOPS_STATE_DIR: stateDir, MAILOPS_SECRET_ALICE_PASSWORD: 'a-1', MAILOPS_SECRET_BOB_PASSWORD: 'b-1' };
});
afterEach(async () => {
  await emulator.close();
});

const twoUsers = () => docs(backend('james', emulator.url), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 25}'), user('alice@example.com'), user('bob@example.com'));
const verifyRequests = () => emulator.requestLog.filter((r) => r.method === 'POST' && r.path.endsWith('/verify')).length;

describe('the state directory', () => {
  it('after losing fingerprint.key, plans ask the server instead of resetting every password, and apply records them again', async () => {
    const dir = await configDir(twoUsers());
    expect((await mailops(['apply', '-f', dir], { env })).code).toBe(0);
    await rm(path.join(stateDir, 'fingerprint.key'));

    const plan = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env });
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
    expect(verifyRequests()).toBe(2);

    expect((await mailops(['apply', '-f', dir], { env })).code).toBe(0);
    const before = verifyRequests();
    expect((await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env })).code).toBe(0);
    expect(verifyRequests()).toBe(before); // recorded with the new key: no question needed any more
  });

  it('plan writes nothing there, not even a key', async () => {
    const dir = await configDir(twoUsers());
    const fresh = path.join(await tempDir('mailops-fresh-'), 'state');
    const plan = await mailops(['plan', '-f', dir], { env: { ...env, MAILOPS_STATE_DIR: fresh } });
    expect(plan.code).toBe(0);
    await expect(readdir(fresh)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a corrupt records.json names the file and how to recover, and nothing is applied', async () => {
    const dir = await configDir(twoUsers());
    await mkdir(stateDir, { recursive: true });
    await writeFile(path.join(stateDir, 'records.json'), '{"version": 1, "backends": {');
    const apply = await mailops(['apply', '-f', dir], { env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(`${path.join(stateDir, 'records.json')} is not valid JSON`);
    expect(apply.stderr).toContain('move it aside');
    expect(emulator.requestLog).toEqual([]);
  });
});

describe('apply', () => {
  it('prints a safety-valve refusal as JSON with -o json', async () => {
    const dir = await configDir(twoUsers());
    expect((await mailops(['apply', '-f', dir], { env })).code).toBe(0);
    await writeFile(path.join(dir, 'config.yaml'), docs(backend('james', emulator.url), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 25}'), user('alice@example.com')));
    const apply = await mailops(['apply', '-f', dir, '-o', 'json'], { env });
    expect(apply.code).toBe(1);
    const document = JSON.parse(apply.stdout) as { outcome: string; results: unknown[]; plan: { backends: Array<{ refusals: string[] }> } };
    expect(document.outcome).toBe('refused');
    expect(document.results).toEqual([]);
    expect(document.plan.backends[0]!.refusals).toEqual([expect.stringContaining('would delete 1 of the 2 users of example.com')]);
  });

  it('finishes on a terminal that reports no width (a pseudo-terminal made by script)', async () => {
    const dir = await configDir(twoUsers());
    const command = `stty cols 0 rows 0; exec ${process.execPath} ${path.join(ROOT, 'bin', 'mailops.js')} apply -f ${dir}`;
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const guard = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 20_000); // within the test timeout
      child.on('close', (code) => {
        clearTimeout(guard);
        resolve({ code, output });
      });
    });
    expect(result.output).toContain('Apply complete: 3 applied, 0 failed, 0 skipped.');
    expect(result.output.length).toBeLessThan(10_000);
    expect(result.code).toBe(0);
  });
});

describe('the plan', () => {
  it('tells two backends of the same name in different namespaces apart', async () => {
    const other = await startJamesEmulator({});
    try {
      const inNamespace = (ns: string, url: string) =>
        docs(backend('james', url).replace('metadata: {name: james}', `metadata: {name: james, namespace: ${ns}}`), domain(`${ns}.example`).replace(/metadata: \{name: ([^}]+)\}/, `metadata: {name: $1, namespace: ${ns}}`));
      const dir = await configDir(docs(inNamespace('red', emulator.url), inNamespace('blue', other.url)));
      const plan = await mailops(['plan', '-f', dir], { env });
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain(`Backend "red/james" (james, ${emulator.url}):`);
      expect(plan.stdout).toContain(`Backend "blue/james" (james, ${other.url}):`);
    } finally {
      await other.close();
    }
  });
});

// The record file holds fingerprints only.
it('keeps no password in the state directory', async () => {
  const dir = await configDir(twoUsers());
  expect((await mailops(['apply', '-f', dir], { env })).code).toBe(0);
  for (const file of await readdir(stateDir)) {
    const text = await readFile(path.join(stateDir, file), 'utf8');
    expect(text).not.toContain('a-1');
    expect(text).not.toContain('b-1');
  }
});
