// mailops export against a real Apache James 3.8.1: a domain set up with mailops apply is read
// back into manifests that plan `No changes.` (one domain of its own, so that other tests sharing
// the server do not matter).
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { mailops, tempDir } from '../support/cli.ts';
import { alias, backend, docs, domain, user } from '../support/manifests.ts';

const james = inject('realJames');

describe.skipIf(james === null)('mailops export against a real Apache James', () => {
  it('exports a domain that plans No changes, with no user secret', async () => {
    const mailDomain = `export-${randomBytes(4).toString('hex')}.test`;
    const dir = await tempDir();
    const backends = path.join(dir, 'backend.yaml');
    await writeFile(backends, backend('james', james!.url, '  credentials:\n    tokenSecretRef: {name: james-admin, key: token}\n'));
    const manifests = path.join(dir, 'manifests');
    await writeFile(
      path.join(dir, 'config.yaml'),
      docs(
        domain(mailDomain, `  aliasDomains: [alias-${mailDomain}]\n  defaultQuota: {storage: 2Gi}\n`),
        user(`ann@${mailDomain}`, `  extraAddresses: [a@${mailDomain}]\n  forwarding: {to: [ann@elsewhere.example], keepCopy: true}\n  quota: {storage: 1500M, messages: 1000}\n`),
        user(`ben@${mailDomain}`),
        alias(`team@${mailDomain}`, [`ann@${mailDomain}`, `ben@${mailDomain}`]),
      ),
    );
    const env = { MAILOPS_STATE_DIR: await tempDir('mailops-state-'), MAILOPS_SECRET_JAMES_ADMIN_TOKEN: james!.token };
    const apply = await mailops(['apply', '-f', backends, '-f', path.join(dir, 'config.yaml')], { env: { ...env, MAILOPS_SECRET_ANN_PASSWORD: 'ann-real-1', MAILOPS_SECRET_BEN_PASSWORD: 'ben-real-1' } });
    expect(apply.code).toBe(0);

    const exported = await mailops(['export', '-f', backends, '--domain', mailDomain, '-o', manifests], { env });
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    const text = await readFile(path.join(manifests, `${mailDomain}.yaml`), 'utf8');
    expect(text).toContain(`  aliasDomains:\n    - alias-${mailDomain}\n  defaultQuota:\n    storage: 2Gi\n`);
    expect(text).toContain(`  extraAddresses:\n    - a@${mailDomain}\n  forwarding:\n    to:\n      - ann@elsewhere.example\n    keepCopy: true\n  quota:\n    storage: 1500M\n    messages: 1000\n`);

    const plan = await mailops(['plan', '-f', backends, '-f', manifests, '--detailed-exitcode'], { env: { ...env, MAILOPS_STATE_DIR: await tempDir('mailops-fresh-') } });
    expect(plan.stderr).toBe('');
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
  });
});
