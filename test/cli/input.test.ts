// The command line with input a new user gives it: secrets from odd files, help and version,
// warnings and notes, a directory with nothing of ours in it.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';
import { configDir } from '../support/files.ts';
import { alias, backend, docs, domain, user } from '../support/manifests.ts';

let emulator: JamesEmulator;
beforeAll(async () => {
  emulator = await startJamesEmulator({});
});
afterAll(async () => {
  await emulator.close();
});

describe('secrets read from files', () => {
  const withKey = (key: string) => docs(backend('james', emulator.url), domain('example.com'), user('alice@example.com').replace('key: password', `key: ${key}`));

  it('refuses a key that is not a Kubernetes Secret key, such as ..', async () => {
    const result = await mailops(['validate', '-f', await configDir(withKey("'..'"))]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/config\.yaml:\d+:\d+: MailUser "alice" spec\.passwordSecretRef\.key: /);
  });

  it('reports a secret that cannot be read (a directory) where it is referenced, and applies nothing', async () => {
    const secrets = await tempDir('mailops-secrets-');
    await mkdir(path.join(secrets, 'alice', 'password'), { recursive: true });
    const dir = await configDir(withKey('password'));
    const result = await mailops(['apply', '-f', dir, '--secrets-dir', secrets], { env: { MAILOPS_STATE_DIR: await tempDir() } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${dir}/config.yaml:22:22: MailUser "alice" spec.passwordSecretRef: secret alice/password cannot be read from ${secrets}/alice/password (EISDIR)`);
    expect(emulator.requestLog).toEqual([]);
  });

  it('drops a trailing CRLF from a secret file, as it drops LF', async () => {
    const secrets = await tempDir('mailops-secrets-');
    await mkdir(path.join(secrets, 'alice'), { recursive: true });
    await writeFile(path.join(secrets, 'alice', 'password'), 'windows-pw\r\n');
    const dir = await configDir(withKey('password'));
    const result = await mailops(['apply', '-f', dir, '--secrets-dir', secrets], { env: { MAILOPS_STATE_DIR: await tempDir() } });
    expect(result.code).toBe(0);
    const verify = await fetch(`${emulator.url}/users/alice@example.com/verify`, { method: 'POST', body: JSON.stringify({ password: 'windows-pw' }) });
    expect(verify.status).toBe(204);
  });
});

describe('the commands themselves', () => {
  it('validate lists only the options it uses', async () => {
    const help = await mailops(['validate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--filename');
    for (const unused of ['--secrets-dir', '--state-dir', '--backend-url', '--allow-mass-deletion']) expect(help.stdout).not.toContain(unused);
  });

  it('prints its version', async () => {
    const result = await mailops(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });

  it('fails for an unknown command even when asked for help', async () => {
    for (const args of [['plna'], ['plna', '--help']]) {
      const result = await mailops(args);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("unknown command 'plna'");
    }
  });

  it('refuses credentials in --backend-url without printing them', async () => {
    const dir = await configDir(docs(backend('james', emulator.url), domain('example.com')));
    const result = await mailops(['plan', '-f', dir, '--backend-url', 'james=https://admin:s3cret@james.example']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('mailops: --backend-url james=…: the URL carries credentials; put them in spec.credentials (a secret reference), never in the URL\n');
  });

  it('plan and apply fail when the paths hold no mailops object', async () => {
    const dir = await configDir('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    for (const command of ['plan', 'apply']) {
      const result = await mailops([command, '-f', dir], { env: { MAILOPS_STATE_DIR: await tempDir() } });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${dir}: no mailops.dev object found (read 1 file and skipped 1 document of other API groups); nothing to plan`);
    }
  });
});

describe('warnings and notes', () => {
  const renamed = () =>
    docs(backend('james', emulator.url), domain('example.com'), user('Alice.L@example.com', '', 'alice'), alias('team@example.com', ['alice@example.com']));

  it('validate prints a warning about an alias member nothing declares, and exits 0', async () => {
    const result = await mailops(['validate', '-f', await configDir(renamed())]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^Warning: .*config\.yaml:\d+:\d+: Alias "alias-team" spec\.members\[0\]: member alice@example\.com is in managed domain example\.com/);
    expect(result.stdout).toContain('Note: An address was written with upper-case letters; mailops plans it in lower case');
  });

  it('plan says once that an address is planned in lower case', async () => {
    const result = await mailops(['plan', '-f', await configDir(renamed())], { env: { MAILOPS_STATE_DIR: await tempDir(), MAILOPS_SECRET_ALICE_PASSWORD: 'x' } });
    expect(result.code).toBe(0);
    expect(result.stdout.match(/Note: /g)).toHaveLength(1);
    expect(result.stdout).toContain('+ user alice.l@example.com');
    expect(result.stderr).toContain('Warning: ');
  });
});
