// The controller against a real kube-apiserver (built from the Go module proxy) and the James
// emulator, as a user runs it: CRDs and manifests/ applied with kubectl, the controller as a
// process under the ServiceAccount token that manifests/ grants, objects applied with kubectl.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { ROOT } from '../support/cli.ts';
import { eventually, startTestCluster, type ControllerProcess, type TestCluster } from '../support/kube-cluster.ts';

interface Condition { type: string; status: string; reason: string; message?: string }
interface Resource {
  metadata: { name: string; namespace: string; finalizers?: string[]; generation?: number };
  spec: Record<string, unknown>;
  status?: { observedGeneration?: number; conditions?: Condition[]; backends?: Array<{ name: string; state?: string; synced: boolean; task?: { id: string; progress?: number }; applied?: Record<string, unknown> }> };
}

let cluster: TestCluster;
let james: JamesEmulator;
let controller: ControllerProcess;
const port = { value: 0 };

const condition = (r: Resource | undefined, type: string) => r?.status?.conditions?.find((c) => c.type === type);
const get = (kind: string, ns: string, name: string) => cluster.getJson<Resource>(['get', kind, name, '-n', ns]).catch(() => undefined);
const ready = (kind: string, ns: string, name: string, generation?: number) =>
  eventually(`${kind} ${ns}/${name} Ready=True`, async () => {
    const r = await get(kind, ns, name);
    const c = condition(r, 'Ready');
    return c?.status === 'True' && (generation === undefined || r?.status?.observedGeneration === generation) ? r : undefined;
  }, 45_000);

/** A namespace with a James backend, a domain and the secrets its users need. */
async function namespaceWith(ns: string, domain: string, extra = ''): Promise<void> {
  await cluster.kubectl(['create', 'namespace', ns]);
  await cluster.kubectl(['apply', '-n', ns, '-f', '-'], `
apiVersion: mailops.dev/v1alpha1
kind: MailBackend
metadata: {name: james}
spec: {type: james, url: '${james.url}'}
---
apiVersion: mailops.dev/v1alpha1
kind: MailDomain
metadata: {name: ${domain.replace(/\./g, '-')}}
spec:
  domain: ${domain}
  backendRefs: [{name: james}]
${extra}`);
}

const user = (name: string, address: string, more = '') => `
---
apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: ${name}}
spec:
  address: ${address}
  passwordSecretRef: {name: ${name}, key: password}
${more}`;

beforeAll(async () => {
  cluster = await startTestCluster();
  james = await startJamesEmulator({ taskDurationMs: 6_000 });
  port.value = Number(new URL(james.url).port);
  controller = await cluster.startController(['--resync-interval', '4s']);
  await controller.leading();
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await james?.close();
});

describe('mailops controller on a real API server', () => {
  it('reconciles examples/ until every object is Ready and James holds it, with events and columns', async () => {
    await cluster.kubectl(['create', 'namespace', 'examples']);
    for (const name of ['alice', 'bob', 'carol']) await cluster.kubectl(['create', 'secret', 'generic', name, '-n', 'examples', `--from-literal=password=${name}-initial`]);
    for (const file of ['backend.yaml', 'example-com.yaml', 'quota-policies.yaml']) {
      const text = (await readFile(`${ROOT}/examples/${file}`, 'utf8')).replace('http://127.0.0.1:8000', james.url);
      await cluster.kubectl(['apply', '-n', 'examples', '-f', '-'], text);
    }
    await cluster.kubectl(['wait', '-n', 'examples', '--for=condition=Ready', '--timeout=60s', 'mailuser', '--all']);
    await cluster.kubectl(['wait', '-n', 'examples', '--for=condition=Ready', '--timeout=60s', 'alias,maildomain,mailbackend', '--all']);
    expect(james.state.users).toEqual(expect.arrayContaining(['alice@example.com', 'bob@example.com', 'carol@example.com']));
    expect(james.state.domains).toContain('example.com');

    const alice = (await get('mailuser', 'examples', 'alice'))!;
    expect(alice.metadata.finalizers).toContain('mailops.dev/backend-cleanup');
    expect(condition(alice, 'Synced')?.status).toBe('True');
    expect(alice.status?.observedGeneration).toBe(alice.metadata.generation);
    expect(alice.status?.backends?.[0]).toMatchObject({ name: 'james', state: 'Available', synced: true });
    // The record of what was applied is a fingerprint, never the password.
    expect(JSON.stringify(alice.status)).not.toContain('alice-initial');

    const table = await cluster.kubectl(['get', 'mail', '-n', 'examples']);
    expect(table).toMatch(/READY\s+SYNCED\s+BACKENDS/);
    expect(table).toMatch(/mailuser\.mailops\.dev\/alice\s+alice@example\.com\s+True\s+True\s+james/);
    const described = await cluster.kubectl(['describe', 'mailuser', 'alice', '-n', 'examples']);
    expect(described).toMatch(/Created\s+.*james: created user alice@example\.com/);
  });

  it('carries a spec change to the backend, and a rotated Secret to that user’s password only', async () => {
    const before = (await get('mailuser', 'examples', 'bob'))!;
    await cluster.kubectl(['patch', 'mailuser', 'bob', '-n', 'examples', '--type=merge', '-p', '{"spec":{"extraAddresses":["robert@example.com"]}}']);
    await ready('mailuser', 'examples', 'bob', (before.metadata.generation ?? 1) + 1);
    await eventually('robert@example.com on James', async () => (james.state.mappings['robert@example.com'] ? true : undefined));

    const verify = async (address: string, password: string) =>
      (await fetch(`${james.url}/users/${address}/verify`, { method: 'POST', body: JSON.stringify({ password }) })).status;
    expect(await verify('carol@example.com', 'carol-initial')).toBe(204);
    const requestsBefore = james.requestLog.filter((r) => r.method === 'PUT' && r.path.startsWith('/users/')).length;
    await cluster.kubectl(['create', 'secret', 'generic', 'carol', '-n', 'examples', '--from-literal=password=carol-rotated', '--dry-run=client', '-o', 'yaml'])
      .then((yaml) => cluster.kubectl(['apply', '-f', '-'], yaml.replace('metadata:', 'metadata:\n  namespace: examples')));
    await eventually('the rotated password on James', async () => ((await verify('carol@example.com', 'carol-rotated')) === 204 ? true : undefined));
    const puts = james.requestLog.filter((r) => r.method === 'PUT' && r.path.startsWith('/users/')).slice(requestsBefore);
    expect(puts.map((r) => r.path)).toEqual(['/users/carol@example.com']);
  });

  it('writes nothing to the API server or the backend on an idle resync', async () => {
    await eventually('a quiet moment', async () => ((await controller.metric('mailops_workqueue_depth')) === 0 ? true : undefined));
    const objectWrites = async () => (await controller.metric('mailops_apiserver_writes_total')) - (await controller.metric('mailops_apiserver_writes_total', { what: 'update lease' }));
    const writesBefore = await objectWrites();
    const logBefore = james.requestLog.length;
    const lists = () => controller.metric('mailops_backend_requests_total', { operation: 'GET /users' });
    const listsBefore = await lists();
    // Two resyncs (every 4 s) go by, each observing James once.
    await eventually('two resyncs', async () => ((await lists()) >= listsBefore + 2 ? true : undefined), 20_000);
    expect(await objectWrites()).toBe(writesBefore);
    expect(james.requestLog.slice(logBefore).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('deletes a deleted object from the backend, orphans on request, and deletes a domain only after its users', async () => {
    await namespaceWith('del', 'del.example', user('dina', 'dina@del.example') + user('olga', 'olga@del.example', '  deletionPolicy: Orphan'));
    for (const name of ['dina', 'olga']) await cluster.kubectl(['create', 'secret', 'generic', name, '-n', 'del', `--from-literal=password=${name}-pw`]);
    await ready('mailuser', 'del', 'dina');
    await ready('mailuser', 'del', 'olga');
    expect(james.state.users).toEqual(expect.arrayContaining(['dina@del.example', 'olga@del.example']));

    await cluster.kubectl(['delete', 'mailuser', 'dina', 'olga', '-n', 'del', '--wait=true', '--timeout=60s']);
    expect(james.state.users).not.toContain('dina@del.example');
    expect(james.state.users).toContain('olga@del.example'); // Orphan: left alone

    // The domain still holds olga on James: its deletion is refused in its status, not forced.
    await cluster.kubectl(['delete', 'maildomain', 'del-example', '-n', 'del', '--wait=false']);
    const held = await eventually('the domain deletion held up', async () => {
      const domain = await get('maildomain', 'del', 'del-example');
      const c = condition(domain, 'Synced');
      return c?.reason === 'Refused' ? c : undefined;
    });
    expect(held.message).toMatch(/still holds 1 user.*olga@del\.example.*deletionPolicy: Orphan/);
    expect(james.state.domains).toContain('del.example');
    await fetch(`${james.url}/users/olga@del.example`, { method: 'DELETE' });
    await eventually('the domain gone from James and the cluster', async () =>
      !james.state.domains.includes('del.example') && (await get('maildomain', 'del', 'del-example')) === undefined ? true : undefined);
  });

  it('reports invalid objects (or the API server rejects them) and keeps reconciling the rest', async () => {
    const rejected = await cluster.kubectlResult(['apply', '-n', 'examples', '-f', '-'], user('bad', 'not-an-address'));
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/spec\.address/);

    await namespaceWith('inv', 'inv.example',
      user('loop', 'loop@inv.example', '  forwarding: {to: [loop@inv.example]}') +
      user('stray', 'stray@nowhere.example') +
      user('fine', 'fine@inv.example'));
    for (const name of ['loop', 'stray', 'fine']) await cluster.kubectl(['create', 'secret', 'generic', name, '-n', 'inv', `--from-literal=password=${name}-pw`]);
    await ready('mailuser', 'inv', 'fine');
    const loop = await eventually('loop reported', async () => { const c = condition(await get('mailuser', 'inv', 'loop'), 'Ready'); return c?.reason === 'InvalidSpec' ? c : undefined; });
    expect(loop.message).toMatch(/forwarding\.to\[0\]: forwards to the user’s own address/);
    const stray = await eventually('stray waits', async () => { const c = condition(await get('mailuser', 'inv', 'stray'), 'Ready'); return c?.reason === 'DependencyNotReady' ? c : undefined; });
    expect(stray.message).toMatch(/nowhere\.example, which no MailDomain declares/);
    expect(james.state.users).not.toContain('loop@inv.example');

    // The missing domain appears: the waiting user goes ahead on its own.
    await cluster.kubectl(['apply', '-n', 'inv', '-f', '-'], `
apiVersion: mailops.dev/v1alpha1
kind: MailDomain
metadata: {name: nowhere}
spec: {domain: nowhere.example, backendRefs: [{name: james}]}`);
    await ready('mailuser', 'inv', 'stray');
    expect(james.state.users).toContain('stray@nowhere.example');
  });

  it('turns objects Synced=False while their backend is down, and they recover by themselves', async () => {
    const down = await startJamesEmulator({});
    await namespaceWith('flaky', 'flaky.example', user('fred', 'fred@flaky.example'));
    await cluster.kubectl(['create', 'secret', 'generic', 'fred', '-n', 'flaky', '--from-literal=password=fred-pw']);
    // Point the backend at a server that is not there.
    const deadUrl = down.url;
    await down.close();
    await cluster.kubectl(['patch', 'mailbackend', 'james', '-n', 'flaky', '--type=merge', '-p', JSON.stringify({ spec: { url: deadUrl } })]);
    const synced = await eventually('fred Synced=False', async () => { const c = condition(await get('mailuser', 'flaky', 'fred'), 'Synced'); return c?.status === 'False' ? c : undefined; });
    expect(synced.reason).toBe('BackendUnavailable');
    expect(synced.message).toContain(deadUrl);
    // The server comes back on the same address.
    const back = await startJamesEmulator({ listen: new URL(deadUrl).host });
    try {
      await ready('mailuser', 'flaky', 'fred');
      expect(back.state.users).toContain('fred@flaky.example');
    } finally {
      await back.close();
    }
  });
});
