// `mailops apply` killed with SIGKILL while a slow MailStore call runs: the next run polls the same token
// (recorded before the first poll) instead of sending the write again, reports the user done once the call ended,
// and a plan afterwards shows no changes.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ROOT, mailops, tempDir } from '../../support/cli.ts';
import { SECRETS, bothServers, mailstoreUser, startServers, type Servers } from './support.ts';

let servers: Servers;
beforeEach(async () => {
  servers = await startServers();
});
afterEach(async () => {
  await servers.close();
});

const env = (stateDir: string) => ({
  MAILOPS_STATE_DIR: stateDir,
  MAILOPS_SECRET_MAILSTORE_ADMIN_PASSWORD: SECRETS['mailstore-admin'],
  MAILOPS_SECRET_ALICE_PASSWORD: SECRETS.alice,
  MAILOPS_SECRET_BOB_PASSWORD: SECRETS.bob,
});

it('a run killed while MailStore works resumes polling its token and does not repeat the write', async () => {
  const dir = await tempDir('mailops-mailstore-kill-');
  const stateDir = await tempDir('mailops-mailstore-state-');
  const config = path.join(dir, 'config.yaml');
  await writeFile(config, bothServers(servers));
  expect((await mailops(['apply', '-f', dir], { env: env(stateDir) })).code).toBe(0);

  // alice gets one more address; MailStore now takes its time with it.
  await writeFile(config, bothServers(servers, { alice: '  displayName: Alice Liddell\n  extraAddresses: [a.liddell@example.com, al@example.com]\n' }));
  servers.mailstore.setSlow('SetUserEmailAddresses', { durationMs: 4000, steps: 8 });
  const writesBefore = servers.mailstore.effects.SetUserEmailAddresses ?? 0;
  const invokes = () => servers.mailstore.requestLog.filter((r) => r.path === '/api/invoke/SetUserEmailAddresses').length;
  const invokesBefore = invokes();

  // The run that dies: killed at its first status poll, when the token is on disk.
  const polled = servers.mailstore.nextRequest((r) => r.path === '/api/get-status');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'mailops.js'), 'apply', '-f', dir], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env(stateDir) },
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await polled;
  process.kill(-child.pid!, 'SIGKILL');
  expect(await exited).toBe('SIGKILL');
  const [running] = servers.mailstore.calls;
  expect(running).toMatchObject({ fn: 'SetUserEmailAddresses', statusCode: 'running' });

  // The next run waits for that very call.
  const again = await mailops(['apply', '-f', dir], { env: env(stateDir) });
  expect(again.stderr).toBe('');
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/✓ ~ user alice@example\.com \[archive\]/);
  expect(servers.mailstore.calls).toEqual([expect.objectContaining({ token: running!.token, statusCode: 'succeeded' })]);
  expect(invokes()).toBe(invokesBefore + 1);
  expect(servers.mailstore.effects.SetUserEmailAddresses).toBe(writesBefore + 1);
  expect(mailstoreUser(servers, 'alice@example.com')?.emailAddresses).toEqual(['alice@example.com', 'a.liddell@example.com', 'al@example.com', 'postmaster@example.com']);

  const plan = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env: env(stateDir) });
  expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
  expect(plan.code).toBe(0);
});
