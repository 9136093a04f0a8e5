// A domain served by James and MailStore together, through the engine as the CLI drives it: users land in both,
// a second plan is empty, slow MailStore calls are waited out, what MailStore cannot hold is shown as not
// applicable, and only what the configuration declares is changed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapter } from '../../../src/backends/registry.ts';
import { MailStoreClient, setUserEmailAddresses } from '../../../src/backends/mailstore/client.ts';
import type { ChangeResult } from '../../../src/engine/apply.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { resolveSecrets } from '../../../src/engine/secrets.ts';
import { backendOutcomes, objectStatus, servingBackends } from '../../../src/engine/status.ts';
import { objectKey } from '../../../src/model/config.ts';
import type { BackendPlan, Plan } from '../../../src/plan/index.ts';
import { backendKey, MemoryRecordStore } from '../../../src/state/records.ts';
import { configFrom, user } from '../../support/manifests.ts';
import { FINGERPRINT_KEY, MapSecrets, converge, openSession } from '../../support/session.ts';
import { SECRETS, bothServers, mailstoreUser, startServers, type Servers } from './support.ts';

let servers: Servers;
beforeEach(async () => {
  servers = await startServers();
});
afterEach(async () => {
  await servers.close();
});

const archive = (plan: Plan): BackendPlan => plan.backends.find((b) => b.backendName === 'archive')!;
const changeIds = (plan: BackendPlan) => plan.changes.map((c) => `${c.action} ${c.id}`);

describe('a domain served by James and MailStore', () => {
  it('apply puts every user in both, with their addresses, and a second plan shows no changes', async () => {
    const { plan, after } = await converge(bothServers(servers), SECRETS);

    expect(changeIds(archive(plan))).toEqual(['create user:alice@example.com', 'create user:bob@example.com', 'create group:postmaster@example.com']);
    expect(archive(plan).error).toBeUndefined();
    expect(after.backends.every((b) => b.changes.length === 0)).toBe(true);

    expect(mailstoreUser(servers, 'alice@example.com')).toMatchObject({
      fullName: 'Alice Liddell',
      authentication: 'integrated',
      emailAddresses: ['alice@example.com', 'a.liddell@example.com', 'postmaster@example.com'],
      privileges: ['login'],
      loginPrivileges: ['windows', 'web', 'outlook'],
    });
    expect(mailstoreUser(servers, 'bob@example.com')).toMatchObject({ fullName: null, emailAddresses: ['bob@example.com'] });
    expect(servers.mailstore.passwordMatches('alice@example.com', SECRETS.alice)).toBe(true);
    expect([...servers.james.state.users].sort()).toEqual(['alice@example.com', 'bob@example.com']);
    // A steady-state plan reads the user list, then each managed user: 1 + 2 requests.
    expect(archive(after).requests).toBe(3);
  });

  it('shows what MailStore cannot hold as not applicable, never as an error', async () => {
    const yaml = bothServers(servers, { alice: '  quota: {storage: 1Gi}\n  forwarding: {to: [a@elsewhere.example]}\n' });
    const session = await openSession(yaml, SECRETS);
    try {
      const plan = archive(await session.plan());
      const na = plan.notApplicable.map((n) => `${n.resource} ${n.key} ${n.field}${n.wholeObject ? ' (whole)' : ''}: ${n.reason}`);
      expect(na).toEqual(expect.arrayContaining([
        'domain example.com domain (whole): mailstore has no domains',
        'user alice@example.com quota.storage: mailstore cannot represent quota.storage',
        'user alice@example.com forwarding: mailstore cannot represent forwarding',
        'group team@example.com members (whole): mailstore keeps only aliases with one member, as an address of that user',
      ]));
      expect(plan.error).toBeUndefined();
      expect(plan.changes.some((c) => c.resource === 'domain' || c.key === 'team@example.com')).toBe(false);
    } finally {
      await session.close();
    }
  });

  it('waits out a slow MailStore call, its progress reported, before the user is reported done', async () => {
    servers.mailstore.setSlow('SetUserEmailAddresses', { durationMs: 600, steps: 3 });
    const session = await openSession(bothServers(servers), SECRETS);
    const events: string[] = [];
    let addressesWhenDone: readonly string[] | undefined;
    try {
      const report = await session.apply(await session.plan(), {
        onTaskProgress: (backend, task, status) => events.push(`${backend} ${task.description} ${status.state} ${status.progress ?? ''}`),
        onResult: (result: ChangeResult) => {
          events.push(`result ${result.backendName} ${result.change.id} ${result.outcome}`);
          if (result.backendName === 'archive' && result.change.id === 'user:alice@example.com') addressesWhenDone = mailstoreUser(servers, 'alice@example.com')?.emailAddresses;
        },
      });
      const alice = report.results.find((r) => r.backendName === 'archive' && r.change.id === 'user:alice@example.com')!;
      expect(alice.outcome).toBe('applied');
      expect(alice.task?.status.state).toBe('succeeded');
      expect(alice.task?.ref.description).toBe('MailStore SetUserEmailAddresses: set the email addresses of alice@example.com');
      expect(addressesWhenDone).toEqual(['alice@example.com', 'a.liddell@example.com']);
      const progress = events.filter((e) => e.startsWith('archive MailStore SetUserEmailAddresses: set the email addresses of alice') && e.includes(' running '));
      expect(progress.length).toBeGreaterThan(0);
      expect(events.indexOf(progress[0]!)).toBeLessThan(events.indexOf('result archive user:alice@example.com applied'));
    } finally {
      await session.close();
    }
  });

  it('works the same on the legacy form of the API', async () => {
    servers.mailstore.setSlow('SetUserEmailAddresses', { durationMs: 200, steps: 2 });
    const { after } = await converge(bothServers(servers, { settings: '    apiForm: legacy\n' }), SECRETS);
    expect(after.backends.every((b) => b.changes.length === 0)).toBe(true);
    expect(mailstoreUser(servers, 'alice@example.com')).toMatchObject({ fullName: 'Alice Liddell', emailAddresses: ['alice@example.com', 'a.liddell@example.com', 'postmaster@example.com'] });
    expect(servers.mailstore.requestLog.some((r) => r.path.startsWith('/JSON/Status/'))).toBe(true);
    expect(servers.mailstore.requestLog.some((r) => r.path.startsWith('/api/'))).toBe(false);
  });
});

describe('ownership on MailStore', () => {
  it('leaves unset fields alone and keeps addresses of domains the configuration does not manage', async () => {
    servers.mailstore.addUser({ userName: 'bob@example.com', fullName: 'Robert', privileges: ['login', 'export'], emailAddresses: ['bob@example.com', 'bob@legacy.example'] });
    servers.mailstore.addUser({ userName: 'alice@example.com', emailAddresses: ['a.old@example.com', 'alice@example.com', 'alice@legacy.example'] });
    const { plan, after } = await converge(bothServers(servers), SECRETS);

    const alice = archive(plan).changes.find((c) => c.id === 'user:alice@example.com')!;
    expect(alice.fields.map((f) => f.field)).toEqual(['password', 'primaryAddress', 'displayName', 'extraAddresses']);
    expect(alice.fields.find((f) => f.field === 'extraAddresses')).toMatchObject({ added: ['a.liddell@example.com'], removed: ['a.old@example.com'] });
    // bob declares nothing but his password: his name, privileges and other addresses stay.
    expect(mailstoreUser(servers, 'bob@example.com')).toMatchObject({ fullName: 'Robert', privileges: ['login', 'export'], emailAddresses: ['bob@example.com', 'bob@legacy.example'] });
    expect(mailstoreUser(servers, 'alice@example.com')?.emailAddresses).toEqual(['alice@example.com', 'a.liddell@example.com', 'alice@legacy.example', 'postmaster@example.com']);
    expect(archive(after).changes).toEqual([]);
    const bobLeftAlone = archive(after).unmanaged.find((u) => u.key === 'bob@example.com');
    expect(bobLeftAlone?.fields).toEqual([
      { field: 'displayName', value: 'Robert' },
      { field: 'extraAddresses', value: [] },
      { field: 'privileges', value: ['export', 'login'] },
    ]);
  });

  it('a pruning domain owns its users whole: other addresses go, undeclared users are deleted (the archive is kept)', async () => {
    servers.mailstore.addUser({ userName: 'carol@example.com', emailAddresses: ['carol@example.com'] });
    servers.mailstore.addUser({ userName: 'dave@elsewhere.example', emailAddresses: ['dave@elsewhere.example'] });
    servers.mailstore.addUser({ userName: 'alice@example.com', emailAddresses: ['alice@example.com', 'alice@legacy.example'] });
    const { plan } = await converge(bothServers(servers, { domainFields: '  prune: {enabled: true, maxUserDeletionPercent: 50}\n' }), SECRETS);

    const carol = archive(plan).changes.find((c) => c.id === 'user:carol@example.com');
    expect(carol).toMatchObject({ action: 'delete', reason: 'not declared; MailDomain "example-com" prunes; MailStore keeps the archive of a deleted user' });
    expect(servers.mailstore.users.map((u) => u.userName).sort()).toEqual(['admin', 'alice@example.com', 'bob@example.com', 'dave@elsewhere.example']);
    expect(mailstoreUser(servers, 'alice@example.com')?.emailAddresses).toEqual(['alice@example.com', 'a.liddell@example.com', 'postmaster@example.com']);
  });

  it('privileges declared on the MailBackend are owned on every user it serves', async () => {
    servers.mailstore.addUser({ userName: 'bob@example.com', privileges: ['login', 'delete'], emailAddresses: ['bob@example.com'] });
    const { plan } = await converge(bothServers(servers, { settings: '    privileges: [login, archive]\n' }), SECRETS);
    const bob = archive(plan).changes.find((c) => c.id === 'user:bob@example.com')!;
    expect(bob.fields.find((f) => f.field === 'privileges')).toMatchObject({ added: ['archive'], removed: ['delete'] });
    expect([...mailstoreUser(servers, 'bob@example.com')!.privileges].sort()).toEqual(['archive', 'login']);
    expect([...mailstoreUser(servers, 'alice@example.com')!.privileges].sort()).toEqual(['archive', 'login']);
  });

  it('an address change renames the MailStore user and keeps its archive', async () => {
    const records = new MemoryRecordStore();
    await converge(bothServers(servers), SECRETS, records);
    const moved = bothServers(servers).replace('address: alice@example.com', 'address: alicia@example.com').replace('members: [alice@example.com]', 'members: [alicia@example.com]')
      .replace('members: [alice@example.com, bob@example.com]', 'members: [alicia@example.com, bob@example.com]');
    const { plan, after } = await converge(moved, SECRETS, records);
    expect(changeIds(archive(plan))).toEqual(['replace user:alicia@example.com', 'update group:postmaster@example.com']);
    expect(after.backends.every((b) => b.changes.length === 0)).toBe(true);
    expect(servers.mailstore.effects.RenameUser).toBe(1);
    expect(mailstoreUser(servers, 'alice@example.com')).toBeUndefined();
    expect(mailstoreUser(servers, 'alicia@example.com')).toMatchObject({ fullName: 'Alice Liddell', emailAddresses: ['alicia@example.com', 'a.liddell@example.com', 'postmaster@example.com'] });
  });

  it('userName: localPart names users by the part before @, keeps the name when only the domain changes, and refuses two users with the same one', async () => {
    const records = new MemoryRecordStore();
    await converge(bothServers(servers, { settings: '    userName: localPart\n' }), SECRETS, records);
    expect(servers.mailstore.users.map((u) => u.userName).sort()).toEqual(['admin', 'alice', 'bob']);
    expect(mailstoreUser(servers, 'alice')?.emailAddresses[0]).toBe('alice@example.com');

    const moved = bothServers(servers, { settings: '    userName: localPart\n', more: [domainOrg()] }).replace('address: alice@example.com', 'address: alice@example.org');
    const { plan, after } = await converge(moved, SECRETS, records);
    expect(changeIds(archive(plan))).toContain('replace user:alice@example.org');
    expect(after.backends.every((b) => b.changes.length === 0)).toBe(true);
    expect(servers.mailstore.effects.RenameUser).toBeUndefined();
    expect(mailstoreUser(servers, 'alice')?.emailAddresses).toEqual(['alice@example.org', 'a.liddell@example.com', 'postmaster@example.com']);

    const clash = bothServers(servers, { settings: '    userName: localPart\n', more: [domainOrg(), user('alice@example.org', '', 'alice2')] });
    const session = await openSession(clash, { ...SECRETS, alice2: 'x' });
    try {
      expect(archive(await session.plan()).error).toContain('the users alice@example.com and alice@example.org would both be MailStore user "alice"');
    } finally {
      await session.close();
    }
  });
});

describe('tokens', () => {
  it('a token the server forgot after its call took effect leads to a fresh look, not a repeated write', async () => {
    const records = new MemoryRecordStore();
    await converge(bothServers(servers), SECRETS, records);
    const changed = bothServers(servers, { alice: '  displayName: Alice Liddell\n  extraAddresses: [a.liddell@example.com, al@example.com]\n' });
    const session = await openSession(changed, SECRETS, records);
    try {
      const plan = await session.plan();
      // What a run killed while MailStore worked leaves behind: the call running, its token recorded…
      servers.mailstore.setSlow('SetUserEmailAddresses', { durationMs: 150, steps: 1 });
      const writes = servers.mailstore.effects.SetUserEmailAddresses!;
      const client = new MailStoreClient({ backend: 'archive', baseUrl: servers.mailstore.url, concurrency: 1, requestsPerSecond: 100, timeoutMs: 5000, retries: 0 }, { username: 'admin', password: SECRETS['mailstore-admin'] });
      const status = await client.start(setUserEmailAddresses('alice@example.com', ['alice@example.com', 'a.liddell@example.com', 'al@example.com', 'postmaster@example.com']));
      await client.close();
      const key = backendKey('default/archive', servers.mailstore.url);
      records.setOperation(key, 'user:alice@example.com', { action: 'update', step: 'SetUserEmailAddresses', task: { id: status.token!, description: 'MailStore SetUserEmailAddresses', cursor: status.statusVersion }, taskStartedAt: new Date().toISOString() });
      // …then the call ends and the server forgets its status (a session that expired).
      await servers.mailstore.callEnded(status.token!);
      servers.mailstore.forgetStatuses();

      const report = await session.apply(plan);
      expect(report.results.filter((r) => r.backendName === 'archive').map((r) => `${r.change.id} ${r.outcome}`)).toEqual(['user:alice@example.com applied']);
      // The "killed" run wrote the addresses; the resumed one found them written and did not write again.
      expect(servers.mailstore.effects.SetUserEmailAddresses).toBe(writes + 1);
      expect(servers.mailstore.requestLog.filter((r) => r.path === '/api/get-status').at(-1)?.status).toBe(404);
      expect(records.operation(key, 'user:alice@example.com')).toBeUndefined();
    } finally {
      await session.close();
    }
  });
});

describe('a MailStore that fails a quarter of the requests (5xx, dropped before or after the work)', () => {
  it('converges over a few runs, each write decided from a fresh look', async () => {
    await servers.close();
    servers = await startServers({ failureRate: 0.25, failureMode: 'mixed', seed: 11 });
    const records = new MemoryRecordStore();
    const yaml = bothServers(servers);
    let runs = 0;
    for (; runs < 10; runs++) {
      const session = await openSession(yaml, SECRETS, records);
      try {
        const plan = await session.plan();
        if (!archive(plan).error && archive(plan).changes.length === 0) break;
        if (!archive(plan).error) await session.apply(plan);
      } finally {
        await session.close();
      }
    }
    expect(runs).toBeLessThan(10);
    expect(servers.mailstore.stats.faultsInjected).toBeGreaterThan(0);
    expect(servers.mailstore.users.map((u) => u.userName).sort()).toEqual(['admin', 'alice@example.com', 'bob@example.com']);
    expect(mailstoreUser(servers, 'alice@example.com')).toMatchObject({ fullName: 'Alice Liddell', emailAddresses: ['alice@example.com', 'a.liddell@example.com', 'postmaster@example.com'] });
    expect(servers.mailstore.passwordMatches('bob@example.com', SECRETS.bob)).toBe(true);
  });
});

describe('in a long-lived reconciler', () => {
  it('a slow call is reported pending with its progress in the status, and the next reconciles poll the same token', async () => {
    await converge(bothServers(servers), SECRETS);
    const config = configFrom(bothServers(servers, { alice: '  displayName: Alice Liddell\n  extraAddresses: [al@example.com]\n' }));
    const alice = config.users.find((u) => u.address === 'alice@example.com')!.ref;
    servers.mailstore.setSlow('SetUserEmailAddresses', { durationMs: 1500, steps: 5 });
    const records = new MemoryRecordStore();
    const engine = new Engine({ adapterFactory: createAdapter, records, fingerprintKey: FINGERPRINT_KEY, taskMode: 'poll' });
    const invokes = () => servers.mailstore.requestLog.filter((r) => r.path === '/api/invoke/SetUserEmailAddresses').length;
    try {
      const secrets = await resolveSecrets(config, new MapSecrets(SECRETS), engine.fingerprint);
      await engine.connect(config.backends, secrets.credentials);
      await engine.observeAll(config);
      const plan = await engine.plan({ config, passwords: secrets.passwords, owners: new Set([objectKey(alice)]) });
      const status = (results: readonly ChangeResult[]) =>
        objectStatus({ object: alice, backends: backendOutcomes(alice, servingBackends(config, alice), plan, results, (id) => engine.observation(id)), now: new Date() });
      const before = invokes();

      const first = await engine.apply(plan);
      const pending = first.results.find((r) => r.backendName === 'archive')!;
      expect(pending.outcome).toBe('pending');
      const running = status(first.results);
      expect(running.conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'TaskRunning' });
      expect(running.backends.find((b) => b.name === 'archive')?.task).toMatchObject({ id: pending.task!.ref.id, state: 'running', progress: expect.any(Number) });

      const second = await engine.apply(plan);
      expect(second.results.find((r) => r.backendName === 'archive')).toMatchObject({ outcome: 'pending', task: { ref: { id: pending.task!.ref.id } } });

      await servers.mailstore.callEnded(pending.task!.ref.id);
      const third = await engine.apply(plan);
      expect(third.results.find((r) => r.backendName === 'archive')?.outcome).toBe('applied');
      expect(status(third.results).conditions[0]).toMatchObject({ status: 'True', reason: 'Available' });
      expect(invokes()).toBe(before + 1);
      expect(mailstoreUser(servers, 'alice@example.com')?.emailAddresses).toEqual(['alice@example.com', 'al@example.com', 'postmaster@example.com']);
    } finally {
      await engine.close();
    }
  });
});

function domainOrg(): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: MailDomain
metadata: {name: example-org}
spec:
  domain: example.org
  backendRefs: [{name: james}, {name: archive}]
`;
}
