// One contract, two targets: the James adapter (through the engine, as the CLI drives it) against
// the emulator and against a real Apache James 3.8.1. Where they disagree, the real server is right.
import { describe, expect } from 'vitest';
import { JamesAdapter } from '../../../src/backends/james/adapter.ts';
import { isBackendError } from '../../../src/engine/adapter.ts';
import { waitForTask } from '../../../src/engine/tasks.ts';
import { hasChanges, summarize } from '../../../src/plan/index.ts';
import { MemoryRecordStore } from '../../../src/state/records.ts';
import { alias, docs, domain, user } from '../../support/manifests.ts';
import { TARGETS, startedOnce, uniqueDomain } from '../../support/james-targets.ts';
import { converge, jamesBackend, openSession } from '../../support/session.ts';

const GiB = 1024 ** 3;

describe.each(TARGETS)('James adapter contract: $name', (factory) => {
  const james = startedOnce(factory);
  const test = james.test;
  const http = (url = james.target.url) => ({ backend: 'james', baseUrl: url, concurrency: 4, requestsPerSecond: 1000, timeoutMs: 10_000, retries: 2, retryMinDelayMs: 10 });
  const adapter = (token = james.target.token, url = james.target.url) => new JamesAdapter(http(url), { token });
  const secrets = (extra: Record<string, string> = {}) => ({ 'james-admin': james.target.token, ...extra });

  test('applies a whole domain, and a second plan has no changes', async () => {
    const d = uniqueDomain();
    const alt = uniqueDomain('alias');
    const yaml = docs(
      jamesBackend(james.target.url),
      domain(d, `  aliasDomains: [${alt}]\n  defaultQuota: {storage: 5Gi, messages: 1000}`),
      user(`alice@${d}`, `  extraAddresses: [a.liddell@${d}, alice+news@${d}]\n  quota: {storage: 20Gi}`),
      user(`bob@${d}`, '  forwarding: {to: [bob+mail@elsewhere.example], keepCopy: true}'),
      alias(`team@${d}`, [`alice@${d}`, `bob@${d}`, 'partner@elsewhere.example']),
    );
    const run = await converge(yaml, secrets({ alice: 'alice-pw-1', bob: 'bob-pw-1' }));
    expect(summarize(run.plan)).toEqual({ create: 4, update: 0, delete: 0 });
    expect(hasChanges(run.after)).toBe(false);

    // What the server holds, read independently of the adapter.
    expect(await james.target.raw.passwordWorks(`alice@${d}`, 'alice-pw-1')).toBe(true);
    const mappings = await james.target.raw.mappings();
    expect(mappings[`a.liddell@${d}`]).toEqual([{ type: 'Alias', mapping: `alice@${d}` }]);
    expect(mappings[`alice+news@${d}`]).toEqual([{ type: 'Alias', mapping: `alice@${d}` }]);
    expect(mappings[`bob@${d}`]).toEqual(
      expect.arrayContaining([
        { type: 'Forward', mapping: 'bob+mail@elsewhere.example' },
        { type: 'Forward', mapping: `bob@${d}` },
      ]),
    );
    expect(mappings[`team@${d}`]?.map((m) => m.mapping).sort()).toEqual([`alice@${d}`, `bob@${d}`, 'partner@elsewhere.example']);
    expect(mappings[alt]).toEqual([{ type: 'DomainAlias', mapping: d }]);
    expect(await james.target.raw.ok('GET', `/quota/users/alice@${d}`)).toMatchObject({ user: { size: 20 * GiB } });
    expect(await james.target.raw.ok('GET', `/quota/domains/${d}`)).toMatchObject({ domain: { size: 5 * GiB, count: 1000 } });
  });

  test('a changed secret is exactly one password update, and the new password works', async () => {
    const d = uniqueDomain();
    const records = new MemoryRecordStore();
    const yaml = docs(jamesBackend(james.target.url), domain(d), user(`carol@${d}`));
    await converge(yaml, secrets({ carol: 'first' }), records);
    const session = await openSession(yaml, secrets({ carol: 'second' }), records);
    try {
      const plan = await session.plan();
      expect(plan.backends[0]!.changes.map((c) => [c.action, c.key, c.fields])).toEqual([
        ['update', `carol@${d}`, [{ field: 'password', sensitive: true }]],
      ]);
      await session.apply(plan);
    } finally {
      await session.close();
    }
    expect(await james.target.raw.passwordWorks(`carol@${d}`, 'second')).toBe(true);
    expect(await james.target.raw.passwordWorks(`carol@${d}`, 'first')).toBe(false);
  });

  test('without a record, a password that is already in force is recognised, not reset', async () => {
    const d = uniqueDomain();
    const yaml = docs(jamesBackend(james.target.url), domain(d), user(`dave@${d}`));
    await converge(yaml, secrets({ dave: 'known' }));
    // A fresh checkout (CI): no records at all.
    const fresh = await openSession(yaml, secrets({ dave: 'known' }));
    try {
      expect(hasChanges(await fresh.plan())).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  test('an address change moves the mailbox to the new address and retires the old one', async () => {
    const d = uniqueDomain();
    const records = new MemoryRecordStore();
    const before = docs(jamesBackend(james.target.url), domain(d), user(`erin@${d}`, `  extraAddresses: [e@${d}]\n  forwarding: {to: [erin@elsewhere.example], keepCopy: true}\n  quota: {messages: 500}`, 'erin'));
    await converge(before, secrets({ erin: 'pw' }), records);
    await james.target.raw.ok('PUT', `/users/erin@${d}/mailboxes/Archive`);

    const after = before.replace(`address: erin@${d}`, `address: erin.smith@${d}`);
    const run = await converge(after, secrets({ erin: 'pw' }), records);
    expect(run.plan.backends[0]!.changes.map((c) => [c.action, c.key, c.resource === 'user' ? c.renameFrom : undefined])).toEqual([
      ['replace', `erin.smith@${d}`, `erin@${d}`],
    ]);
    expect(hasChanges(run.after)).toBe(false);

    const mailboxes = (await james.target.raw.ok('GET', `/users/erin.smith@${d}/mailboxes`)) as Array<{ mailboxName: string }>;
    expect(mailboxes.map((m) => m.mailboxName)).toContain('Archive');
    expect((await james.target.raw.call('HEAD', `/users/erin@${d}`)).status).toBe(404);
    const mappings = await james.target.raw.mappings();
    expect(mappings[`e@${d}`]).toEqual([{ type: 'Alias', mapping: `erin.smith@${d}` }]);
    expect(mappings[`erin@${d}`]).toBeUndefined(); // no forward left behind on the old address
    expect(await james.target.raw.passwordWorks(`erin.smith@${d}`, 'pw')).toBe(true);
    expect(await james.target.raw.ok('GET', `/quota/users/erin.smith@${d}`)).toMatchObject({ user: { count: 500 } });
  });

  test('what a manifest leaves unset survives changes made by hand; what it sets is corrected', async () => {
    const d = uniqueDomain();
    const alt = uniqueDomain('alias');
    const records = new MemoryRecordStore();
    const bare = docs(jamesBackend(james.target.url), domain(d), user(`ivy@${d}`));
    await converge(bare, secrets({ ivy: 'pw' }), records);
    // An administrator works on the server directly.
    await james.target.raw.ok('PUT', `/domains/${alt}`);
    await james.target.raw.ok('PUT', `/domains/${d}/aliases/${alt}`);
    await james.target.raw.ok('PUT', `/quota/domains/${d}`, { count: 900, size: 3 * GiB });
    await james.target.raw.ok('PUT', `/address/aliases/ivy@${d}/sources/i@${d}`);
    await james.target.raw.ok('PUT', `/address/forwards/ivy@${d}/targets/ivy@home.example`);
    await james.target.raw.ok('PUT', `/quota/users/ivy@${d}`, { count: 1000, size: null });

    const kept = await converge(bare, secrets({ ivy: 'pw' }), records);
    expect(kept.plan.backends[0]!.changes).toEqual([]);
    expect((await james.target.raw.mappings())[`i@${d}`]).toEqual([{ type: 'Alias', mapping: `ivy@${d}` }]);
    expect((await james.target.raw.mappings())[`ivy@${d}`]).toEqual([{ type: 'Forward', mapping: 'ivy@home.example' }]);
    expect((await james.target.raw.mappings())[alt]).toEqual([{ type: 'DomainAlias', mapping: d }]);
    expect(await james.target.raw.ok('GET', `/quota/users/ivy@${d}`)).toMatchObject({ user: { count: 1000 } });
    expect(await james.target.raw.ok('GET', `/quota/domains/${d}`)).toMatchObject({ domain: { count: 900, size: 3 * GiB } });

    const owning = docs(
      jamesBackend(james.target.url),
      domain(d, '  aliasDomains: []\n  defaultQuota: {storage: 1Gi}'),
      user(`ivy@${d}`, '  extraAddresses: []\n  forwarding: {to: []}\n  quota: {storage: 2Gi}'),
    );
    const corrected = await converge(owning, secrets({ ivy: 'pw' }), records);
    expect(corrected.plan.backends[0]!.changes.map((c) => `${c.action} ${c.key}`)).toEqual([`update ${d}`, `update ivy@${d}`]);
    expect(hasChanges(corrected.after)).toBe(false);
    const mappings = await james.target.raw.mappings();
    expect(mappings[`i@${d}`]).toBeUndefined();
    expect(mappings[`ivy@${d}`]).toBeUndefined();
    expect(mappings[alt]).toBeUndefined();
    const userQuota = (await james.target.raw.ok('GET', `/quota/users/ivy@${d}`)) as { user?: { count?: number; size?: number } };
    expect(userQuota.user?.size).toBe(2 * GiB);
    expect(userQuota.user?.count ?? null).toBeNull();
    const domainQuota = (await james.target.raw.ok('GET', `/quota/domains/${d}`)) as { domain?: { count?: number; size?: number } };
    expect(domainQuota.domain?.size).toBe(GiB);
    expect(domainQuota.domain?.count ?? null).toBeNull();
  });

  test('an address change carries what the manifest leaves unset over to the new address', async () => {
    const d = uniqueDomain();
    const records = new MemoryRecordStore();
    const before = docs(jamesBackend(james.target.url), domain(d), user(`jo@${d}`, '', 'jo'));
    await converge(before, secrets({ jo: 'pw' }), records);
    await james.target.raw.ok('PUT', `/address/aliases/jo@${d}/sources/j@${d}`);
    await james.target.raw.ok('PUT', `/address/forwards/jo@${d}/targets/jo@home.example`);
    await james.target.raw.ok('PUT', `/quota/users/jo@${d}`, { count: 70, size: null });

    const run = await converge(before.replace(`address: jo@${d}`, `address: joanna@${d}`), secrets({ jo: 'pw' }), records);
    expect(run.plan.backends[0]!.changes.map((c) => `${c.action} ${c.key}`)).toEqual([`replace joanna@${d}`]);
    expect(hasChanges(run.after)).toBe(false);
    const mappings = await james.target.raw.mappings();
    expect(mappings[`j@${d}`]).toEqual([{ type: 'Alias', mapping: `joanna@${d}` }]);
    expect(mappings[`joanna@${d}`]).toEqual([{ type: 'Forward', mapping: 'jo@home.example' }]);
    expect(await james.target.raw.ok('GET', `/quota/users/joanna@${d}`)).toMatchObject({ user: { count: 70 } });
  });

  test('many users’ aliases, forwards and groups written at once are all kept', async () => {
    const d = uniqueDomain('busy');
    const users = Array.from({ length: 40 }, (_, i) => user(`u${i}@${d}`, `  extraAddresses: [x${i}@${d}]\n  forwarding: {to: [u${i}@elsewhere.example], keepCopy: true}`, `u${i}`));
    const groups = Array.from({ length: 10 }, (_, i) => alias(`g${i}@${d}`, [`u${i}@${d}`, `u${i + 10}@${d}`]));
    const yaml = docs(jamesBackend(james.target.url, 'james', '  limits: {concurrency: 16}'), domain(d), ...users, ...groups);
    const run = await converge(yaml, secrets(Object.fromEntries(users.map((_, i) => [`u${i}`, `pw${i}`]))));
    expect(run.after.backends[0]!.changes).toEqual([]);
  });

  test('prune deletes undeclared users with their mappings, so the address can be used again', async () => {
    const d = uniqueDomain();
    const yaml = docs(jamesBackend(james.target.url), domain(d, '  prune: {enabled: true, maxUserDeletionPercent: 50}'), user(`frank@${d}`));
    await converge(yaml, secrets({ frank: 'pw' }));
    await james.target.raw.ok('PUT', `/users/stranger@${d}`, { password: 'x' });
    await james.target.raw.ok('PUT', `/address/forwards/stranger@${d}/targets/somewhere@elsewhere.example`);
    await james.target.raw.ok('PUT', `/address/aliases/stranger@${d}/sources/s@${d}`);
    await james.target.raw.ok('PUT', `/address/groups/old-list@${d}/stranger@${d}`);

    const run = await converge(yaml, secrets({ frank: 'pw' }));
    expect(run.plan.backends[0]!.changes.map((c) => `${c.action} ${c.key}`)).toEqual([`delete old-list@${d}`, `delete stranger@${d}`]);
    expect(await james.target.raw.users()).not.toContain(`stranger@${d}`);
    const mappings = await james.target.raw.mappings();
    expect(Object.keys(mappings).filter((k) => k.endsWith(`@${d}`))).toEqual([]);
    // Nothing is left that would make James refuse the address.
    expect((await james.target.raw.call('PUT', `/users/stranger@${d}`, { password: 'y' })).status).toBe(204);
  });

  test('never touches users of domains the configuration does not declare', async () => {
    const mine = uniqueDomain();
    const theirs = uniqueDomain('theirs');
    await james.target.raw.ok('PUT', `/domains/${theirs}`);
    await james.target.raw.ok('PUT', `/users/zed@${theirs}`, { password: 'x' });
    const yaml = docs(jamesBackend(james.target.url), domain(mine, '  prune: {enabled: true, maxUserDeletionPercent: 100}'));
    await converge(yaml, secrets());
    expect(await james.target.raw.users()).toContain(`zed@${theirs}`);
  });

  test('observing costs the same number of requests for 5 users as for 60', async () => {
    const d = uniqueDomain();
    await james.target.raw.ok('PUT', `/domains/${d}`);
    const countFor = async (n: number) => {
      for (let i = 0; i < n; i++) await james.target.raw.call('PUT', `/users/u${i}@${d}`, { password: 'x' });
      const a = adapter();
      try {
        const state = await a.observe({ domains: [d] });
        expect([...state.users.keys()].filter((u) => u.endsWith(`@${d}`))).toHaveLength(n);
        return a.requestCount;
      } finally {
        await a.close();
      }
    };
    const few = await countFor(5);
    const many = await countFor(60);
    expect(few).toBe(6); // domains, users, mappings, global quota + the domain's quota and its users' quotas
    expect(many).toBe(few);
  });

  test('a failed backend task fails the object with the task’s message', async () => {
    const d = uniqueDomain();
    await james.target.raw.ok('PUT', `/domains/${d}`);
    await james.target.raw.ok('PUT', `/users/gina@${d}`, { password: 'x' });
    await james.target.raw.ok('PUT', `/address/forwards/gina@${d}/targets/out@elsewhere.example`);
    const a = adapter();
    try {
      // Renaming a user with forwards onto itself is refused by James inside the task.
      const taskId = await a.client.startRename(`gina@${d}`, `gina@${d}`);
      const failure = await waitForTask(a, { id: taskId, description: 'self-rename' }, { deadline: Date.now() + 20_000 }).catch((e: unknown) => e);
      expect(isBackendError(failure, 'TaskFailed')).toBe(true);
      expect((failure as Error).message).toMatch(/^self-rename: task .* failed/);
    } finally {
      await a.close();
    }
  });

  test('refused credentials and an unreachable server fail with one readable line', async () => {
    const wrong = adapter('not-a-token');
    await expect(wrong.observe({ domains: [] })).rejects.toThrow(/GET \/(domains|users|mappings|quota): 401 credentials refused \(Invalid Bearer header\.\)/);
    await wrong.close();
    const none = new JamesAdapter(http(), {});
    await expect(none.observe({ domains: [] })).rejects.toMatchObject({ kind: 'Unauthorized' });
    await none.close();
    const closed = adapter(james.target.token, 'http://127.0.0.1:9');
    await expect(closed.observe({ domains: [] })).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9: connection refused/);
    await closed.close();
  });

  test('applying the same changes twice is harmless (already exists, already gone)', async () => {
    const d = uniqueDomain();
    const yaml = docs(jamesBackend(james.target.url), domain(d), user(`hank@${d}`, `  extraAddresses: [h@${d}]`), alias(`ops@${d}`, [`hank@${d}`]));
    const session = await openSession(yaml, secrets({ hank: 'pw' }));
    try {
      const plan = await session.plan();
      const first = await session.apply(plan);
      const second = await session.apply(plan); // the same, now stale, plan
      expect(first.results.every((r) => r.outcome === 'applied')).toBe(true);
      expect(second.results.map((r) => [r.change.id, r.outcome, r.error])).toEqual(first.results.map((r) => [r.change.id, 'applied', undefined]));
      expect(hasChanges(await session.plan())).toBe(false);
    } finally {
      await session.close();
    }
  });
});
