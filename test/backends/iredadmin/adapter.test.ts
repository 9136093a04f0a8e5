// mailops against iRedAdmin-Pro end to end (the engine, the adapter, the client, the emulator): a domain served by
// James and iRedAdmin-Pro together, quota rounding, throttling, ownership, deletions that keep mail, sessions that
// expire mid-run, address changes, and the refusals a person can act on.
import { describe, expect, it } from 'vitest';
import { renderPlanText } from '../../../src/render/text.ts';
import { hasChanges, type Plan } from '../../../src/plan/index.ts';
import { MemoryRecordStore } from '../../../src/state/records.ts';
import { alias, backend, docs, domain, quotaPolicy, user } from '../../support/manifests.ts';
import { converge, openSession } from '../../support/session.ts';
import { outline } from '../../support/planning.ts';
import { ADMIN, iredadminBackend, loggedIn, useEmulators } from './support.ts';

const emulators = useEmulators();
const MiB = 1024 * 1024;

const PASSWORDS = { 'iredadmin-admin': ADMIN.password, alice: 'Alice-S3cret!', bob: 'Bob-S3cret!!', carol: 'Carol-S3cret!', dave: 'Dave-S3cret!' };

const changesOn = (plan: Plan, backendName: string) => plan.backends.find((b) => b.backendName === backendName)!.changes;

describe('a domain served by James and iRedAdmin-Pro together', () => {
  it('converges on both: a second plan shows no changes on either', async () => {
    const [james, iredadmin] = await Promise.all([emulators.james(), emulators.iredadmin()]);
    const yaml = docs(
      backend('james', james.url),
      iredadminBackend(iredadmin.url),
      domain('example.com', '  aliasDomains: [example.net]\n  defaultQuota: {storage: 2Gi}\n  displayName: Example Inc.', ['james', 'iredadmin']),
      user('alice@example.com', '  displayName: Alice Liddell\n  extraAddresses: [a.liddell@example.com]\n  quota: {storage: 5Gi}'),
      user('bob@example.com', '  forwarding: {to: [bob@elsewhere.example.org], keepCopy: true}\n  disabled: true'),
      user('carol@example.com'),
      alias('team@example.com', ['alice@example.com', 'bob@example.com']),
    );
    const { plan, after } = await converge(yaml, PASSWORDS);

    expect(outline(plan)).toContain('+ user alice@example.com');
    expect(changesOn(plan, 'iredadmin')).toHaveLength(5);
    expect(changesOn(plan, 'james')).toHaveLength(5);
    expect(hasChanges(after)).toBe(false);
    expect(after.backends.map((b) => b.error)).toEqual([undefined, undefined]);

    // What each server holds, read with its own API.
    expect([...james.state.users].sort()).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    expect(iredadmin.state.domains['example.com']).toMatchObject({ description: 'Example Inc.', alias_domains: ['example.net'], settings: { default_user_quota: 2048 } });
    expect(iredadmin.state.users['alice@example.com']).toMatchObject({ name: 'Alice Liddell', quota: 5120, aliases: ['a.liddell@example.com'], active: 1 });
    expect(iredadmin.state.users['bob@example.com']).toMatchObject({ forwardings: ['bob@elsewhere.example.org', 'bob@example.com'], active: 0 });
    expect(iredadmin.state.users['carol@example.com']).toMatchObject({ quota: 2048 }); // the domain default, set on the user
    expect(iredadmin.state.aliases['team@example.com']).toMatchObject({ members: ['alice@example.com', 'bob@example.com'] });
    expect(iredadmin.passwordMatches('carol@example.com', PASSWORDS.carol)).toBe(true);

    // A fresh checkout (no records): iRedAdmin-Pro checks the passwords, so nothing is reset.
    const fresh = await openSession(yaml, PASSWORDS, new MemoryRecordStore());
    try {
      expect(outline(await fresh.plan())).toEqual([]);
    } finally {
      await fresh.close();
    }
  });

  it('observes with list calls: the requests grow with domains, not with users', async () => {
    const iredadmin = await emulators.iredadmin();
    const raw = await loggedIn(iredadmin);
    await raw.ok('POST', '/api/domain/example.com');
    const observe = async (users: number) => {
      for (let i = 0; i < users; i++) await raw.call('POST', `/api/user/u${i}@example.com`, { password: 'User-S3cret!' });
      const session = await openSession(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin'])), PASSWORDS);
      try {
        return (await session.plan()).backends[0]!.requests;
      } finally {
        await session.close();
      }
    };
    // The login, the domains, the global throttle (2), and per domain: users, aliases, throttle (2).
    expect(await observe(2)).toBe(8);
    expect(await observe(40)).toBe(8);
  });
});

describe('quotas in MB', () => {
  it('rounds a storage limit up to whole MiB, so the second plan shows no difference', async () => {
    const iredadmin = await emulators.iredadmin();
    const yaml = docs(
      iredadminBackend(iredadmin.url),
      domain('example.com', '  defaultQuota: {storage: 1.5G}\n  maxUserStorage: 10G\n  totalStorage: 100G', ['iredadmin']),
      user('alice@example.com', '  quota: {storage: 1G}'),
      user('bob@example.com', '  quota: {storage: 1500M}'),
      user('carol@example.com', '  quota: {storage: 100Mi}'),
      user('dave@example.com'),
    );
    const { plan, after } = await converge(yaml, PASSWORDS);
    const alice = changesOn(plan, 'iredadmin').find((c) => c.key === 'alice@example.com')!;
    expect(alice.fields.find((f) => f.field === 'quota.storage')).toMatchObject({ after: '954Mi' });
    expect(Object.fromEntries(Object.entries(iredadmin.state.users).map(([mail, u]) => [mail, u['quota']]))).toEqual({
      'alice@example.com': 954, // 1,000,000,000 bytes = 953.67 MiB, rounded up
      'bob@example.com': 1431,
      'carol@example.com': 100,
      'dave@example.com': 1431, // the domain's 1.5G, rounded up
    });
    expect(iredadmin.state.domains['example.com']).toMatchObject({ maxquota: 95368, settings: { default_user_quota: 1431, max_user_quota: 9537 } });
    expect(hasChanges(after)).toBe(false);
  });

  it('leaves alone what the configuration does not set: a quota, a name, forwards made by hand', async () => {
    const iredadmin = await emulators.iredadmin();
    const raw = await loggedIn(iredadmin);
    await raw.ok('POST', '/api/domain/example.com');
    await raw.ok('POST', '/api/user/alice@example.com', { password: 'Set-By-Hand1', name: 'Hand Made', quota: '300' });
    await raw.ok('PUT', '/api/user/alice@example.com', { forwarding: 'alice@elsewhere.example' });
    const { plan, after } = await converge(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin']), user('alice@example.com')), PASSWORDS);
    expect(changesOn(plan, 'iredadmin').map((c) => c.fields.map((f) => f.field))).toEqual([['password']]);
    expect(iredadmin.state.users['alice@example.com']).toMatchObject({ name: 'Hand Made', quota: 300, forwardings: ['alice@elsewhere.example'] });
    expect(iredadmin.passwordMatches('alice@example.com', PASSWORDS.alice)).toBe(true);
    expect(after.backends[0]!.unmanaged.find((u) => u.key === 'alice@example.com')!.fields).toEqual(
      expect.arrayContaining([{ field: 'quota.storage', value: '300Mi' }, { field: 'displayName', value: 'Hand Made' }]),
    );
  });

  it('refuses a quota the server would quietly lower, saying why; the rest goes on', async () => {
    const iredadmin = await emulators.iredadmin();
    const session = await openSession(
      docs(iredadminBackend(iredadmin.url), domain('example.com', '  maxUserStorage: 1Gi', ['iredadmin']), user('alice@example.com', '  quota: {storage: 2Gi}'), user('bob@example.com')),
      PASSWORDS,
    );
    try {
      const report = await session.apply(await session.plan());
      const failed = report.results.filter((r) => r.outcome === 'failed');
      expect(failed.map((r) => [r.change.key, r.error])).toEqual([
        ['alice@example.com', 'quota 2Gi of alice@example.com is more than its domain allows one user (maxUserStorage 1Gi); iRedAdmin-Pro would quietly lower it'],
      ]);
      expect(Object.keys(iredadmin.state.users)).toEqual(['bob@example.com']);
    } finally {
      await session.close();
    }
  });
});

describe('throttling', () => {
  const policies = docs(
    quotaPolicy('everyone', '  throttle:\n    outbound: {period: 1h, maxMessages: 500}\n  globalDefault: true'),
    quotaPolicy('domain-limits', '  storage: 1Gi\n  throttle:\n    inbound: {period: 1d, maxTotalSize: 2Gi}\n    outbound: {period: 1h, maxMessages: 100, maxMessageSize: 10Mi}'),
    quotaPolicy('newsletter', '  storage: 2Gi\n  throttle:\n    outbound: {period: 60, maxMessages: unlimited, maxTotalSize: 50Mi}'),
  );

  it('appears in the plan, is set globally, per domain and per user, and shows as not applicable on James', async () => {
    const [james, iredadmin] = await Promise.all([emulators.james(), emulators.iredadmin()]);
    const yaml = docs(
      backend('james', james.url),
      iredadminBackend(iredadmin.url),
      policies,
      domain('example.com', '  defaultQuota: {policyRef: {name: domain-limits}}', ['james', 'iredadmin']),
      user('alice@example.com'),
      user('news@example.com', '  quota: {policyRef: {name: newsletter}}', 'news'),
    );
    const { plan, after } = await converge(yaml, { ...PASSWORDS, news: 'News-S3cret!' });
    const text = renderPlanText(plan);
    expect(text).toContain('throttle.outbound:     every 1h: 100 messages, 10Mi each');
    expect(text).toContain('throttle.inbound:      every 1d: 2Gi in total');
    expect(text).toMatch(/~ global quota[^\n]*\n {6}throttle\.outbound: +\(none\) → every 1h: 500 messages\n/);
    expect(text).toMatch(/\+ user news@example\.com[^\n]*\n(?: {6}.*\n)* {6}throttle\.outbound: +every 1m: 50Mi in total\n/);
    expect(text).toContain('! throttle of 1 domain on "james" (james cannot represent throttle): example.com');
    expect(text).toContain('! throttle of 1 user on "james" (james cannot represent throttle): news@example.com');

    expect(iredadmin.state.throttles).toEqual({
      '@. outbound': { account: '@.', kind: 'outbound', priority: 0, period: 3600, msg_size: 0, max_msgs: 500, max_quota: 0 },
      '@example.com inbound': { account: '@example.com', kind: 'inbound', priority: 10, period: 86400, msg_size: -1, max_msgs: -1, max_quota: 2 * 1024 * MiB },
      '@example.com outbound': { account: '@example.com', kind: 'outbound', priority: 10, period: 3600, msg_size: 10 * MiB, max_msgs: 100, max_quota: -1 },
      'news@example.com outbound': { account: 'news@example.com', kind: 'outbound', priority: 100, period: 60, msg_size: -1, max_msgs: -1, max_quota: 50 * MiB },
    });
    expect(hasChanges(after)).toBe(false);
  });

  it('a changed policy is one update per level it applies to; a direction it drops is removed', async () => {
    const iredadmin = await emulators.iredadmin();
    const records = new MemoryRecordStore();
    const at = (domainLimits: string) => docs(
      iredadminBackend(iredadmin.url),
      quotaPolicy('domain-limits', domainLimits),
      domain('example.com', '  defaultQuota: {policyRef: {name: domain-limits}}', ['iredadmin']),
    );
    await converge(at('  throttle:\n    inbound: {period: 1d, maxTotalSize: 2Gi}\n    outbound: {period: 1h, maxMessages: 100}'), PASSWORDS, records);
    const { plan, after } = await converge(at('  throttle:\n    outbound: {period: 1h, maxMessages: 200}'), PASSWORDS, records);
    expect(changesOn(plan, 'iredadmin').map((c) => [c.key, c.fields])).toEqual([
      ['example.com', [
        { field: 'throttle.inbound', before: 'every 1d: 2Gi in total', after: '(none)' },
        { field: 'throttle.outbound', before: 'every 1h: 100 messages', after: 'every 1h: 200 messages' },
      ]],
    ]);
    expect(Object.keys(iredadmin.state.throttles)).toEqual(['@example.com outbound']);
    expect(hasChanges(after)).toBe(false);
  });
});

describe('deleting, renaming, and sessions', () => {
  it('prune deletes an undeclared user and keeps its mailbox for keepMailboxDays (for good by default)', async () => {
    const clock = () => Date.parse('2026-11-23T10:00:00Z');
    const [keeping, forGood] = await Promise.all([emulators.iredadmin({ now: clock }), emulators.iredadmin({ now: clock })]);
    for (const [emulator, extra] of [[keeping, '  iredadmin: {keepMailboxDays: 30}'], [forGood, '']] as const) {
      const raw = await loggedIn(emulator);
      await raw.ok('POST', '/api/domain/example.com');
      for (const name of ['alice', 'bob', 'carol', 'zed']) await raw.ok('POST', `/api/user/${name}@example.com`, { password: 'User-S3cret!' });
      await converge(
        docs(iredadminBackend(emulator.url, 'iredadmin', extra), domain('example.com', '  prune: {enabled: true}', ['iredadmin']), user('alice@example.com'), user('bob@example.com'), user('carol@example.com')),
        PASSWORDS,
      );
      expect(Object.keys(emulator.state.users)).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);
    }
    expect(keeping.state.deletedMailboxes).toEqual([expect.objectContaining({ username: 'zed@example.com', deleteDate: '2026-12-23' })]);
    expect(forGood.state.deletedMailboxes).toEqual([expect.objectContaining({ username: 'zed@example.com', deleteDate: null })]);
  });

  it('an address change within the domain renames the mailbox (change_email), keeping what the manifest leaves unset', async () => {
    const iredadmin = await emulators.iredadmin();
    const records = new MemoryRecordStore();
    const at = (address: string) => docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin']), user(address, '  extraAddresses: [ally@example.com]', 'alice'));
    await converge(at('alice@example.com'), PASSWORDS, records);
    const raw = await loggedIn(iredadmin);
    await raw.ok('PUT', '/api/user/alice@example.com', { quota: '777', name: 'Kept' });
    const { plan, after } = await converge(at('alice.liddell@example.com'), PASSWORDS, records);
    expect(outline(plan)).toEqual(['± user alice.liddell@example.com']);
    expect(iredadmin.requestLog.some((e) => e.path === '/api/user/alice@example.com/change_email/alice.liddell@example.com')).toBe(true);
    expect(iredadmin.state.users).toEqual({ 'alice.liddell@example.com': expect.objectContaining({ quota: 777, name: 'Kept', aliases: ['ally@example.com'] }) });
    expect(hasChanges(after)).toBe(false);
  });

  it('a session that expires between plan and apply is renewed by one new login', async () => {
    const iredadmin = await emulators.iredadmin();
    const session = await openSession(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin']), user('alice@example.com'), user('bob@example.com')), PASSWORDS);
    try {
      const plan = await session.plan();
      iredadmin.expireSessions();
      const report = await session.apply(plan);
      expect(report.results.map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied']);
      expect(iredadmin.logins).toBe(2);
    } finally {
      await session.close();
    }
  });

  it('a client off the allow-list gets one line that says so, and nothing is planned there', async () => {
    const iredadmin = await emulators.iredadmin({ apiClients: ['192.0.2.1'] });
    const session = await openSession(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin'])), PASSWORDS);
    try {
      const plan = await session.plan();
      expect(plan.backends[0]!.error).toBe(
        `backend "iredadmin" (${iredadmin.url}): POST /api/login: this client's IP address is not on the server's API allow-list (RESTFUL_API_CLIENTS) (NOT_AUTHORIZED)`,
      );
      expect(plan.backends[0]!.changes).toEqual([]);
    } finally {
      await session.close();
    }
  });
});

describe('conflicts', () => {
  it('a user whose address an alias account already has is refused with the server’s reason', async () => {
    const iredadmin = await emulators.iredadmin();
    const raw = await loggedIn(iredadmin);
    await raw.ok('POST', '/api/domain/example.com');
    await raw.ok('POST', '/api/alias/alice@example.com');
    const session = await openSession(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin']), user('alice@example.com')), PASSWORDS);
    try {
      const report = await session.apply(await session.plan());
      expect(report.results.map((r) => [r.outcome, r.error])).toEqual([['failed', 'POST /api/user/alice@example.com: ALREADY_EXISTS']]);
    } finally {
      await session.close();
    }
  });

  it('a user created by hand is taken over with the declared password', async () => {
    const iredadmin = await emulators.iredadmin();
    const raw = await loggedIn(iredadmin);
    await raw.ok('POST', '/api/domain/example.com');
    const session = await openSession(docs(iredadminBackend(iredadmin.url), domain('example.com', '', ['iredadmin']), user('alice@example.com')), PASSWORDS);
    try {
      const plan = await session.plan();
      await raw.ok('POST', '/api/user/alice@example.com', { password: 'By-Hand-123' }); // between plan and apply
      const report = await session.apply(plan);
      expect(report.results.map((r) => r.outcome)).toEqual(['applied']);
      expect(iredadmin.passwordMatches('alice@example.com', PASSWORDS.alice)).toBe(true);
    } finally {
      await session.close();
    }
  });
});
