// The command line end to end, against the James emulator: what a user types and what they see.
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Ajv } from 'ajv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startIRedAdminEmulator, type IRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { startOpenXchangeEmulator, type OpenXchangeEmulator } from '../../src/backends/openxchange/emulator.ts';
import { ApplyDocument, PlanDocument } from '../../src/render/json.ts';
import { backend, docs, domain, user } from '../support/manifests.ts';
import { ROOT, mailops, tempDir } from '../support/cli.ts';

// The examples' secrets: the users' passwords, and the admins' of iRedAdmin-Pro (examples/iredadmin.yaml),
// MailStore (examples/mailstore.yaml) and Open-Xchange (examples/openxchange.yaml: its master and context admins).
const PASSWORDS = {
  alice: 'Alice-S3cret!', bob: 'Bob-S3cret!', carol: 'Carol-S3cret!', dave: 'Dave-S3cret!', grace: 'Grace-S3cret!', heidi: 'Heidi-S3cret!',
  'iredadmin-admin': 'Admin-S3cret!', 'mailstore-admin': 'Archive-Adm1n', 'ox-master': 'Ox-Master-S3cret!', 'ox-context-admin': 'Ox-Context-S3cret!',
};
const secretEnv = Object.fromEntries(Object.entries(PASSWORDS).map(([name, pw]) => [`MAILOPS_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`, pw]));

let emulator: JamesEmulator;
let iredadmin: IRedAdminEmulator;
/** The examples' MailStore archive (examples/mailstore.yaml). */
let archive: MailStoreEmulator;
/** The examples' groupware (examples/openxchange.yaml). */
let groupware: OpenXchangeEmulator;
let env: Record<string, string>;
let stateDir: string;

beforeEach(async () => {
  emulator = await startJamesEmulator({});
  iredadmin = await startIRedAdminEmulator({ user: 'postmaster@example.org', password: PASSWORDS['iredadmin-admin'] });
  archive = await startMailStoreEmulator({ password: PASSWORDS['mailstore-admin'] });
  groupware = await startOpenXchangeEmulator({ user: 'oxadminmaster', password: PASSWORDS['ox-master'] });
  stateDir = await tempDir('mailops-state-');
  env = { MAILOPS_STATE_DIR: stateDir, ...secretEnv };
});
afterEach(async () => {
  await Promise.all([emulator.close(), iredadmin.close(), archive.close(), groupware.close()]);
});

const examples = () => ['-f', 'examples/', '--backend-url', `james=${emulator.url}`, '--backend-url', `iredadmin=${iredadmin.url}`, '--backend-url', `archive=${archive.url}`, '--backend-url', `openxchange=${groupware.url}`];

describe('validate', () => {
  it('accepts the examples', async () => {
    const result = await mailops(['validate', '-f', 'examples/']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe('Configuration is valid: 4 MailBackends, 3 MailDomains, 6 MailUsers, 5 Aliases, 3 QuotaPolicies.\n');
  });

  it('rejects bad input with file, line, column and field, and exit code 1', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'bad.yaml'), docs(backend(), domain('example.com'), user('not-an-address', '', 'x')));
    const result = await mailops(['validate', '-f', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir}/bad.yaml:21:12: MailUser "x" spec.address: "not-an-address" is not a valid mail address`);
    expect(result.stdout).toBe('');
  });
});

describe('plan and apply', () => {
  it('plans (exit 2), applies (exit 0), and plans again with no changes (exit 0)', async () => {
    const first = await mailops(['plan', ...examples(), '--detailed-exitcode'], { env });
    expect(first.code).toBe(2);
    expect(first.stdout).toContain('Plan: 24 to create, 1 to update, 0 to delete.');

    const apply = await mailops(['apply', ...examples()], { env });
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/✓ \+ user alice@example\.com \[james\]/);
    expect(apply.stdout).toMatch(/✓ \+ user dave@example\.org \[iredadmin\]/);
    expect(apply.stdout).toMatch(/✓ \+ user grace@office\.example \[archive\]/);
    expect(apply.stdout).toMatch(/✓ \+ user grace@office\.example \[openxchange\]/);
    expect(apply.stdout).toContain('Apply complete: 25 applied, 0 failed, 0 skipped.');
    expect(archive.users.find((u) => u.userName === 'grace@office.example')?.emailAddresses).toEqual(['grace@office.example', 'g.hopper@office.example', 'info@office.example']);
    // One domain on the mail server, the archive and the groupware at once.
    expect(groupware.contexts).toMatchObject([{ id: 100, name: 'office.example' }]);
    expect(groupware.users.find((u) => u.name === 'grace')).toMatchObject({ displayName: 'Grace Hopper', aliases: ['grace@office.example', 'g.hopper@office.example', 'info@office.example'] });

    const second = await mailops(['plan', ...examples(), '--detailed-exitcode'], { env });
    expect(second).toMatchObject({ code: 0, stderr: '' });
    expect(second.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
  });

  it('writes JSON that follows the published schemas, and markdown for pull requests', async () => {
    const plan = await mailops(['plan', ...examples(), '-o', 'json'], { env });
    const ajv = new Ajv({ strict: false });
    const document = JSON.parse(plan.stdout);
    expect(ajv.validate(PlanDocument, document), JSON.stringify(ajv.errors)).toBe(true);
    expect(document.summary).toEqual({ create: 24, update: 1, delete: 0 });
    expect(document.backends.find((b: { name: string }) => b.name === 'james').requests).toBe(4);
    expect(document.backends.find((b: { name: string }) => b.name === 'archive').requests).toBe(1);
    expect(document.backends.find((b: { name: string }) => b.name === 'openxchange').requests).toBe(2); // health, contexts

    const apply = await mailops(['apply', ...examples(), '-o', 'json'], { env });
    const applied = JSON.parse(apply.stdout);
    expect(ajv.validate(ApplyDocument, applied), JSON.stringify(ajv.errors)).toBe(true);
    expect(applied.summary).toEqual({ applied: 25, failed: 0, skipped: 0, pending: 0 });

    const markdown = await mailops(['plan', ...examples(), '-o', 'markdown'], { env });
    expect(markdown.stdout).toMatch(/^### mailops plan\n\n\*\*No changes\.\*\*/);
  });

  it('shows a changed secret as one password update', async () => {
    await mailops(['apply', ...examples()], { env });
    const changed = await mailops(['plan', ...examples(), '--detailed-exitcode'], { env: { ...env, MAILOPS_SECRET_BOB_PASSWORD: 'another' } });
    expect(changed.code).toBe(2);
    expect(changed.stdout).toMatch(/ {2}~ user bob@example\.com[^\n]*\n {6}password: +\(sensitive\)\n\n/);
    expect(changed.stdout).toContain('Plan: 0 to create, 1 to update, 0 to delete.');
  });

  it('reads secrets from a secrets directory laid out like a mounted Secret', async () => {
    const secrets = await tempDir();
    for (const [name, pw] of Object.entries(PASSWORDS)) {
      await mkdir(path.join(secrets, name));
      await writeFile(path.join(secrets, name, 'password'), `${pw}\n`);
    }
    const result = await mailops(['apply', ...examples(), '--secrets-dir', secrets], { env: { MAILOPS_STATE_DIR: stateDir } });
    expect(result.code).toBe(0);
    const verify = await fetch(`${emulator.url}/users/alice@example.com/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORDS.alice }) });
    expect(verify.status).toBe(204);
  });
});

describe('nothing is applied when anything is wrong with the input', () => {
  it('one bad file among good ones: exit 1 and not a single request to the backend', async () => {
    const dir = await tempDir();
    await cp(path.join(ROOT, 'examples'), dir, { recursive: true });
    await writeFile(path.join(dir, 'zz-broken.yaml'), user('dan@example.com', '  quota: {storage: lots}', 'dan'));
    const result = await mailops(['apply', '-f', dir, '--backend-url', `james=${emulator.url}`], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir}/zz-broken.yaml:7:20: MailUser "dan" spec.quota.storage: "lots" is not a storage size`);
    expect(result.stderr).toContain('nothing was applied');
    expect(emulator.requestLog).toEqual([]);
  });

  it('a missing secret names where it is referenced and how to provide it', async () => {
    const { MAILOPS_SECRET_CAROL_PASSWORD: _carol, ...partial } = env;
    const result = await mailops(['apply', ...examples()], { env: partial });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/examples\/example-com\.yaml:\d+:\d+: MailUser "carol" spec\.passwordSecretRef: secret carol\/password not found: set MAILOPS_SECRET_CAROL_PASSWORD/);
    expect(emulator.requestLog).toEqual([]);
  });

  it('the safety valve refuses a mass deletion unless it is explicitly allowed', async () => {
    await mailops(['apply', ...examples()], { env });
    for (const name of ['x1', 'x2', 'x3']) {
      await fetch(`${emulator.url}/users/${name}@example.com`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"password":"p"}' });
    }
    const refused = await mailops(['apply', ...examples()], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('would delete 3 of the 6 users of example.com (more than maxUserDeletionPercent: 25%)');
    expect(refused.stderr).toContain('Nothing was applied.');
    const usersOfExampleCom = () => emulator.state.users.filter((u) => u.endsWith('@example.com'));
    expect(usersOfExampleCom()).toHaveLength(6);

    const allowed = await mailops(['apply', ...examples(), '--allow-mass-deletion'], { env });
    expect(allowed.code).toBe(0);
    expect(usersOfExampleCom()).toHaveLength(3);
  });
});

describe('a backend that fails', () => {
  it('is reported in one line while the other backends still apply; exit 1', async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'two.yaml'),
      docs(backend('up', emulator.url), backend('down', 'http://127.0.0.1:9', '  limits: {retries: 1}'), domain('up.example', '', ['up']), domain('down.example', '', ['down']), user('a@up.example'), user('b@down.example')),
    );
    const result = await mailops(['apply', '-f', dir], { env: { ...env, MAILOPS_SECRET_A_PASSWORD: 'x', MAILOPS_SECRET_B_PASSWORD: 'y' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('Error: backend "down" (http://127.0.0.1:9): cannot reach http://127.0.0.1:9: connection refused\n');
    expect(result.stdout).toContain('Apply complete: 2 applied, 0 failed, 0 skipped; 1 backend unreachable.'.replace('complete', 'incomplete'));
    expect(emulator.state.users).toEqual(['a@up.example']);
  });

  it('answering garbage is a one-line error too', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_, res) => res.end('<html>not james</html>')).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const result = await mailops(['plan', '-f', 'examples/', '--backend-url', `james=http://127.0.0.1:${port}`, '--backend-url', `iredadmin=${iredadmin.url}`, '--backend-url', `archive=${archive.url}`, '--backend-url', `openxchange=${groupware.url}`], { env });
    server.close();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Error: backend "james" \(http:\/\/127\.0\.0\.1:\d+\): GET \/\w+: the answer is not JSON \("<html>not james<\/html>"\); is this James WebAdmin\?\n$/);
  });
});

describe('secrets never leak', () => {
  it('not in plans, apply output, debug logs, or the state directory', async () => {
    const outputs = [
      await mailops(['plan', ...examples(), '-v'], { env }),
      await mailops(['apply', ...examples(), '-v', '-o', 'json'], { env: { ...env, MAILOPS_LOG_LEVEL: 'trace' } }),
      await mailops(['plan', ...examples(), '-o', 'markdown'], { env: { ...env, MAILOPS_SECRET_ALICE_PASSWORD: 'changed-Secret-1' } }),
      await mailops(['apply', ...examples(), '-v'], { env: { ...env, MAILOPS_SECRET_ALICE_PASSWORD: 'changed-Secret-1' } }),
    ];
    const state = await Promise.all((await readdir(stateDir)).map((f) => readFile(path.join(stateDir, f), 'utf8')));
    const everything = [...outputs.flatMap((o) => [o.stdout, o.stderr]), ...state].join('\n');
    expect(outputs.map((o) => o.code)).toEqual([0, 0, 0, 0]);
    expect(everything).toContain('"level":20'); // the debug logs really were written
    for (const secret of [...Object.values(PASSWORDS), 'changed-Secret-1']) expect(everything).not.toContain(secret);
  });
});

describe('emulate', () => {
  it('prints "james <url>" once it accepts requests, checks a 3.9 password, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'james', '--listen', '127.0.0.1:0', '--password', 'letmein'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = String((await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value);
    expect(line).toMatch(/^james http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.split(' ')[1]!;
    expect((await fetch(`${url}/domains`)).status).toBe(401);
    expect(await (await fetch(`${url}/domains`, { headers: { password: 'letmein' } })).json()).toEqual(['localhost']);
    const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
    child.kill('SIGTERM');
    expect(await exit).toEqual([0, null]);
  });

  it('checks RS256 tokens as James 3.8 does with --jwt-public-key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { signedToken } = await import('../support/james-targets.ts');
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = await tempDir();
    await writeFile(path.join(dir, 'jwt.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'james', '--jwt-public-key', path.join(dir, 'jwt.pub')], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = String((await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value);
      const url = line.split(' ')[1]!;
      const token = await signedToken(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      const notAdmin = await signedToken(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { admin: false });
      expect(await (await fetch(`${url}/domains`)).text()).toBe('No Bearer header.');
      expect((await fetch(`${url}/domains`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await fetch(`${url}/domains`, { headers: { authorization: `Bearer ${notAdmin}` } })).status).toBe(401);
    } finally {
      child.kill('SIGINT');
    }
  });

  it('refuses a backend it cannot emulate', async () => {
    const result = await mailops(['emulate', 'exchange']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('mailops: there is no emulator for "exchange" (available: james, iredadmin, mailstore, openxchange)\n');
  });
});

describe('demo', () => {
  it('plans, applies and re-plans the examples on embedded emulators (James, iRedAdmin-Pro, MailStore, Open-Xchange)', async () => {
    const result = await mailops(['demo']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Plan: 24 to create, 1 to update, 0 to delete.');
    expect(result.stdout).toMatch(/✓ \+ domain example\.org \[iredadmin\]/);
    expect(result.stdout).toMatch(/✓ \+ domain office\.example \[openxchange\]/);
    expect(result.stdout).toContain('Apply complete: 25 applied, 0 failed, 0 skipped.');
    expect(result.stdout).toMatch(/3\. mailops plan again[^\n]*\n\n(?:.*\n)*No changes\.\n/);
  });
});
