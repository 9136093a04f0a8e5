// TLS from the command line, as a user meets it: the James emulator served over HTTPS with a
// certificate from a private CA the test makes (openssl). Verification is on by default; a CA bundle
// from a file or a Secret lets the server in; a wrong host or a bad bundle is refused with nothing
// applied; insecureSkipTLSVerify works and says so at every run.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';
import { configDir, tree } from '../support/files.ts';
import { backend, docs, domain, user } from '../support/manifests.ts';
import { makeTestPki, type ServerCertificate, type TestPki } from '../support/tls.ts';

let pki: TestPki;
let emulator: JamesEmulator | undefined;

beforeAll(async () => {
  pki = await makeTestPki(await tempDir('mailops-pki-'));
});
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function serveJames(certificate: ServerCertificate = pki.server): Promise<JamesEmulator> {
  emulator = await startJamesEmulator({ tls: certificate });
  return emulator;
}

const manifests = (url: string, tls = '') => docs(backend('james', url, tls), domain('example.com'), user('alice@example.com'));

async function run(args: string[], env: Record<string, string> = {}) {
  return mailops(args, { env: { MAILOPS_STATE_DIR: await tempDir('mailops-state-'), MAILOPS_SECRET_ALICE_PASSWORD: 'alice-1', ...env } });
}

const applied = (james: JamesEmulator) => james.state.users.includes('alice@example.com');

describe('mailops and a server with a private CA', () => {
  it('refuses it by default (system CAs), saying how to name the CA, and applies nothing', async () => {
    const james = await serveJames();
    const result = await run(['apply', '-f', await configDir(manifests(james.url))]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`backend "james" (${james.url})`);
    expect(result.stderr).toContain('certificate is signed by an unknown authority');
    expect(result.stderr).toContain('spec.caFile or spec.caBundleSecretRef');
    expect(james.requestLog).toEqual([]);
    expect(applied(james)).toBe(false);
  });

  it('accepts it with caFile, a path relative to the manifest', async () => {
    const james = await serveJames();
    const dir = await tree({ 'mail/config.yaml': manifests(james.url, '  caFile: ../pki/ca.pem'), 'pki/ca.pem': pki.caPem });
    const result = await run(['apply', '-f', path.join(dir, 'mail')]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(applied(james)).toBe(true);
  });

  it('accepts it with the CA bundle from a secret (MAILOPS_SECRET_<NAME>_<KEY>)', async () => {
    const james = await serveJames();
    const dir = await configDir(manifests(james.url, '  caBundleSecretRef: {name: james-ca, key: ca.crt}'));
    const result = await run(['apply', '-f', dir], { MAILOPS_SECRET_JAMES_CA_CA_CRT: pki.caPem });
    expect(result.code).toBe(0);
    expect(applied(james)).toBe(true);
  });

  it.each([
    ['made out to another host', 'otherName', 'certificate is not valid for this host name'],
    ['that has expired', 'expired', 'certificate has expired'],
  ] as const)('refuses a certificate %s, even from the right CA, and applies nothing', async (_what, certificate, message) => {
    const james = await serveJames(pki[certificate]);
    const result = await run(['apply', '-f', await configDir(manifests(james.url, `  caFile: ${pki.caFile}`))]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(applied(james)).toBe(false);
  });

  it('refuses a caFile that holds no certificate, naming the MailBackend and the field, before contacting any backend', async () => {
    const james = await serveJames();
    const dir = await configDir(manifests(james.url, '  caFile: ca.pem'));
    await writeFile(path.join(dir, 'ca.pem'), pki.server.key);
    const result = await run(['apply', '-f', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/config\.yaml:\d+:\d+: MailBackend "james" spec\.caFile: ca\.pem holds no PEM certificate/);
    expect(james.requestLog).toEqual([]);
  });

  it('refuses caFile together with insecureSkipTLSVerify, as the CRD does', async () => {
    const result = await run(['validate', '-f', await configDir(manifests('https://127.0.0.1:1', `  caFile: ca.pem\n  insecureSkipTLSVerify: true`))]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('insecureSkipTLSVerify turns verification off; it cannot be set together with caFile');
  });

  it('with insecureSkipTLSVerify, works and warns at every run, naming the backend', async () => {
    const james = await serveJames(pki.otherName);
    const dir = await configDir(manifests(james.url, '  insecureSkipTLSVerify: true'));
    const warnings = (stderr: string) => stderr.split('\n').filter((line) => line.includes('has insecureSkipTLSVerify'));
    const first = await run(['apply', '-f', dir]);
    expect(first.code).toBe(0);
    expect(applied(james)).toBe(true);
    const second = await run(['plan', '-f', dir]);
    expect(second.code).toBe(0);
    for (const { stderr } of [first, second]) {
      expect(warnings(stderr)).toHaveLength(1);
      expect(JSON.parse(warnings(stderr)[0]!)).toMatchObject({ level: 40, backend: 'james', url: james.url });
    }
  });
});
