// The full command-line path against a real Apache James 3.8.1 (JWT on): apply examples/, then a
// plan shows no changes — from a fresh state directory too, since James can verify passwords. Then
// the whole of examples/, with the real James beside the emulators of the servers that cannot run
// here: example.org on James and iRedAdmin-Pro, office.example on James, MailStore and Open-Xchange.
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startIRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { startMailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { startOpenXchangeEmulator } from '../../src/backends/openxchange/emulator.ts';
import { ROOT, mailops, tempDir } from '../support/cli.ts';

const james = inject('realJames');

/** The examples' backend, with the credentials a real James 3.8 needs. */
const realBackend = () => `apiVersion: mailops.dev/v1alpha1
kind: MailBackend
metadata: {name: james}
spec:
  type: james
  url: ${james!.url}
  credentials:
    tokenSecretRef: {name: james-admin, key: token}
`;
const USERS = { ALICE: 'alice-real-1', BOB: 'bob-real-1', CAROL: 'carol-real-1', DAVE: 'dave-Real-1!', GRACE: 'grace-Real-1!', HEIDI: 'heidi-Real-1!' };
const userSecrets = Object.fromEntries(Object.entries(USERS).map(([name, pw]) => [`MAILOPS_SECRET_${name}_PASSWORD`, pw]));

describe.skipIf(james === null)('mailops against a real Apache James', () => {
  it('apply examples/, then plan prints No changes.', async () => {
    const dir = await tempDir();
    // James only: the iRedAdmin-Pro, MailStore and Open-Xchange examples need servers of their own.
    const otherServers = ['iredadmin.yaml', 'mailstore.yaml', 'openxchange.yaml'];
    await cp(path.join(ROOT, 'examples'), dir, { recursive: true, filter: (source) => !otherServers.some((file) => source.endsWith(file)) });
    await writeFile(path.join(dir, 'backend.yaml'), realBackend());
    const env = { MAILOPS_STATE_DIR: await tempDir('mailops-state-'), MAILOPS_SECRET_JAMES_ADMIN_TOKEN: james!.token, ...userSecrets };

    const apply = await mailops(['apply', '-f', dir], { env });
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 7 applied, 0 failed, 0 skipped.');

    const plan = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env });
    expect(plan).toMatchObject({ code: 0, stderr: '' });
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');

    // A fresh checkout (no state directory yet) agrees: the passwords are verified, not reset.
    const fresh = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env: { ...env, MAILOPS_STATE_DIR: await tempDir('mailops-fresh-') } });
    expect(fresh.code).toBe(0);
  });

  it('converges the whole of examples/ on the real James and the emulators of the other three servers', async () => {
    const admins = { iredadmin: 'Admin-Real-1!', mailstore: 'Archive-Real-1', oxMaster: 'Ox-Master-Real-1', oxContext: 'Ox-Context-Real-1' };
    const iredadmin = await startIRedAdminEmulator({ user: 'postmaster@example.org', password: admins.iredadmin });
    const archive = await startMailStoreEmulator({ password: admins.mailstore });
    const groupware = await startOpenXchangeEmulator({ user: 'oxadminmaster', password: admins.oxMaster });
    try {
      const dir = await tempDir();
      await cp(path.join(ROOT, 'examples'), dir, { recursive: true });
      await writeFile(path.join(dir, 'backend.yaml'), realBackend());
      const env = {
        MAILOPS_STATE_DIR: await tempDir('mailops-state-'),
        MAILOPS_SECRET_JAMES_ADMIN_TOKEN: james!.token,
        MAILOPS_SECRET_IREDADMIN_ADMIN_PASSWORD: admins.iredadmin,
        MAILOPS_SECRET_MAILSTORE_ADMIN_PASSWORD: admins.mailstore,
        MAILOPS_SECRET_OX_MASTER_PASSWORD: admins.oxMaster,
        MAILOPS_SECRET_OX_CONTEXT_ADMIN_PASSWORD: admins.oxContext,
        ...userSecrets,
      };
      const urls = ['--backend-url', `iredadmin=${iredadmin.url}`, '--backend-url', `archive=${archive.url}`, '--backend-url', `openxchange=${groupware.url}`];
      const apply = await mailops(['apply', '-f', dir, ...urls], { env });
      expect(apply.stderr).toBe('');
      expect(apply.code, apply.stdout).toBe(0);
      expect(apply.stdout).toMatch(/Apply complete: \d+ applied, 0 failed, 0 skipped\./);

      const plan = await mailops(['plan', '-f', dir, ...urls, '--detailed-exitcode'], { env });
      expect(plan).toMatchObject({ code: 0, stderr: '' });
      expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
      // Each user is on every server of its domain: the real James and the emulators.
      const realUsers = ((await (await fetch(`${james!.url}/users`, { headers: { authorization: `Bearer ${james!.token}` } })).json()) as Array<{ username: string }>).map((u) => u.username);
      expect(realUsers).toEqual(expect.arrayContaining(['dave@example.org', 'grace@office.example', 'heidi@office.example']));
      expect(archive.users.map((u) => u.userName)).toEqual(expect.arrayContaining(['grace@office.example', 'heidi@office.example']));
    } finally {
      await Promise.all([iredadmin.close(), archive.close(), groupware.close()]);
    }
  });
});
