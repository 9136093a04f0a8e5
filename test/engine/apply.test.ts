// The engine under adverse conditions, against the James emulator: injected 5xx answers and dropped
// connections, an object that fails, a backend task that outlives its deadline.
import { afterEach, describe, expect, it } from 'vitest';
import { JamesAdapter } from '../../src/backends/james/adapter.ts';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { BackendError, type BackendAdapter } from '../../src/engine/adapter.ts';
import { hasChanges, summarize } from '../../src/plan/index.ts';
import { MemoryRecordStore } from '../../src/state/records.ts';
import { alias, backend, docs, domain, user } from '../support/manifests.ts';
import { converge, openSession } from '../support/session.ts';

let emulator: JamesEmulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function manyUsers(d: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => user(`user${i}@${d}`, `  forwarding: {to: [out${i}@elsewhere.example], keepCopy: true}\n  quota: {storage: 1Gi}`, `user${i}`));
}

const passwords = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`user${i}`, `pw${i}`]));

describe('retries', () => {
  it.each(['status', 'reset', 'lost'] as const)('converges although a quarter of the requests fail (%s)', async (failureMode) => {
    emulator = await startJamesEmulator({ failureRate: 0.25, failureMode, seed: 42 });
    const yaml = docs(backend('james', emulator.url, '  limits: {retries: 8}'), domain('example.com'), ...manyUsers('example.com', 12), alias('all@example.com', ['user0@example.com', 'user1@example.com']));
    const run = await converge(yaml, passwords(12));
    expect(summarize(run.plan).create).toBe(14);
    expect(hasChanges(run.after)).toBe(false);
    expect(emulator.stats.faultsInjected).toBeGreaterThan(10);
    expect(emulator.state.users).toHaveLength(12);
  });
});

describe('failures are reported, not dropped', () => {
  it('one failing object does not stop the others; what depends on it is skipped; the next run finishes the job', async () => {
    emulator = await startJamesEmulator({});
    const yaml = docs(backend('james', emulator.url), domain('good.example'), domain('bad.example'), user('a@good.example'), user('b@bad.example'), user('c@good.example'));
    const records = new MemoryRecordStore();
    let refuse = true;
    // The domain bad.example is refused once, as a server might refuse it.
    const flaky = (b: Parameters<typeof createJames>[0]): BackendAdapter => {
      const real = createJames(b);
      return Object.assign(Object.create(real) as BackendAdapter, {
        apply: async (change: Parameters<BackendAdapter['apply']>[0], context: Parameters<BackendAdapter['apply']>[1]) => {
          if (refuse && change.id === 'domain:bad.example') throw new BackendError('Invalid', 'PUT /domains/bad.example: 400 refused for the test');
          return real.apply(change, context);
        },
      });
    };
    const open = () => openSession(yaml, { a: '1', b: '2', c: '3' }, records, { adapterFactory: flaky });

    const session = await open();
    const report = await session.apply(await session.plan());
    await session.close();
    const outcomes = Object.fromEntries(report.results.map((r) => [r.change.id, [r.outcome, r.error ?? '']]));
    expect(outcomes).toEqual({
      'domain:bad.example': ['failed', 'PUT /domains/bad.example: 400 refused for the test'],
      'domain:good.example': ['applied', ''],
      'user:a@good.example': ['applied', ''],
      'user:c@good.example': ['applied', ''],
      'user:b@bad.example': ['skipped', 'not started: domain bad.example did not succeed'],
    });

    refuse = false;
    const retry = await open();
    const second = await retry.plan();
    expect(second.backends[0]!.changes.map((c) => c.id)).toEqual(['domain:bad.example', 'user:b@bad.example']);
    await retry.apply(second);
    expect(hasChanges(await retry.plan())).toBe(false);
    await retry.close();
  });

  it('a backend task that outlives its deadline is cancelled and the move is retried next time', async () => {
    emulator = await startJamesEmulator({ taskDurationMs: 5_000 });
    const records = new MemoryRecordStore();
    const before = docs(backend('james', emulator.url, '  limits: {taskTimeoutSeconds: 1}'), domain('example.com'), user('old@example.com', '', 'mover'));
    await converge(before, { mover: 'pw' }, records);
    const session = await openSession(before.replace('address: old@example.com', 'address: new@example.com'), { mover: 'pw' }, records);
    try {
      const plan = await session.plan();
      const report = await session.apply(plan);
      expect(report.results.map((r) => [r.change.action, r.outcome, r.errorKind])).toEqual([['replace', 'failed', 'Timeout']]);
      expect(report.results[0]!.error).toMatch(/move data of old@example\.com to new@example\.com: task .* was cancelled because it did not finish within 1s \(limits.taskTimeoutSeconds\)/);
      expect(emulator.state.tasks.map((t) => t.status)).toEqual(['canceled']);
      // Nothing was lost: the old user is still there and the next plan tries the move again.
      expect(emulator.state.users).toContain('old@example.com');
      expect((await session.plan()).backends[0]!.changes.map((c) => c.action)).toEqual(['replace']);
    } finally {
      await session.close();
    }
  });
});

function createJames(b: { url: string; name: string }): JamesAdapter {
  return new JamesAdapter({ backend: b.name, baseUrl: b.url, concurrency: 4, requestsPerSecond: 1000, timeoutMs: 5000, retries: 2, retryMinDelayMs: 5 }, {});
}
