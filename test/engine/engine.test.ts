// The engine driven the way the controller and the watcher will drive it: connections that stay,
// one observation per backend, plans and applies per object, the status of each object.
import { afterEach, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { createAdapter } from '../../src/backends/registry.ts';
import { BackendError, type AdapterFactory, type BackendAdapter, type TaskRef, type TaskStatus } from '../../src/engine/adapter.ts';
import { Engine } from '../../src/engine/engine.ts';
import { resolveSecrets } from '../../src/engine/secrets.ts';
import { backendOutcomes, objectStatus, servingBackends } from '../../src/engine/status.ts';
import type { Config, ObjectRef } from '../../src/model/config.ts';
import { objectKey } from '../../src/model/config.ts';
import { hasChanges, type Plan } from '../../src/plan/index.ts';
import { emptyState } from '../../src/plan/state.ts';
import { MemoryRecordStore } from '../../src/state/records.ts';
import { JAMES_CAPABILITIES } from '../../src/backends/james/adapter.ts';
import { alias, backend, configFrom, docs, domain, user } from '../support/manifests.ts';
import { FINGERPRINT_KEY, MapSecrets } from '../support/session.ts';
import type { ChangeResult } from '../../src/engine/apply.ts';

let emulator: JamesEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const ref = (config: Config, kind: ObjectRef['kind'], name: string): ObjectRef => {
  const all = [...config.backends, ...config.domains, ...config.users, ...config.aliases].map((o) => o.ref);
  return all.find((r) => r.kind === kind && r.name === name)!;
};
const owners = (...refs: ObjectRef[]) => new Set(refs.map(objectKey));
const ids = (plan: Plan) => plan.backends.flatMap((b) => b.changes.map((c) => c.id));

async function engineFor(config: Config, secrets: Record<string, string>, options: { taskMode?: 'block' | 'poll'; adapterFactory?: AdapterFactory } = {}) {
  const records = new MemoryRecordStore();
  const engine = new Engine({ adapterFactory: options.adapterFactory ?? createAdapter, records, fingerprintKey: FINGERPRINT_KEY, ...(options.taskMode ? { taskMode: options.taskMode } : {}) });
  const resolved = await resolveSecrets(config, new MapSecrets(secrets), engine.fingerprint);
  await engine.connect(config.backends, resolved.credentials);
  return { engine, records, resolved };
}

function statusOf(config: Config, target: ObjectRef, plan: Plan, results: readonly ChangeResult[], engine: Engine, secretFailure?: string) {
  return objectStatus({
    object: target,
    backends: backendOutcomes(target, servingBackends(config, target), plan, results, (id) => engine.observation(id)),
    ...(secretFailure ? { secretFailure } : {}),
    now: new Date('2026-11-23T10:00:00Z'),
  });
}

describe('a long-lived engine', () => {
  it('observes once, plans and applies per object, and plans again from the folded observation without a request', async () => {
    emulator = await startJamesEmulator({});
    const config = configFrom(
      docs(
        backend('james', emulator.url),
        domain('example.com', '  aliasDomains: [example.net]\n  defaultQuota: {storage: 5Gi}'),
        user('alice@example.com', '  extraAddresses: [a@example.com]\n  quota: {messages: 100}'),
        user('bob@example.com', '  forwarding: {to: [bob@elsewhere.example], keepCopy: true}'),
        alias('team@example.com', ['alice@example.com', 'bob@example.com']),
      ),
    );
    const { engine, resolved } = await engineFor(config, { alice: 'a', bob: 'b' });
    try {
      await engine.observeAll(config);

      // Only alice is asked for: her domain's creation comes along, ahead of her.
      const alice = ref(config, 'MailUser', 'alice');
      const forAlice = await engine.plan({ config, passwords: resolved.passwords, owners: owners(alice) });
      expect(ids(forAlice)).toEqual(['domain:example.com', 'user:alice@example.com']);
      const first = await engine.apply(forAlice);
      expect(first.results.map((r) => r.outcome)).toEqual(['applied', 'applied']);
      expect(statusOf(config, alice, forAlice, first.results, engine).conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'True', 'Available'],
        ['Synced', 'True', 'ReconcileSuccess'],
      ]);

      // The domain is folded in: bob's plan does not create it again.
      const bob = ref(config, 'MailUser', 'bob');
      const forBob = await engine.plan({ config, passwords: resolved.passwords, owners: owners(bob) });
      expect(ids(forBob)).toEqual(['user:bob@example.com']);
      await engine.apply(forBob);

      const requests = emulator.stats.requests;
      const rest = await engine.plan({ config, passwords: resolved.passwords });
      expect(ids(rest)).toEqual(['group:team@example.com']);
      await engine.apply(rest);
      const steady = await engine.plan({ config, passwords: resolved.passwords });
      expect(hasChanges(steady)).toBe(false);
      // Planning from the kept observation costs nothing; only the one apply spoke to the server.
      expect(emulator.requestLog.slice(requests).map((r) => `${r.method} ${decodeURIComponent(decodeURIComponent(r.path))}`)).toEqual(['PUT /address/groups/team@example.com/alice@example.com', 'PUT /address/groups/team@example.com/bob@example.com']);

      // What was folded in is what the server holds: a fresh observation agrees.
      await engine.observeAll(config);
      expect(hasChanges(await engine.plan({ config, passwords: resolved.passwords }))).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it('a missing secret fails that object alone: the others are applied, and it is neither changed nor pruned', async () => {
    emulator = await startJamesEmulator({});
    const config = configFrom(docs(backend('james', emulator.url), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 100}'), user('alice@example.com'), user('bob@example.com')));
    const raw = (method: string, path: string, body?: unknown) => fetch(emulator!.url + path, { method, ...(body ? { body: JSON.stringify(body) } : {}) });
    await raw('PUT', '/domains/example.com');
    await raw('PUT', '/users/bob@example.com', { password: 'as it was' });

    const { engine, resolved } = await engineFor(config, { alice: 'a' });
    try {
      expect(resolved.failures.map((f) => [f.object, f.field])).toEqual([['MailUser "bob"', 'spec.passwordSecretRef']]);
      await engine.observeAll(config);
      const plan = await engine.plan({ config, passwords: resolved.passwords });
      expect(ids(plan)).toEqual(['user:alice@example.com']);
      const report = await engine.apply(plan);
      const bob = ref(config, 'MailUser', 'bob');
      const status = statusOf(config, bob, plan, report.results, engine, resolved.failures[0]!.message);
      expect(status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'False', 'SecretNotFound'],
        ['Synced', 'False', 'SecretNotFound'],
      ]);
      expect(status.conditions[0]!.message).toMatch(/secret bob\/password not found/);
      expect([...emulator.state.users].sort()).toEqual(['alice@example.com', 'bob@example.com']);
    } finally {
      await engine.close();
    }
  });

  it('keeps a connection and its observation while URL and credentials stay the same, and drops them when they change', async () => {
    emulator = await startJamesEmulator({});
    const built: string[] = [];
    const counting: AdapterFactory = (b, c, log) => {
      built.push(b.url);
      return createAdapter(b, c, log);
    };
    const config = configFrom(docs(backend('james', emulator.url), domain('example.com')));
    const { engine, resolved } = await engineFor(config, {}, { adapterFactory: counting });
    try {
      await engine.observeAll(config);
      await engine.connect(config.backends, resolved.credentials);
      expect(engine.observation(config.backends[0]!.id)?.state).toBeDefined();
      const moved = configFrom(docs(backend('james', `${emulator.url}/`.replace(/\/$/, '/webadmin')), domain('example.com')));
      await engine.connect(moved.backends, resolved.credentials);
      expect(engine.observation(moved.backends[0]!.id)).toBeUndefined();
      expect(built).toEqual([emulator.url, `${emulator.url}/webadmin`]);
    } finally {
      await engine.close();
    }
  });

  it('in a long-lived reconciler a backend task does not hold the work: it is reported running, recorded, and resumed', async () => {
    emulator = await startJamesEmulator({ taskDurationMs: 1500 });
    const before = configFrom(docs(backend('james', emulator.url), domain('example.com'), user('old@example.com', '', 'mover')));
    const after = configFrom(docs(backend('james', emulator.url), domain('example.com'), user('new@example.com', '', 'mover')));
    const { engine, records, resolved } = await engineFor(before, { mover: 'pw' }, { taskMode: 'poll' });
    try {
      await engine.observeAll(before);
      await engine.apply(await engine.plan({ config: before, passwords: resolved.passwords }));
      const moved = await resolveSecrets(after, new MapSecrets({ mover: 'pw' }), engine.fingerprint);
      const mover = ref(after, 'MailUser', 'mover');

      const plan = await engine.plan({ config: after, passwords: moved.passwords, owners: owners(mover) });
      expect(plan.backends[0]!.changes.map((c) => c.action)).toEqual(['replace']);
      const first = await engine.apply(plan);
      expect(first.results.map((r) => r.outcome)).toEqual(['pending']);
      const running = statusOf(after, mover, plan, first.results, engine);
      expect(running.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'False', 'TaskRunning'],
        ['Synced', 'True', 'ReconcileSuccess'],
      ]);
      expect(running.backends).toEqual([expect.objectContaining({ name: 'james', synced: false, task: { id: emulator.state.tasks[0]!.taskId, state: 'running' } })]);
      // The task is recorded, so a restarted controller resumes it too.
      const backendKey = `${after.backends[0]!.id} ${emulator.url}`;
      expect(records.operation(backendKey, 'user:new@example.com')).toMatchObject({ action: 'replace', renameFrom: 'old@example.com', task: { id: emulator.state.tasks[0]!.taskId } });

      await fetch(`${emulator.url}/tasks/${emulator.state.tasks[0]!.taskId}/await?timeout=10s`); // let it finish
      await engine.observeAll(after);
      const again = await engine.plan({ config: after, passwords: moved.passwords, owners: owners(mover) });
      const second = await engine.apply(again);
      expect(second.results.map((r) => r.outcome)).toEqual(['applied']);
      expect(statusOf(after, mover, again, second.results, engine).conditions[0]).toMatchObject({ status: 'True', reason: 'Available' });
      expect(emulator.state.tasks).toHaveLength(1);
      expect(emulator.state.users).toEqual(['new@example.com']);
      expect(records.operation(backendKey, 'user:new@example.com')).toBeUndefined();
    } finally {
      await engine.close();
    }
  });

  it('observing waits out a call that turned into a backend task, with its progress', async () => {
    const progress: number[] = [];
    let polls = 0;
    const slow: BackendAdapter = {
      capabilities: JAMES_CAPABILITIES,
      requestCount: 0,
      async observe(_scope, context) {
        await context.awaitTask({ id: 'token-1', description: 'list users' });
        return emptyState();
      },
      async pollTask(_task: TaskRef): Promise<TaskStatus> {
        polls += 1;
        return polls < 3 ? { state: 'running', progress: polls * 40 } : { state: 'succeeded', progress: 100 };
      },
      async cancelTask() {},
      async apply() {},
      async close() {},
    };
    const config = configFrom(docs(backend('archive', 'http://127.0.0.1:1'), domain('example.com', '', ['archive'])));
    const { engine } = await engineFor(config, {}, { adapterFactory: () => slow });
    try {
      const observation = await engine.observe(config, config.backends[0]!.id, { onTaskProgress: (_t, s) => progress.push(s.progress!) });
      expect(observation.failure).toBeUndefined();
      expect(progress).toEqual([40, 80, 100]);
    } finally {
      await engine.close();
    }
  });

  it('an unreachable backend is BackendUnavailable for each object on it, with the reason, and nothing is planned there', async () => {
    const config = configFrom(docs(backend('james', 'http://127.0.0.1:9'), domain('example.com'), user('alice@example.com')));
    const { engine, resolved } = await engineFor(config, { alice: 'a' });
    try {
      const observation = (await engine.observeAll(config)).get(config.backends[0]!.id)!;
      expect(observation.failure).toBeInstanceOf(BackendError);
      expect(observation.failure!.kind).toBe('Unavailable');
      expect(observation.requests).toBe(0);
      const plan = await engine.plan({ config, passwords: resolved.passwords });
      const alice = ref(config, 'MailUser', 'alice');
      const status = statusOf(config, alice, plan, [], engine);
      expect(status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['Ready', 'Unknown', 'BackendUnavailable'],
        ['Synced', 'False', 'BackendUnavailable'],
      ]);
      expect(status.conditions[0]!.message).toMatch(/^james: cannot reach http:\/\/127\.0\.0\.1:9: connection refused/);
    } finally {
      await engine.close();
    }
  });
});
