// mailops export against the emulators: the servers the examples set up are read back into
// manifests that plan `No changes.`, one backend at a time and all three together (example.org is
// served by James and iRedAdmin-Pro, office.example by James, MailStore and Open-Xchange), and nothing is written
// to any backend on the way.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startIRedAdminEmulator, type IRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { startOpenXchangeEmulator, type OpenXchangeEmulator } from '../../src/backends/openxchange/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';

const PASSWORDS = {
  alice: 'Alice-S3cret!', bob: 'Bob-S3cret!', carol: 'Carol-S3cret!', dave: 'Dave-S3cret!', grace: 'Grace-S3cret!', heidi: 'Heidi-S3cret!',
  'iredadmin-admin': 'Admin-S3cret!', 'mailstore-admin': 'Archive-Adm1n', 'ox-master': 'Ox-Master-S3cret!', 'ox-context-admin': 'Ox-Context-S3cret!',
};
const secretEnv = Object.fromEntries(Object.entries(PASSWORDS).map(([name, pw]) => [`MAILOPS_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`, pw]));
/** Only the backends' credentials: an exported plan needs no user's secret. */
const adminEnv = {
  MAILOPS_SECRET_IREDADMIN_ADMIN_PASSWORD: PASSWORDS['iredadmin-admin'],
  MAILOPS_SECRET_MAILSTORE_ADMIN_PASSWORD: PASSWORDS['mailstore-admin'],
  MAILOPS_SECRET_OX_MASTER_PASSWORD: PASSWORDS['ox-master'],
  MAILOPS_SECRET_OX_CONTEXT_ADMIN_PASSWORD: PASSWORDS['ox-context-admin'],
};

let james: JamesEmulator;
let iredadmin: IRedAdminEmulator;
let archive: MailStoreEmulator;
let groupware: OpenXchangeEmulator;

beforeEach(async () => {
  james = await startJamesEmulator({});
  iredadmin = await startIRedAdminEmulator({ user: 'postmaster@example.org', password: PASSWORDS['iredadmin-admin'] });
  archive = await startMailStoreEmulator({ password: PASSWORDS['mailstore-admin'] });
  groupware = await startOpenXchangeEmulator({ user: 'oxadminmaster', password: PASSWORDS['ox-master'] });
});
afterEach(async () => {
  await Promise.all([james.close(), iredadmin.close(), archive.close(), groupware.close()]);
});

/** --backend-url for the emulators of these backends (all four by default). */
const urls = (names = ['james', 'iredadmin', 'archive', 'openxchange']) => {
  const url: Record<string, string> = { james: james.url, iredadmin: iredadmin.url, archive: archive.url, openxchange: groupware.url };
  return names.flatMap((name) => ['--backend-url', `${name}=${url[name]}`]);
};

/** The examples applied to the three emulators, as a server that mailops did not set up would be. */
async function serversFromExamples(): Promise<void> {
  const apply = await mailops(['apply', '-f', 'examples/', ...urls()], { env: { MAILOPS_STATE_DIR: await tempDir('mailops-state-'), ...secretEnv } });
  expect(apply.code).toBe(0);
}

/** The MailBackend documents of the examples, in a directory of their own. */
async function backendsFile(): Promise<string> {
  const dir = await tempDir('mailops-backends-');
  const examples = await Promise.all(['backend.yaml', 'iredadmin.yaml', 'mailstore.yaml', 'openxchange.yaml'].map((f) => readFile(path.join('examples', f), 'utf8')));
  const backends = examples.flatMap((text) => text.split(/^---$/m).filter((doc) => /kind: MailBackend/.test(doc)));
  await writeFile(path.join(dir, 'backends.yaml'), backends.join('\n---\n'));
  return path.join(dir, 'backends.yaml');
}

async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml')).sort();
}

/** What the backends were asked to change since `mark()`: every request that is not a read (or a login). */
function writesSince(): () => string[] {
  const seen = { james: james.requestLog.length, iredadmin: iredadmin.requestLog.length, effects: { ...archive.effects } };
  return () => [
    ...james.requestLog.slice(seen.james).filter((r) => r.method !== 'GET').map((r) => `james ${r.method} ${r.path}`),
    ...iredadmin.requestLog.slice(seen.iredadmin).filter((r) => r.method !== 'GET' && r.path !== '/api/login').map((r) => `iredadmin ${r.method} ${r.path}`),
    ...Object.entries(archive.effects).filter(([fn, n]) => !fn.startsWith('Get') && n !== (seen.effects[fn] ?? 0)).map(([fn]) => `archive ${fn}`),
  ];
}

async function exportTo(args: string[]): Promise<{ out: string; result: Awaited<ReturnType<typeof mailops>> }> {
  const out = path.join(await tempDir('mailops-export-'), 'adopted');
  const result = await mailops(['export', ...args, '-o', out, ...urls()], { env: adminEnv });
  return { out, result };
}

/** `mailops plan` of the backends and the exported manifests, from a fresh state directory and with no user's secret. */
async function planExported(backends: string, out: string, names?: string[]) {
  return mailops(['plan', '-f', backends, '-f', out, '--detailed-exitcode', ...urls(names)], { env: { ...adminEnv, MAILOPS_STATE_DIR: await tempDir('mailops-state-') } });
}

/** A change made by hand on James, over WebAdmin, as an administrator would. */
async function onJames(method: string, route: string, body?: unknown): Promise<void> {
  const response = await fetch(`${james.url}${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  expect(response.status).toBeLessThan(300);
}

describe('mailops export', () => {
  it('reads all four backends into one set of manifests that plan No changes, with no write and no user secret', async () => {
    await serversFromExamples();
    const backends = await backendsFile();
    const writes = writesSince();
    const { out, result } = await exportTo(['-f', backends]);
    // Open-Xchange needs a display name and made one of heidi's local part; the archive has none: not chosen.
    expect(result.stderr).toBe('Disagreement: user heidi@office.example displayName: archive has (unset); openxchange has "heidi" — left out (not managed): the backends disagree\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Wrote 5 files to');
    expect(result.stdout).toContain(': 4 domains, 6 users, 5 aliases, the global default quota.\n');
    expect(result.stdout).toContain('Checked: planned against what the backends have now, these manifests give No changes.');
    expect(writes()).toEqual([]);
    // localhost: the domain James (and its emulator) always has.
    expect(await filesIn(out)).toEqual(['example.com.yaml', 'example.org.yaml', 'global-default.yaml', 'localhost.yaml', 'office.example.yaml']);

    const office = await readFile(path.join(out, 'office.example.yaml'), 'utf8');
    // One user served by James, the archive and the groupware, its one-member alias an address in MailStore and OX and a Group in James.
    expect(office).toContain(`# Exported from archive, james, openxchange. A password cannot be read back: it stays as it is on the server until
# the Secret grace.office.example (key password) exists; from then on mailops manages it.
apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata:
  name: grace.office.example
spec:
  address: grace@office.example
  passwordSecretRef: {name: grace.office.example, key: password, optional: true}
  displayName: Grace Hopper
  extraAddresses:
    - g.hopper@office.example
`);
    expect(office).toContain('  address: info@office.example\n  members:\n    - grace@office.example\n');
    // The alias with two members exists on James only.
    expect(office).toContain('  address: crew@office.example\n  members:\n    - grace@office.example\n    - heidi@office.example\n  backendRefs: [{name: james}]\n');
    // 1500M on James is 1431Mi on iRedAdmin, which stores MiB: they agree, and the finer value is declared.
    expect(await readFile(path.join(out, 'example.org.yaml'), 'utf8')).toContain('  quota:\n    storage: 1500M\n');

    const plan = await planExported(backends, out);
    expect(plan.stderr).toBe('');
    expect(plan.stdout).toContain('Note: the password of 6 users is unmanaged until their secrets exist (passwordSecretRef optional: true): alice@example.com, bob@example.com, carol@example.com, dave@example.org, grace@office.example and 1 more.');
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
    expect(writes()).toEqual([]);
  });

  it('lists what the backends disagree on instead of choosing, and declares a user only where it is', async () => {
    await serversFromExamples();
    // By hand on James: one more address for grace (the archive does not know it), and a user the archive lacks.
    await onJames('PUT', '/address/aliases/grace@office.example/sources/grace.h@office.example');
    await onJames('PUT', '/users/zed@office.example', { password: 'Zed-S3cret!' });
    const backends = await backendsFile();
    const { out, result } = await exportTo(['-f', backends]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'Disagreement: user grace@office.example extraAddresses: archive has g.hopper@office.example; james has g.hopper@office.example grace.h@office.example; openxchange has g.hopper@office.example — left out (not managed): the backends disagree\n' +
        'Disagreement: user heidi@office.example displayName: archive has (unset); openxchange has "heidi" — left out (not managed): the backends disagree\n',
    );
    const office = await readFile(path.join(out, 'office.example.yaml'), 'utf8');
    expect(office).toContain('# extraAddresses left out (not managed): the backends disagree: archive has g.hopper@office.example; james has g.hopper@office.example grace.h@office.example; openxchange has g.hopper@office.example\n');
    expect(office).not.toContain('  extraAddresses:\n    - g.hopper@office.example\n');
    expect(office).toContain('  address: zed@office.example\n  passwordSecretRef: {name: zed.office.example, key: password, optional: true}\n  backendRefs: [{name: james}]\n');

    const plan = await planExported(backends, out);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
  });

  it('leaves out what no declaration can give both backends, found by planning, and says why', async () => {
    await serversFromExamples();
    // By hand on James: dave's own quota, while iRedAdmin-Pro keeps 1431Mi for him.
    await onJames('PUT', '/quota/users/dave@example.org/size', 2 * 1024 ** 3);
    const backends = await backendsFile();
    const { out, result } = await exportTo(['-f', backends]);
    expect(result.code).toBe(0);
    // Unset on the user, dave would still get the domain's default on iRedAdmin-Pro (which has no quota
    // levels), then the global one: planning finds that, and both are left out too.
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      'Disagreement: domain example.org defaultQuota: iredadmin has storage 1Gi, messages (unset); james has storage 1Gi, messages (unset) — left out (not managed): dave@example.org on iredadmin cannot keep its quota under this default',
      'Disagreement: global quota limits: james has storage 2Gi, messages 50000 — left out (not managed): dave@example.org on iredadmin cannot keep its quota under this default',
      'Disagreement: user dave@example.org quota.storage: iredadmin has 1431Mi (effective); james has 2Gi — left out (not managed): the backends disagree',
      'Disagreement: user heidi@office.example displayName: archive has (unset); openxchange has "heidi" — left out (not managed): the backends disagree',
    ]);
    expect(await readdir(out)).not.toContain('global-default.yaml');
    expect(result.stdout).toContain('Checked: planned against what the backends have now, these manifests give No changes.');
    const plan = await planExported(backends, out);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
  });

  it('exports one backend, only the domains asked for, one file per object; and never overwrites without --force', async () => {
    await serversFromExamples();
    const backends = await backendsFile();
    const { out, result } = await exportTo(['-f', backends, '--backend', 'archive', '--domain', 'office.example', '--per-object']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // On MailStore alone, info@ is one more address of grace: nothing says it is an Alias elsewhere.
    expect(await filesIn(out)).toEqual([
      'office.example/maildomain-office.example.yaml',
      'office.example/mailuser-grace.office.example.yaml',
      'office.example/mailuser-heidi.office.example.yaml',
    ]);
    const onlyArchive = path.join(await tempDir('mailops-backends-'), 'archive.yaml');
    await writeFile(onlyArchive, (await readFile(backends, 'utf8')).split('\n---\n').filter((doc) => doc.includes('name: archive')).join('\n---\n'));
    const plan = await planExported(onlyArchive, out, ['archive']);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);

    const again = await mailops(['export', '-f', backends, '--backend', 'archive', '--domain', 'office.example', '--per-object', '-o', out, ...urls()], { env: adminEnv });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^mailops: .*office\.example\/maildomain-office\.example\.yaml, .* already exist; pass --force to overwrite, or choose another -o directory\n$/);
    const forced = await mailops(['export', '-f', backends, '--backend', 'archive', '--domain', 'office.example', '--per-object', '-o', out, '--force', ...urls()], { env: adminEnv });
    expect(forced.code).toBe(0);
  });

  it('exports James alone: domains, alias domains, quotas at every level, forwards, aliases', async () => {
    await serversFromExamples();
    const backends = await backendsFile();
    const { out, result } = await exportTo(['-f', backends, '--backend', 'james', '--domain', 'example.com', '--domain', 'nowhere.example']);
    expect(result.stderr).toBe('Warning: --domain nowhere.example: no backend that was read holds it\n');
    expect(result.code).toBe(0);
    expect(await filesIn(out)).toEqual(['example.com.yaml']);
    const com = await readFile(path.join(out, 'example.com.yaml'), 'utf8');
    expect(com).toContain('  aliasDomains:\n    - example.net\n  defaultQuota:\n    storage: 5Gi\n');
    expect(com).toContain('  forwarding:\n    to:\n      - bob@elsewhere.example.org\n    keepCopy: true\n');
    const onlyJames = path.join(await tempDir('mailops-backends-'), 'james.yaml');
    await writeFile(onlyJames, (await readFile(backends, 'utf8')).split('\n---\n').filter((doc) => doc.includes('name: james')).join('\n---\n'));
    const plan = await planExported(onlyJames, out, ['james']);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
  });

  it('exports iRedAdmin-Pro alone: its domain profile and per-user quotas plan No changes', async () => {
    await serversFromExamples();
    const backends = await backendsFile();
    const { out, result } = await exportTo(['-f', backends, '--backend', 'iredadmin']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const org = await readFile(path.join(out, 'example.org.yaml'), 'utf8');
    expect(org).toContain('  defaultQuota:\n    storage: 1Gi\n  displayName: Example Org\n  totalStorage: 50Gi\n  maxUserStorage: 5Gi\n');
    // The quota iRedAdmin-Pro keeps, in MiB.
    expect(org).toContain('  quota:\n    storage: 1431Mi\n');
    const onlyIRedAdmin = path.join(await tempDir('mailops-backends-'), 'iredadmin.yaml');
    await writeFile(onlyIRedAdmin, (await readFile(backends, 'utf8')).split('\n---\n').filter((doc) => doc.includes('name: iredadmin')).join('\n---\n'));
    const plan = await planExported(onlyIRedAdmin, out, ['iredadmin']);
    expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
    expect(plan.code).toBe(0);
  });

  it('stops, writing nothing, when a backend cannot be read', async () => {
    const backends = await backendsFile();
    const out = path.join(await tempDir('mailops-export-'), 'adopted');
    const result = await mailops(['export', '-f', backends, '-o', out, '--backend-url', `james=${james.url}`, '--backend-url', 'iredadmin=http://127.0.0.1:9', '--backend-url', `archive=${archive.url}`], { env: adminEnv });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^mailops: export: backend "iredadmin" \(http:\/\/127\.0\.0\.1:9\): /);
    await expect(readdir(out)).rejects.toThrow();
  });
});
