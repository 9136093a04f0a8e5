// `mailops apply` killed with SIGKILL at each step of an address change, then run again: it
// converges, the mailbox moves once (one rename task), and plan shows No changes. Against the
// emulator and the real James, through a proxy that kills mailops at the chosen request.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { FileRecordStore } from '../../src/state/records.ts';
import { ROOT, mailops, tempDir } from '../support/cli.ts';
import { startInterruptingProxy, type Trap } from '../support/interrupting-proxy.ts';
import { TARGETS, startedOnce, uniqueDomain } from '../support/james-targets.ts';
import { docs, domain, user } from '../support/manifests.ts';
import { FINGERPRINT_KEY, converge, jamesBackend } from '../support/session.ts';

const TRAPS: Array<[string, Trap]> = [
  ['before the new user is created', { method: 'PUT', path: /^\/users\/new@/, when: 'before' }],
  ['after the new user is created', { method: 'PUT', path: /^\/users\/new@/, when: 'after' }],
  ['after an alias is taken off the old user', { method: 'DELETE', path: /^\/address\/aliases\/old@.*\/sources\//, when: 'after' }],
  ['after the rename task started, before its id was read', { method: 'POST', path: /^\/users\/old@.*\/rename\//, when: 'after' }],
  ['while waiting for the rename task', { method: 'GET', path: /^\/tasks\/[^/]+\/await$/, when: 'hold' }],
  ['after an alias is put on the new user', { method: 'PUT', path: /^\/address\/aliases\/new@.*\/sources\//, when: 'after' }],
  ['after a forward of the old user is removed', { method: 'DELETE', path: /^\/address\/forwards\/old@/, when: 'after' }],
  ['after the old user is deleted', { method: 'DELETE', path: /^\/users\/old@/, when: 'after' }],
];

describe.each(TARGETS)('an address change killed at any step converges on the next apply: $name', (factory) => {
  const james = startedOnce(factory);

  james.test.each(TRAPS)('%s', async (_, trap) => {
    const target = james.target;
    const d = uniqueDomain('move');
    // mailops talks to the server through the proxy in every run, so that records and checkpoints
    // (kept per backend URL) are the same in all of them.
    const proxy = await startInterruptingProxy(target.url);
    // Only the address and the password are declared: extra addresses, forwards and quota are
    // left to the server, and must travel with the mailbox.
    const manifests = (address: string) => docs(jamesBackend(proxy.url), domain(d), user(address, '', 'mover'));
    const dir = await tempDir('mailops-move-');
    const stateDir = await tempDir('mailops-move-state-');
    const env = {
      MAILOPS_STATE_DIR: stateDir,
      MAILOPS_FINGERPRINT_KEY: FINGERPRINT_KEY.toString('utf8'),
      MAILOPS_SECRET_JAMES_ADMIN_TOKEN: target.token,
      MAILOPS_SECRET_MOVER_PASSWORD: 'pw',
    };

    // A mailbox with data and settings made by hand (not in the manifest), at the old address.
    await converge(manifests(`old@${d}`), { 'james-admin': target.token, mover: 'pw' }, await FileRecordStore.open(stateDir));
    await target.raw.ok('PUT', `/users/old@${d}/mailboxes/Archive`);
    await target.raw.ok('PUT', `/address/forwards/old@${d}/targets/old@home.example`);
    for (const alias of ['hand', 'm']) await target.raw.ok('PUT', `/address/aliases/old@${d}/sources/${alias}@${d}`);
    await target.raw.ok('PUT', `/quota/users/old@${d}`, { count: 77, size: null });
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'config.yaml'), manifests(`new@${d}`));

    try {
      // The run that dies.
      let child: ReturnType<typeof spawn> | undefined;
      const sprung = proxy.arm(trap, () => child?.pid && process.kill(-child.pid, 'SIGKILL'));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => {
        child = spawn(process.execPath, [path.join(ROOT, 'bin', 'mailops.js'), 'apply', '-f', dir], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NO_COLOR: '1', ...env },
          stdio: 'ignore',
          detached: true,
        });
        child.on('exit', (_code, signal) => resolve(signal));
      });
      expect(await exited).toBe('SIGKILL');
      await sprung;

      // The next run finishes the job.
      const again = await mailops(['apply', '-f', dir], { env });
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      const plan = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env });
      expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
      expect(plan.code).toBe(0);
    } finally {
      await proxy.close();
    }

    // The data moved once, and everything travelled with it.
    const tasks = (await target.raw.ok('GET', '/tasks')) as Array<{ type: string; status: string; additionalInformation?: { oldUser?: string; newUser?: string } }>;
    const moves = tasks.filter((t) => t.type === 'UsernameChangeTask' && t.additionalInformation?.oldUser === `old@${d}`);
    expect(moves.map((t) => [t.additionalInformation?.newUser, t.status])).toEqual([[`new@${d}`, 'completed']]);
    expect(await target.raw.users()).toContain(`new@${d}`);
    expect(await target.raw.users()).not.toContain(`old@${d}`);
    const mailboxes = (await target.raw.ok('GET', `/users/new@${d}/mailboxes`)) as Array<{ mailboxName: string }>;
    expect(mailboxes.map((m) => m.mailboxName)).toContain('Archive');
    const mappings = await target.raw.mappings();
    expect(mappings[`m@${d}`]).toEqual([{ type: 'Alias', mapping: `new@${d}` }]);
    expect(mappings[`hand@${d}`]).toEqual([{ type: 'Alias', mapping: `new@${d}` }]);
    expect(mappings[`new@${d}`]).toEqual([{ type: 'Forward', mapping: 'old@home.example' }]);
    expect(mappings[`old@${d}`]).toBeUndefined();
    expect(await target.raw.ok('GET', `/quota/users/new@${d}`)).toMatchObject({ user: { count: 77 } });
    expect(await target.raw.passwordWorks(`new@${d}`, 'pw')).toBe(true);
  });
});
