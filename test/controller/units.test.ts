// The controller's pure parts: how cluster objects become a configuration (per-object failures,
// deletions), where records live in status, how status patches guard against other writers, and
// how the work queue batches and backs off.
import { describe, expect, it } from 'vitest';
import { clusterConfig, FINALIZER } from '../../src/controller/cluster-config.ts';
import { SecretIndex } from '../../src/controller/controller.ts';
import { ClusterSecretResolver } from '../../src/controller/secrets.ts';
import type { MailResource } from '../../src/controller/kube.ts';
import { WorkQueue } from '../../src/controller/queue.ts';
import { ClusterRecordStore } from '../../src/controller/records.ts';
import { statusPatch } from '../../src/controller/writes.ts';
import { JAMES_CAPABILITIES } from '../../src/backends/james/adapter.ts';
import { desiredStateFor } from '../../src/plan/desired.ts';
import { diffBackend } from '../../src/plan/diff.ts';
import { observedUser, state } from '../support/planning.ts';

let uid = 0;
const resource = (kind: MailResource['kind'], name: string, spec: Record<string, unknown>, extra: Partial<MailResource['metadata']> = {}): MailResource => ({
  apiVersion: 'mailops.dev/v1alpha1',
  kind,
  metadata: { name, namespace: 'mail', uid: `uid-${++uid}`, resourceVersion: '1', generation: 1, ...extra },
  spec,
});
const backend = resource('MailBackend', 'james', { type: 'james', url: 'http://127.0.0.1:8000' });
const domain = (extra = {}) => resource('MailDomain', 'example', { domain: 'example.com', backendRefs: [{ name: 'james' }] }, extra);
const user = (name: string, spec: Record<string, unknown> = {}, extra = {}) =>
  resource('MailUser', name, { address: `${name}@example.com`, passwordSecretRef: { name, key: 'password' }, ...spec }, extra);
const deleting = { deletionTimestamp: new Date(), finalizers: [FINALIZER] };

describe('cluster objects → configuration', () => {
  it('leaves out an invalid object, makes what refers to a missing one wait, and keeps the rest', () => {
    const { config, excluded } = clusterConfig([
      backend,
      domain(),
      user('ann'),
      user('loop', { forwarding: { to: ['loop@example.com'] } }),
      resource('MailUser', 'stray', { address: 'stray@elsewhere.org', passwordSecretRef: { name: 'stray', key: 'password' } }),
      resource('Alias', 'team', { address: 'team@other.org', members: ['ann@example.com'] }),
    ]);
    expect(config.users.map((u) => u.address)).toEqual(['ann@example.com']);
    expect(excluded.get('MailUser/mail/loop')).toEqual({ reason: 'InvalidSpec', messages: ['spec.forwarding.to[0]: forwards to the user’s own address; set keepCopy: true instead'] });
    expect(excluded.get('MailUser/mail/stray')?.reason).toBe('DependencyNotReady');
    expect(excluded.get('Alias/mail/team')?.reason).toBe('DependencyNotReady');
  });

  it('makes a domain whose backend is invalid wait, and its users with it', () => {
    const { config, excluded } = clusterConfig([resource('MailBackend', 'james', { type: 'james', url: 'http://user:pw@127.0.0.1' }), domain(), user('ann')]);
    expect(config.domains).toEqual([]);
    expect(excluded.get('MailBackend/mail/james')?.reason).toBe('InvalidSpec');
    expect(excluded.get('MailDomain/mail/example')?.reason).toBe('DependencyNotReady');
    expect(excluded.get('MailUser/mail/ann')?.reason).toBe('DependencyNotReady');
  });

  it('turns objects on their way out into deletions, per deletionPolicy, and holds a domain back while it has users', () => {
    const { config, deleting: leaving } = clusterConfig([backend, domain(deleting), user('ann', {}, deleting), user('olga', { deletionPolicy: 'Orphan' }, deleting), user('gone', {}, { deletionTimestamp: new Date() })]);
    expect(config.users).toEqual([]);
    expect(config.deletions?.map((d) => [d.resource, d.key])).toEqual([['user', 'ann@example.com']]);
    expect(config.domains.map((d) => d.domain)).toEqual(['example.com']); // still has ann and olga in the cluster
    expect(leaving.get('MailDomain/mail/example')?.waitingFor).toMatch(/2 MailUser or Alias objects of example.com still exist/);
    expect(leaving.get('MailUser/mail/olga')).toEqual({ policy: 'Orphan' });
    expect(leaving.has('MailUser/mail/gone')).toBe(false); // not ours any more: no finalizer

    const alone = clusterConfig([backend, domain(deleting)]);
    expect(alone.config.domains).toEqual([]);
    expect(alone.config.deletions?.map((d) => [d.resource, d.key])).toEqual([['domain', 'example.com']]);
  });
});

describe('pruning in a cluster', () => {
  it('never deletes a user whose object is invalid or waiting: it is still declared, only not usable', () => {
    const pruning = resource('MailDomain', 'example', { domain: 'example.com', backendRefs: [{ name: 'james' }], prune: { enabled: true, maxUserDeletionPercent: 100 } });
    const { config } = clusterConfig([backend, pruning, user('ann'), user('Loop', { address: 'Loop@example.com', forwarding: { to: ['loop@example.com'] } })]);
    const desired = desiredStateFor(config, 'mail/james', 'james', JAMES_CAPABILITIES, new Map());
    const observed = state({
      domains: new Map([['example.com', { name: 'example.com', aliasDomains: [], defaultQuota: { storage: null, messages: null } }]]),
      users: new Map(['ann@example.com', 'loop@example.com', 'gone@example.com'].map((a) => [a, observedUser(a)])),
    });
    const deletes = diffBackend({ desired, observed, records: new Map(), capabilities: JAMES_CAPABILITIES, allowMassDeletion: false }).changes.filter((c) => c.action === 'delete');
    expect(deletes.map((c) => c.key)).toEqual(['gone@example.com']);
  });
});

describe('namespaces', () => {
  it('give each its own global default QuotaPolicy, acting on that namespace’s backends only', () => {
    const inNamespace = (namespace: string, r: MailResource): MailResource => ({ ...r, metadata: { ...r.metadata, namespace } });
    const global = (storage: string) => resource('QuotaPolicy', 'default-quota', { storage, globalDefault: true });
    const { config, excluded } = clusterConfig([
      inNamespace('a', backend), inNamespace('a', global('1Gi')),
      inNamespace('b', backend), inNamespace('b', global('2Gi')),
    ]);
    expect(excluded.size).toBe(0);
    const limitOn = (backendId: string) => desiredStateFor(config, backendId, 'james', JAMES_CAPABILITIES, new Map()).globalQuota?.limits?.storage;
    expect(limitOn('a/james')).toBe(1024 ** 3);
    expect(limitOn('b/james')).toBe(2 * 1024 ** 3);
  });
});

describe('which objects a Secret reaches', () => {
  it('a MailBackend’s CA bundle Secret, beside its credentials: a rotated CA reconciles the backend', () => {
    const index = new SecretIndex();
    const withCa = resource('MailBackend', 'james', {
      type: 'james',
      url: 'https://127.0.0.1:8000',
      credentials: { tokenSecretRef: { name: 'james-admin', key: 'token' } },
      caBundleSecretRef: { name: 'james-ca', key: 'ca.crt' },
    });
    index.index('MailBackend/mail/james', withCa, false);
    expect(index.usersOf('mail/james-ca')).toEqual(['MailBackend/mail/james']);
    expect(index.usersOf('mail/james-admin')).toEqual(['MailBackend/mail/james']);
    index.index('MailBackend/mail/james', { ...withCa, spec: { ...withCa.spec, caBundleSecretRef: undefined } }, false);
    expect(index.usersOf('mail/james-ca')).toEqual([]);
  });

  it('a caFile in a cluster is a path in the controller’s container: a relative one is refused with what to do', async () => {
    const resolver = new ClusterSecretResolver(() => undefined);
    await expect(resolver.readFile('ca.pem', { file: 'MailBackend/mail/james', line: 0, column: 0 })).rejects.toThrow('give an absolute path in the controller’s container');
  });
});

describe('records in status', () => {
  it('keeps fingerprints only of the current key, and operations with their owner, through a status round trip', async () => {
    const persisted: string[][] = [];
    const store = new ClusterRecordStore(async (owners) => void persisted.push([...owners]));
    store.useKey('key-1');
    store.seed('MailUser/mail/ann', 'mail', [{ name: 'james', applied: { url: 'http://j', address: 'ann@example.com', passwordFingerprint: 'fp-old', keyId: 'key-0' } }]);
    expect(store.recordsFor('mail/james http://j').get('MailUser/mail/ann')).toEqual({ address: 'ann@example.com', passwordFingerprint: null });

    store.set('mail/james http://j', 'MailUser/mail/ann', { address: 'ann@example.com', passwordFingerprint: 'fp-new' });
    store.setOperation('mail/james http://j', 'user:anna@example.com', { action: 'replace', owner: 'MailUser/mail/ann', step: 'created', renameFrom: 'ann@example.com', task: { id: 't1', description: 'move', cursor: 7 } });
    await store.flush();
    expect(persisted).toEqual([['MailUser/mail/ann']]);
    const status = store.statusOf('MailUser/mail/ann').get('mail/james')!;
    expect(status).toMatchObject({ url: 'http://j', passwordFingerprint: 'fp-new', keyId: 'key-1', operation: { changeId: 'user:anna@example.com', task: { cursor: '7' } } });

    // Another controller reads it back from the status.
    const next = new ClusterRecordStore(async () => {});
    next.useKey('key-1');
    next.seed('MailUser/mail/ann', 'mail', [{ name: 'james', applied: status }]);
    expect(next.operation('mail/james http://j', 'user:anna@example.com')).toMatchObject({ action: 'replace', renameFrom: 'ann@example.com', task: { id: 't1', cursor: 7 } });
    expect(next.operationIds('mail/james http://j')).toEqual(['user:anna@example.com']);
    next.setOperation('mail/james http://j', 'user:anna@example.com', undefined);
    expect(next.statusOf('MailUser/mail/ann').get('mail/james')?.operation).toBeUndefined();
  });

  it('writes a status for a task under way, but none of its own for a creation or the end of an operation: those ride with the status written after the reconcile', async () => {
    const persisted: string[][] = [];
    const store = new ClusterRecordStore(async (owners) => void persisted.push([...owners]));
    store.useKey('key-1');
    const users = ['ann', 'bob', 'cid'].map((name) => `MailUser/mail/${name}`);
    for (const owner of users) store.setOperation('mail/james http://j', `user:${owner}`, { action: 'create', owner, step: 'creating' });
    await store.flush();
    expect(persisted).toEqual([]);
    expect(store.statusOf('MailUser/mail/ann').get('mail/james')?.operation).toMatchObject({ step: 'creating' });

    // A task to resume after a restart is written before it is waited for.
    store.setOperation('mail/james http://j', 'user:MailUser/mail/bob', { action: 'create', owner: 'MailUser/mail/bob', step: 'CreateUser', task: { id: 't1', description: 'create' } });
    await store.flush();
    expect(persisted).toEqual([['MailUser/mail/bob']]);

    // Applied: the checkpoints go, the fingerprints come; no write of its own for that.
    for (const owner of users) {
      store.setOperation('mail/james http://j', `user:${owner}`, undefined);
      store.set('mail/james http://j', owner, { address: `${owner}@example.com`, passwordFingerprint: 'fp' });
    }
    await store.flush();
    expect(persisted).toHaveLength(1);
    expect(store.statusOf('MailUser/mail/ann').get('mail/james')).toEqual({ url: 'http://j', address: 'MailUser/mail/ann@example.com', passwordFingerprint: 'fp', keyId: 'key-1' });
  });
});

describe('status patches', () => {
  it('test every value they replace, so a write over someone else’s change is refused', () => {
    const patch = statusPatch({ observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False' }] }, { observedGeneration: 2, conditions: [{ type: 'Ready', status: 'True' }] });
    expect(patch).toEqual([
      { op: 'test', path: '/status/conditions/0/status', value: 'False' },
      { op: 'replace', path: '/status/conditions/0/status', value: 'True' },
      { op: 'test', path: '/status/observedGeneration', value: 1 },
      { op: 'replace', path: '/status/observedGeneration', value: 2 },
    ]);
    expect(statusPatch({ a: 1 }, { a: 1 })).toEqual([]);
  });
});

describe('the work queue', () => {
  it('hands out each key once per batch and backs off failures exponentially', async () => {
    const queue = new WorkQueue({ batchWindowMs: 0, baseDelayMs: 1000 });
    for (const key of ['a', 'b', 'a']) queue.add(key);
    expect(await queue.take()).toEqual({ keys: new Set(['a', 'b']), resync: false });
    expect([queue.addRateLimited('a'), queue.addRateLimited('a'), queue.addRateLimited('a')]).toEqual([1000, 2000, 4000]);
    queue.forget('a');
    expect(queue.addRateLimited('a')).toBe(1000);
    queue.add('a'); // an event makes it due at once
    queue.requestResync();
    expect(await queue.take()).toEqual({ keys: new Set(['a']), resync: true });
    queue.shutDown();
    expect(await queue.take()).toBeUndefined();
  });
});
