// The controller's connections to the API server: one TLS connection carries many calls. client-node
// on its own opened a connection (a TLS handshake) per call, which made a burst of status writes slow.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, loadKubeConfig } from '../../src/controller/kube.ts';
import { tempDir } from '../support/cli.ts';
import { makeTestPki, type TestPki } from '../support/tls.ts';

let pki: TestPki;
let server: Server;
let url: string;
let handshakes = 0;
let requests = 0;

beforeAll(async () => {
  pki = await makeTestPki(await tempDir('mailops-kube-pki-'));
  server = createServer({ key: pki.server.key, cert: pki.server.cert }, (request, response) => {
    requests++;
    const name = request.url!.split('/').at(-1);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ apiVersion: 'mailops.dev/v1alpha1', kind: 'MailUser', metadata: { name, namespace: 'mail', uid: name, resourceVersion: '1' }, spec: {} }));
  });
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function kubeconfig(dir: string, caFile: string): string {
  const file = path.join(dir, 'kubeconfig.json');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority': caFile } }],
    users: [{ name: 'controller', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'controller' } }],
    'current-context': 'test',
  }));
  return file;
}

describe('connections to the API server', () => {
  it('sends many calls over one TLS connection, and a new one once the CA file changes', async () => {
    const dir = await tempDir('mailops-kubeconfig-');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, pki.caPem);
    const config = loadKubeConfig({ kubeconfig: kubeconfig(dir, caFile) });
    const kube = new KubeClient(config);
    try {
      handshakes = 0;
      requests = 0;
      for (let i = 0; i < 20; i++) expect((await kube.getMail('MailUser', 'mail', `u${i}`)).metadata.name).toBe(`u${i}`);
      expect(requests).toBe(20);
      // A pool, not a connection per call (which made 20): the first connection may still be
      // finishing its answer when the second call goes out.
      expect(handshakes).toBeLessThanOrEqual(2);
      const before = handshakes;

      // A rotated CA (the file written again) is read anew: a new connection verified against it.
      writeFileSync(caFile, pki.caPem);
      utimesSync(caFile, new Date(), new Date(Date.now() + 60_000));
      await kube.getMail('MailUser', 'mail', 'after');
      expect(handshakes).toBe(before + 1);
    } finally {
      await config.close();
    }
  });
});
