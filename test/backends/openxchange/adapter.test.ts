// mailops against Open-Xchange end to end (the engine, the adapter, the client, the emulator): a domain served by
// James and Open-Xchange together, users disabled and deleted with their sessions closed, bulk observation, a DOWN
// health check, context ids, and what Open-Xchange cannot hold shown as not applicable.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.ts';
import { resolveSecrets } from '../../../src/engine/secrets.ts';
import { backendOutcomes, objectStatus, servingBackends } from '../../../src/engine/status.ts';
import { createAdapter } from '../../../src/backends/registry.ts';
import { hasChanges, type BackendPlan, type Plan } from '../../../src/plan/index.ts';
import { MemoryRecordStore } from '../../../src/state/records.ts';
import { alias, backend, configFrom, docs, domain, quotaPolicy, user } from '../../support/manifests.ts';
import { outline } from '../../support/planning.ts';
import { converge, FINGERPRINT_KEY, MapSecrets, openSession } from '../../support/session.ts';
import { CONTEXT_ADMIN, createContext, createUser, openxchangeBackend, SECRETS, useEmulators, usingClient } from './support.ts';

const emulators = useEmulators();

const on = (plan: Plan, name: string): BackendPlan => plan.backends.find((b) => b.backendName === name)!;

/** example.com on James and Open-Xchange: alice with a name, an extra address and a quota; bob disabled; carol bare. */
function bothServers(jamesUrl: string, oxUrl: string, options: { domainFields?: string; bob?: string; settings?: string; more?: string[] } = {}): string {
  return docs(
    backend('james', jamesUrl),
    openxchangeBackend(oxUrl, options.settings ?? ''),
    quotaPolicy('standard', '  storage: 1G\n  globalDefault: true'),
    domain('example.com', options.domainFields ?? '  totalStorage: 100Gi\n  defaultQuota: {storage: 2Gi}', ['james', 'openxchange']),
    user('alice@example.com', '  displayName: Ada Lovelace\n  extraAddresses: [a.lovelace@example.com]\n  quota: {storage: 1500M}'),
    user('bob@example.com', options.bob ?? '  disabled: true'),
    user('carol@example.com'),
    alias('postmaster@example.com', ['alice@example.com']),
    alias('team@example.com', ['alice@example.com', 'bob@example.com']),
    ...(options.more ?? []),
  );
}

describe('a domain served by James and Open-Xchange together', () => {
  it('converges on both: a context with its users, and a second plan shows no changes on either', async () => {
    const [james, ox] = await Promise.all([emulators.james(), emulators.openxchange()]);
    const { plan, after } = await converge(bothServers(james.url, ox.url), SECRETS);

    expect(outline({ backends: [on(plan, 'openxchange')] })).toEqual([
      '+ domain example.com', '+ user alice@example.com', '+ user bob@example.com', '+ user carol@example.com', '+ group postmaster@example.com',
    ]);
    expect(hasChanges(after)).toBe(false);
    expect(after.backends.map((b) => b.error)).toEqual([undefined, undefined]);
    expect([...james.state.users].sort()).toEqual(['alice@example.com', 'bob@example.com', 'carol@example.com']);

    // The context: named after the domain, the domain a login mapping, the filestore quota in MB, its admin.
    expect(ox.contexts).toEqual([expect.objectContaining({ id: 1, name: 'example.com', enabled: true, maxQuota: 102400, loginMappings: ['1', 'example.com'], admin: 'oxadmin' })]);
    const users = Object.fromEntries(ox.users.map((u) => [u.name, u]));
    expect(users['alice']).toMatchObject({
      displayName: 'Ada Lovelace', givenName: 'Ada', surName: 'Lovelace',
      primaryEmail: 'alice@example.com', email1: 'alice@example.com',
      aliases: ['alice@example.com', 'a.lovelace@example.com', 'postmaster@example.com'],
      maxQuota: 1431, // 1500M = 1430.5 MiB, rounded up
      mailEnabled: true,
    });
    expect(users['bob']).toMatchObject({ displayName: 'bob', aliases: ['bob@example.com'], mailEnabled: false, maxQuota: 2048 }); // the domain default, set on the user
    expect(users['carol']).toMatchObject({ maxQuota: 2048 });
    expect(users['oxadmin']).toMatchObject({ primaryEmail: 'oxadmin@example.com' });
    expect(ox.passwordMatches(1, 'carol', SECRETS.carol)).toBe(true);
    expect(ox.passwordMatches(1, 'oxadmin', CONTEXT_ADMIN.password)).toBe(true);
  });

  it('shows what Open-Xchange cannot hold as not applicable, never as an error', async () => {
    const [james, ox] = await Promise.all([emulators.james(), emulators.openxchange()]);
    const yaml = bothServers(james.url, ox.url, {
      domainFields: '  aliasDomains: [example.net]\n  displayName: Example Inc.\n  maxUserStorage: 5Gi',
      bob: '  forwarding: {to: [bob@elsewhere.example]}\n  quota: {messages: 1000}',
    });
    const session = await openSession(yaml, SECRETS);
    try {
      const plan = on(await session.plan(), 'openxchange');
      expect(plan.notApplicable.map((n) => `${n.resource} ${n.key} ${n.field}${n.wholeObject ? ' (whole)' : ''}: ${n.reason}`).sort()).toEqual([
        'domain example.com aliasDomains: openxchange cannot represent aliasDomains',
        'domain example.com displayName: openxchange cannot represent displayName',
        'domain example.com maxUserStorage: openxchange cannot represent maxUserStorage',
        'group team@example.com members (whole): openxchange keeps only aliases with one member, as an address of that user',
        'user bob@example.com forwarding: openxchange cannot represent forwarding',
        'user bob@example.com quota.messages: openxchange cannot represent quota.messages',
      ]);
      expect(plan.error).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it('observes in bulk: listAll, then getMultipleData in batches — never getData per user', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const contextId = await createContext(client, 'example.com');
      for (let i = 0; i < 25; i++) await createUser(client, contextId, `u${i}@example.com`);
    });
    const before = ox.requestLog.length;
    const session = await openSession(docs(openxchangeBackend(ox.url, '    batchSize: 10'), domain('example.com', '', ['openxchange'])), SECRETS);
    try {
      const plan = on(await session.plan(), 'openxchange');
      // health, the contexts, the context's user ids, and 26 users (the admin among them) in 3 batches.
      expect(plan.requests).toBe(6);
      expect(ox.requestLog.slice(before).map((r) => r.path)).toEqual([
        '/health', '/webservices/OXContextService', '/webservices/OXUserService', '/webservices/OXUserService', '/webservices/OXUserService', '/webservices/OXUserService',
      ]);
    } finally {
      await session.close();
    }
  });
});

describe('sessions', () => {
  it('disabling a user closes their sessions; the other users stay logged in', async () => {
    const [james, ox] = await Promise.all([emulators.james(), emulators.openxchange()]);
    const records = new MemoryRecordStore();
    await converge(bothServers(james.url, ox.url, { bob: '' }), SECRETS, records);
    const alice = ox.login(1, 'alice');
    ox.login(1, 'bob');
    const carol = ox.login(1, 'carol');

    const carolDisabled = bothServers(james.url, ox.url, { bob: '' }).replace('address: carol@example.com', 'address: carol@example.com\n  disabled: true');
    const { plan, after } = await converge(carolDisabled, SECRETS, records);
    expect(outline({ backends: [on(plan, 'openxchange')] })).toEqual(['~ user carol@example.com']);
    expect(ox.users.find((u) => u.name === 'carol')).toMatchObject({ mailEnabled: false });
    expect(ox.sessions.map((s) => s.id).sort()).toEqual(expect.arrayContaining([alice]));
    expect(ox.sessions.map((s) => s.id)).not.toContain(carol);
    expect(ox.sessions).toHaveLength(2);
    expect(hasChanges(after)).toBe(false);
  });

  it('deleting a user (prune) deletes it and closes its sessions', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const contextId = await createContext(client, 'example.com');
      await createUser(client, contextId, 'alice@example.com');
      await createUser(client, contextId, 'mallory@example.com');
      await createUser(client, contextId, 'bob@example.com');
      await createUser(client, contextId, 'carol@example.com');
    });
    const session = ox.login(1, 'mallory');
    const yaml = docs(
      openxchangeBackend(ox.url),
      domain('example.com', '  prune: {enabled: true}', ['openxchange']),
      user('alice@example.com'), user('bob@example.com'), user('carol@example.com'),
    );
    const { plan } = await converge(yaml, SECRETS);
    expect(outline(plan)).toContain('- user mallory@example.com');
    expect(ox.users.map((u) => u.name).sort()).toEqual(['alice', 'bob', 'carol', 'oxadmin']); // never the context admin
    expect(ox.sessions.map((s) => s.id)).not.toContain(session);
  });
});

describe('a DOWN health check', () => {
  it('makes the backend fail observation as Unavailable, naming the check: its objects are Synced=False/BackendUnavailable', async () => {
    const ox = await emulators.openxchange({ healthDown: ['configdb'] });
    const yaml = docs(openxchangeBackend(ox.url), domain('example.com', '', ['openxchange']), user('alice@example.com'));
    const config = configFrom(yaml);
    const engine = new Engine({ adapterFactory: createAdapter, records: new MemoryRecordStore(), fingerprintKey: FINGERPRINT_KEY });
    try {
      const secrets = await resolveSecrets(config, new MapSecrets(SECRETS), engine.fingerprint);
      await engine.connect(config.backends, secrets.credentials);
      await engine.observeAll(config);
      const observation = engine.observation(config.backends[0]!.id)!;
      expect(observation.failure).toMatchObject({ kind: 'Unavailable', message: 'Open-Xchange reports itself DOWN (GET /health): failing check configdb' });

      const plan = await engine.plan({ config, passwords: secrets.passwords });
      const alice = config.users[0]!.ref;
      const status = objectStatus({ object: alice, backends: backendOutcomes(alice, servingBackends(config, alice), plan, [], (id) => engine.observation(id)), now: new Date(0) });
      expect(status.conditions.find((c) => c.type === 'Synced')).toMatchObject({ status: 'False', reason: 'BackendUnavailable', message: expect.stringContaining('failing check configdb') });
      expect(ox.contexts).toEqual([]); // nothing was planned, nothing created

      // Back UP: the next observation goes ahead.
      ox.setHealthCheck('configdb', 'UP');
      await engine.observeAll(config);
      expect(engine.observation(config.backends[0]!.id)!.failure).toBeUndefined();
    } finally {
      await engine.close();
    }
  });
});

describe('contexts', () => {
  it('takes an explicit context id from the domain, and allocates the others from contextIdFrom', async () => {
    const ox = await emulators.openxchange();
    const yaml = docs(
      openxchangeBackend(ox.url, '    contextIdFrom: 100'),
      domain('example.com', '  openxchange: {contextId: 42}', ['openxchange']),
      domain('example.org', '', ['openxchange']),
      domain('example.net', '', ['openxchange']),
      user('alice@example.com'),
    );
    const { plan, after } = await converge(yaml, SECRETS);
    expect(on(plan, 'openxchange').changes.find((c) => c.key === 'example.com')!.fields).toEqual(expect.arrayContaining([{ field: 'contextId', before: null, after: 42 }]));
    const ids = Object.fromEntries(ox.contexts.map((c) => [c.name, c.id]));
    expect(ids['example.com']).toBe(42);
    expect([ids['example.net'], ids['example.org']].sort()).toEqual([100, 101]);
    expect(ox.users.find((u) => u.name === 'alice')).toMatchObject({ contextId: 42 });
    expect(hasChanges(after)).toBe(false);
  });

  it('refuses to change the id of an existing context, saying how to fix it', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      await createContext(client, 'example.com', 7);
    });
    const session = await openSession(docs(openxchangeBackend(ox.url), domain('example.com', '  openxchange: {contextId: 42}', ['openxchange'])), SECRETS);
    try {
      const plan = await session.plan();
      expect(on(plan, 'openxchange').changes.map((c) => c.fields)).toEqual([[{ field: 'contextId', before: 7, after: 42 }]]);
      const report = await session.apply(plan);
      expect(report.results.map((r) => r.error)).toEqual(['the context of example.com has id 7; a context keeps its id (spec.openxchange.contextId: 42): remove contextId or set it to 7']);
    } finally {
      await session.close();
    }
  });

  it('disables a context and closes its sessions; changes its quota; leaves what is not declared alone', async () => {
    const ox = await emulators.openxchange();
    const contextId = await usingClient(ox.url, async (client) => {
      const id = await createContext(client, 'example.com');
      await createUser(client, id, 'alice@example.com', { displayName: 'Hand Made', maxQuota: 300, aliases: ['alice@example.com', 'old@example.com'] });
      return id;
    });
    const session = ox.login(contextId, 'alice');
    const { plan } = await converge(docs(openxchangeBackend(ox.url), domain('example.com', '  disabled: true\n  totalStorage: 10Gi', ['openxchange']), user('alice@example.com')), SECRETS);
    expect(on(plan, 'openxchange').changes.map((c) => `${c.id} ${c.fields.map((f) => f.field).join(',')}`)).toEqual(['domain:example.com disabled,totalStorage', 'user:alice@example.com password']);
    expect(ox.contexts[0]).toMatchObject({ enabled: false, maxQuota: 10240 });
    expect(ox.sessions.map((s) => s.id)).not.toContain(session);
    expect(ox.users.find((u) => u.name === 'alice')).toMatchObject({ displayName: 'Hand Made', maxQuota: 300, aliases: ['alice@example.com', 'old@example.com'] });
    expect(ox.passwordMatches(contextId, 'alice', SECRETS.alice)).toBe(true);
  });
});

describe('users', () => {
  it('keeps given name and surname set by hand when the display name changes, and follows the display name otherwise', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const contextId = await createContext(client, 'example.com');
      await createUser(client, contextId, 'alice@example.com', { displayName: 'Ada Lovelace', givenName: 'Augusta Ada', surName: 'King' });
      await createUser(client, contextId, 'bob@example.com', { displayName: 'Bob Smith', givenName: 'Bob', surName: 'Smith' });
    });
    await converge(docs(openxchangeBackend(ox.url), domain('example.com', '', ['openxchange']), user('alice@example.com', '  displayName: Ada, Countess of Lovelace'), user('bob@example.com', '  displayName: Robert Smith Jr')), SECRETS);
    expect(ox.users.find((u) => u.name === 'alice')).toMatchObject({ displayName: 'Ada, Countess of Lovelace', givenName: 'Augusta Ada', surName: 'King' });
    expect(ox.users.find((u) => u.name === 'bob')).toMatchObject({ displayName: 'Robert Smith Jr', givenName: 'Robert Smith', surName: 'Jr' });
  });

  it('owns language and timezone on every user when the MailBackend sets them', async () => {
    const ox = await emulators.openxchange();
    const yaml = docs(openxchangeBackend(ox.url, '    users: {language: de_DE, timezone: Europe/Vienna}'), domain('example.com', '', ['openxchange']), user('alice@example.com'));
    const { after } = await converge(yaml, SECRETS);
    expect(ox.users.find((u) => u.name === 'alice')).toMatchObject({ language: 'de_DE', timezone: 'Europe/Vienna' });
    expect(hasChanges(after)).toBe(false);
  });

  it('refuses an address a user of another context has, naming it; the rest goes on', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const other = await createContext(client, 'example.org');
      await createUser(client, other, 'dave@example.org', { aliases: ['dave@example.org', 'shared@example.com'] });
    });
    const session = await openSession(docs(openxchangeBackend(ox.url), domain('example.com', '', ['openxchange']), user('alice@example.com', '  extraAddresses: [shared@example.com]'), user('bob@example.com')), SECRETS);
    try {
      const report = await session.apply(await session.plan());
      expect(report.results.filter((r) => r.outcome === 'failed').map((r) => [r.change.key, r.error])).toEqual([
        ['alice@example.com', 'shared@example.com (user 3 of context 1) already belongs to a user of another context'],
      ]);
      expect(ox.users.filter((u) => u.contextId === 2).map((u) => u.name).sort()).toEqual(['bob', 'oxadmin']);
    } finally {
      await session.close();
    }
  });

  it('says which admin was refused when the context admin password is wrong', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      await createContext(client, 'example.com', undefined, 'Another-One-1');
    });
    const session = await openSession(docs(openxchangeBackend(ox.url), domain('example.com', '', ['openxchange'])), SECRETS);
    try {
      const plan = await session.plan();
      expect(on(plan, 'openxchange').error).toBe(
        `backend "openxchange" (${ox.url}): OXUserService.listAll: InvalidCredentialsException: Authentication failed — the context admin "oxadmin" (spec.openxchange.contextAdmin) was refused in context 1 (example.com); every context mailops manages needs that admin with that password`,
      );
    } finally {
      await session.close();
    }
  });
});

describe('secrets', () => {
  it('never shows the admins’ or users’ passwords in plans, errors or the emulator’s request log', async () => {
    const ox = await emulators.openxchange();
    const { plan, report } = await converge(docs(openxchangeBackend(ox.url), domain('example.com', '', ['openxchange']), user('alice@example.com')), SECRETS);
    const text = JSON.stringify({ plan, report, log: ox.requestLog });
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
  });
});
