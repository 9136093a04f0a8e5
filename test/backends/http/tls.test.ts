// TLS verification in the HTTP client every backend uses: on by default, a private CA when one is
// given, certificate failures said in words and never retried. Against local HTTPS servers whose
// certificates a CA made for the test signs (openssl).
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../../src/engine/adapter.ts';
import { BackendConnections } from '../../../src/engine/connections.ts';
import { defaultClassifier } from '../../../src/backends/http/index.ts';
import { checkCaBundle } from '../../../src/secrets/ca-bundle.ts';
import { configFrom, backend } from '../../support/manifests.ts';
import { tempDir } from '../../support/cli.ts';
import { useFakeBackends } from '../../support/fake-backend.ts';
import { makeTestPki, type ServerCertificate, type TestPki } from '../../support/tls.ts';

const backends = useFakeBackends();
let pki: TestPki;

beforeAll(async () => {
  pki = await makeTestPki(await tempDir('mailops-pki-'));
});

const serveWith = async (certificate: ServerCertificate) => (await backends.start({}, { tls: certificate })).url;
// Answered 200 without a login (flakyFailures defaults to none).
const plainGet = { method: 'GET', path: '/flaky' } as const;

/** The error a call ends with; fails the test when it succeeds. */
async function failureOf(call: Promise<unknown>): Promise<BackendError> {
  const outcome = await call.then(() => undefined, (error: unknown) => error);
  expect(outcome).toBeInstanceOf(BackendError);
  return outcome as BackendError;
}

describe('TLS verification', () => {
  it('refuses a server whose CA the system does not know, and says which fields name a CA bundle', async () => {
    const url = await serveWith(pki.server);
    const error = await failureOf(backends.client(url, defaultClassifier).call(plainGet));
    expect(error.kind).toBe('Unavailable');
    expect(error.message).toContain('signed by an unknown authority');
    expect(error.message).toContain('spec.caFile or spec.caBundleSecretRef');
  });

  it('accepts the server with the CA bundle that signed its certificate', async () => {
    const url = await serveWith(pki.server);
    expect(await backends.client(url, defaultClassifier, { ca: pki.caPem }).call(plainGet)).toMatchObject({});
  });

  it('refuses a certificate for another host name, even from the right CA', async () => {
    const url = await serveWith(pki.otherName);
    const error = await failureOf(backends.client(url, defaultClassifier, { ca: pki.caPem }).call(plainGet));
    expect(error.message).toContain('not valid for this host name');
    expect(error.message).toContain('127.0.0.1');
  });

  it('refuses an expired certificate', async () => {
    const url = await serveWith(pki.expired);
    const error = await failureOf(backends.client(url, defaultClassifier, { ca: pki.caPem }).call(plainGet));
    expect(error.message).toContain('certificate has expired');
  });

  it('accepts any certificate with insecureSkipTLSVerify', async () => {
    const url = await serveWith(pki.otherName);
    await expect(backends.client(url, defaultClassifier, { insecureSkipTLSVerify: true }).call(plainGet)).resolves.toBeDefined();
  });

  it('does not retry a certificate failure: one connection, however many retries are allowed', async () => {
    const server = createServer({ key: pki.server.key, cert: pki.server.cert }, (_request, response) => response.end('{}'));
    let connections = 0;
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await failureOf(backends.client(url, defaultClassifier, { retries: 5 }).call(plainGet));
      expect(connections).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('CA bundles', () => {
  it('are checked when read: text that is no certificate, or a private key, is refused with the reason', () => {
    expect(() => checkCaBundle('not a certificate', 'ca.pem')).toThrow('ca.pem holds no PEM certificate');
    expect(() => checkCaBundle(pki.server.key, 'ca.pem')).toThrow('it holds a private key');
    expect(() => checkCaBundle('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'ca.pem')).toThrow('certificate 1 of 1 in ca.pem cannot be read');
    expect(checkCaBundle(`\uFEFF${pki.caPem}${pki.server.cert}`, 'ca.pem')).toBe(`${pki.caPem.trim()}\n${pki.server.cert.trim()}\n`);
  });

  it('a changed CA bundle gives the backend a new connection', async () => {
    const built: string[] = [];
    const connections = new BackendConnections((_backend, credentials) => {
      built.push(credentials.caBundle ?? 'system');
      return { close: async () => undefined } as never;
    });
    const { backends: [james] } = configFrom(backend('james', 'https://127.0.0.1:1'));
    expect(await connections.sync([james!], new Map([[james!.id, { caBundle: pki.caPem }]]))).toEqual([]);
    expect(await connections.sync([james!], new Map([[james!.id, { caBundle: pki.caPem }]]))).toEqual([]);
    expect(await connections.sync([james!], new Map([[james!.id, { caBundle: pki.server.cert }]]))).toEqual([james!.id]);
    expect(built).toEqual([pki.caPem, pki.server.cert]);
    await connections.close();
  });
});
