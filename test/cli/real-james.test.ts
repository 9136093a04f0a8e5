// The full command-line path against a real Apache James 3.8.1 (JWT on): apply examples/, then a
// plan shows no changes — from a fresh state directory too, since James can verify passwords.
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ROOT, mailops, tempDir } from '../support/cli.ts';

const james = inject('realJames');

describe.skipIf(james === null)('mailops against a real Apache James', () => {
  it('apply examples/, then plan prints No changes.', async () => {
    const dir = await tempDir();
    // James only: the iRedAdmin-Pro, MailStore and Open-Xchange examples need servers of their own.
    const otherServers = ['iredadmin.yaml', 'mailstore.yaml', 'openxchange.yaml'];
    await cp(path.join(ROOT, 'examples'), dir, { recursive: true, filter: (source) => !otherServers.some((file) => source.endsWith(file)) });
    // The examples' backend, with the credentials a real James 3.8 needs.
    await writeFile(
      path.join(dir, 'backend.yaml'),
      `apiVersion: mailops.dev/v1alpha1
kind: MailBackend
metadata: {name: james}
spec:
  type: james
  url: ${james!.url}
  credentials:
    tokenSecretRef: {name: james-admin, key: token}
`,
    );
    const env = {
      MAILOPS_STATE_DIR: await tempDir('mailops-state-'),
      MAILOPS_SECRET_JAMES_ADMIN_TOKEN: james!.token,
      MAILOPS_SECRET_ALICE_PASSWORD: 'alice-real-1',
      MAILOPS_SECRET_BOB_PASSWORD: 'bob-real-1',
      MAILOPS_SECRET_CAROL_PASSWORD: 'carol-real-1',
    };

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
});
