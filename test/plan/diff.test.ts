import { describe, expect, it } from 'vitest';
import { JAMES_CAPABILITIES } from '../../src/backends/james/adapter.ts';
import type { Capabilities } from '../../src/plan/capabilities.ts';
import { summarize } from '../../src/plan/index.ts';
import { alias, backend, docs, domain, quotaPolicy, user } from '../support/manifests.ts';
import { configFrom } from '../support/manifests.ts';
import { observedUser, outline, passwordsFor, plan, recordsFor, state } from '../support/planning.ts';

const GiB = 1024 ** 3;

const config = configFrom(
  docs(
    backend(),
    domain('example.com', '  aliasDomains: [example.net]\n  defaultQuota: {storage: 5Gi}'),
    quotaPolicy('std', '  storage: 2Gi\n  messages: 50000\n  globalDefault: true'),
    user('alice@example.com', '  extraAddresses: [a@example.com]\n  quota: {storage: 20Gi}\n  displayName: Alice'),
    user('bob@example.com', '  forwarding: {to: [bob@elsewhere.org], keepCopy: true}'),
    alias('team@example.com', ['alice@example.com', 'bob@example.com']),
  ),
);

/** What James reports after the configuration above was applied. */
function converged() {
  return state({
    domains: new Map([
      ['example.com', { name: 'example.com', aliasDomains: ['example.net'], defaultQuota: { storage: 5 * GiB, messages: null } }],
      ['example.net', { name: 'example.net', aliasDomains: [], defaultQuota: { storage: null, messages: null } }],
    ]),
    users: new Map([
      ['alice@example.com', observedUser('alice@example.com', { extraAddresses: ['a@example.com'], quota: { storage: 20 * GiB, messages: null } })],
      ['bob@example.com', observedUser('bob@example.com', { forwards: ['bob@elsewhere.org'], keepCopy: true })],
    ]),
    groups: new Map([['team@example.com', { address: 'team@example.com', members: ['alice@example.com', 'bob@example.com'] }]]),
    globalQuota: { storage: 2 * GiB, messages: 50000 },
  });
}

describe('planning against an empty backend', () => {
  it('creates domains, then users, then aliases, then sets the global quota', () => {
    expect(outline(plan(config, state()))).toEqual([
      '+ domain example.com',
      '+ user alice@example.com',
      '+ user bob@example.com',
      '+ group team@example.com',
      '~ globalQuota global',
    ]);
  });

  it('makes users and aliases wait for the domain they live in', () => {
    const changes = plan(config, state()).backends[0]!.changes;
    expect(changes.find((c) => c.key === 'alice@example.com')!.dependsOn).toEqual(['domain:example.com']);
    expect(changes.find((c) => c.key === 'team@example.com')!.dependsOn).toEqual(['domain:example.com']);
  });

  it('marks the password sensitive and shows no value for it', () => {
    const alice = plan(config, state()).backends[0]!.changes.find((c) => c.key === 'alice@example.com')!;
    expect(alice.fields.find((f) => f.field === 'password')).toEqual({ field: 'password', sensitive: true });
  });

  it('reports fields the backend cannot represent instead of dropping them', () => {
    const result = plan(config, state());
    expect(result.backends[0]!.notApplicable).toEqual([
      expect.objectContaining({ resource: 'user', key: 'alice@example.com', field: 'displayName', value: 'Alice' }),
    ]);
  });
});

describe('planning against a converged backend', () => {
  it('has no changes when everything matches and the passwords are recorded', () => {
    expect(outline(plan(config, converged(), { records: recordsFor(config) }))).toEqual([]);
  });

  it('shows exactly one password update when a secret changed', () => {
    const result = plan(config, converged(), { records: recordsFor(config), passwords: passwordsFor(config, { alice: 'a new secret' }) });
    const changes = result.backends[0]!.changes;
    expect(changes).toHaveLength(1);
    expect(changes[0]!.fields).toEqual([{ field: 'password', sensitive: true }]);
    expect(summarize(result)).toEqual({ create: 0, update: 1, delete: 0 });
  });

  it('sets a password once when mailops has no record of it', () => {
    const records = recordsFor(config);
    records.delete('MailUser/default/bob');
    const [change] = plan(config, converged(), { records }).backends[0]!.changes;
    expect(change!.key).toBe('bob@example.com');
    expect(change!.fields).toEqual([{ field: 'password', sensitive: true, note: expect.stringContaining('not set by mailops before') }]);
  });

  it('diffs field by field: set members, quota limits, forwarding', () => {
    const drifted = converged();
    drifted.users.get('alice@example.com')!.quota = { storage: 10 * GiB, messages: 7 };
    drifted.users.get('bob@example.com')!.keepCopy = false;
    drifted.groups.get('team@example.com')!.members = ['alice@example.com', 'mallory@evil.example'];
    const changes = plan(config, drifted, { records: recordsFor(config) }).backends[0]!.changes;
    expect(changes.map((c) => [c.key, c.fields])).toEqual([
      ['alice@example.com', [
        { field: 'quota.storage', before: '10Gi', after: '20Gi' },
        { field: 'quota.messages', before: '7', after: '(unset)' },
      ]],
      ['bob@example.com', [{ field: 'forwarding.keepCopy', before: false, after: true }]],
      ['team@example.com', [expect.objectContaining({ field: 'members', added: ['bob@example.com'], removed: ['mallory@evil.example'] })]],
    ]);
  });
});

describe('address changes', () => {
  const renamed = configFrom(docs(backend(), domain('example.com'), user('alice.liddell@example.com', '', 'alice')));

  it('moves the mailbox of the same MailUser instead of creating a second one', () => {
    const observed = state({
      domains: new Map([['example.com', { name: 'example.com', aliasDomains: [], defaultQuota: { storage: null, messages: null } }]]),
      users: new Map([['alice@example.com', observedUser('alice@example.com')]]),
    });
    const records = new Map([['MailUser/default/alice', { address: 'alice@example.com', passwordFingerprint: 'x' }]]);
    const [change] = plan(renamed, observed, { records }).backends[0]!.changes;
    expect(change).toMatchObject({ action: 'replace', key: 'alice.liddell@example.com', renameFrom: 'alice@example.com' });
    expect(change!.fields[0]).toEqual({ field: 'address', before: 'alice@example.com', after: 'alice.liddell@example.com' });
  });

  it('creates the user when the old address is gone as well', () => {
    const records = new Map([['MailUser/default/alice', { address: 'alice@example.com', passwordFingerprint: 'x' }]]);
    expect(outline(plan(renamed, state(), { records }))).toEqual(['+ domain example.com', '+ user alice.liddell@example.com']);
  });
});

describe('ownership and pruning', () => {
  const strangers = () => {
    const observed = converged();
    observed.domains.set('other.org', { name: 'other.org', aliasDomains: [], defaultQuota: { storage: null, messages: null } });
    observed.users.set('eve@example.com', observedUser('eve@example.com'));
    observed.users.set('zed@other.org', observedUser('zed@other.org'));
    observed.groups.set('old@example.com', { address: 'old@example.com', members: ['eve@example.com'] });
    observed.groups.set('x@other.org', { address: 'x@other.org', members: ['zed@other.org'] });
    return observed;
  };

  it('never deletes what the configuration does not declare, unless the domain prunes', () => {
    expect(outline(plan(config, strangers(), { records: recordsFor(config) }))).toEqual([]);
  });

  it('deletes undeclared users and aliases of a pruning domain only, aliases before users', () => {
    const pruning = configFrom(
      docs(backend(), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 50}'), user('alice@example.com'), user('bob@example.com')),
    );
    const observed = strangers();
    const result = plan(pruning, observed, { records: recordsFor(pruning), capabilities: { ...JAMES_CAPABILITIES } });
    const deletes = outline(result).filter((line) => line.startsWith('-'));
    expect(deletes).toEqual(['- group old@example.com', '- group team@example.com', '- user eve@example.com']);
    expect(result.backends[0]!.changes.find((c) => c.key === 'eve@example.com')!.reason).toBe('not declared; MailDomain "example-com" prunes');
  });

  it('refuses a run that would delete more than the configured share of a domain’s users', () => {
    const pruning = configFrom(docs(backend(), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 25}'), user('alice@example.com')));
    const observed = strangers(); // alice, bob, eve in example.com: deleting bob and eve is 2 of 3
    const refused = plan(pruning, observed, { records: recordsFor(pruning) });
    expect(refused.backends[0]!.refusals.map((r) => r.message)).toEqual([
      expect.stringContaining('would delete 2 of the 3 users of example.com (more than maxUserDeletionPercent: 25%)'),
    ]);
    expect(plan(pruning, observed, { records: recordsFor(pruning), allowMassDeletion: true }).backends[0]!.refusals).toEqual([]);
  });

  it('does not count the old address of a move as a deletion', () => {
    const pruning = configFrom(docs(backend(), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 0}'), user('new@example.com', '', 'alice')));
    const observed = state({
      domains: new Map([['example.com', { name: 'example.com', aliasDomains: [], defaultQuota: { storage: null, messages: null } }]]),
      users: new Map([['alice@example.com', observedUser('alice@example.com')]]),
    });
    const result = plan(pruning, observed, { records: new Map([['MailUser/default/alice', { address: 'alice@example.com', passwordFingerprint: 'x' }]]) });
    expect(outline(result)).toEqual(['± user new@example.com']);
    expect(result.backends[0]!.refusals).toEqual([]);
  });
});

describe('backends with fewer capabilities', () => {
  const flat: Capabilities = {
    ...JAMES_CAPABILITIES,
    displayName: true,
    keepCopy: false,
    quota: { storage: true, messages: false, domainDefault: false, global: false, storageUnit: 1 },
  };

  it('folds domain and global defaults into each user and reports what cannot be represented', () => {
    const result = plan(config, state(), { capabilities: flat });
    const bob = result.backends[0]!.changes.find((c) => c.key === 'bob@example.com')!;
    expect(bob.fields).toContainEqual({ field: 'quota.storage', before: '(unset)', after: '5Gi' });
    expect(result.backends[0]!.changes.some((c) => c.resource === 'globalQuota')).toBe(false);
    expect(result.backends[0]!.notApplicable.map((n) => `${n.key} ${n.field}`).sort()).toEqual([
      'alice@example.com quota.messages',
      'bob@example.com forwarding.keepCopy',
      'bob@example.com quota.messages',
    ]);
  });
});

describe('ownership: a field the manifest leaves unset is observed and left alone; a field it sets is owned whole', () => {
  const MiB = 1024 ** 2;
  const bare = configFrom(docs(backend(), domain('example.com'), user('dave@example.com')));
  const handEdited = () =>
    state({
      domains: new Map([['example.com', { name: 'example.com', aliasDomains: ['example.org'], defaultQuota: { storage: 3 * GiB, messages: 900 } }]]),
      users: new Map([
        ['dave@example.com', observedUser('dave@example.com', { extraAddresses: ['d@example.com'], forwards: ['dave@home.example'], keepCopy: true, quota: { storage: null, messages: 1000 } })],
      ]),
    });

  it('keeps extra addresses, forwards, quotas and alias domains added by hand when the manifest does not set them', () => {
    expect(outline(plan(bare, handEdited(), { records: recordsFor(bare) }))).toEqual([]);
  });

  it('lists what it leaves alone, with the values the backend has', () => {
    const result = plan(bare, handEdited(), { records: recordsFor(bare) });
    expect(result.backends[0]!.unmanaged).toEqual([
      expect.objectContaining({ resource: 'domain', key: 'example.com', fields: [
        { field: 'aliasDomains', value: ['example.org'] },
        { field: 'defaultQuota.storage', value: '3Gi' },
        { field: 'defaultQuota.messages', value: '900' },
      ] }),
      expect.objectContaining({ resource: 'user', key: 'dave@example.com', fields: [
        { field: 'extraAddresses', value: ['d@example.com'] },
        { field: 'forwarding', value: { to: ['dave@home.example'], keepCopy: true } },
        { field: 'quota.storage', value: '(unset)' },
        { field: 'quota.messages', value: '1000' },
      ] }),
    ]);
  });

  it('corrects every field the manifest sets, and an empty list means none', () => {
    const owning = configFrom(
      docs(
        backend(),
        domain('example.com', '  aliasDomains: []\n  defaultQuota: {storage: 1Gi}'),
        user('dave@example.com', '  extraAddresses: []\n  forwarding: {to: []}\n  quota: {storage: 2Gi}'),
      ),
    );
    const changes = plan(owning, handEdited(), { records: recordsFor(owning) }).backends[0]!.changes;
    expect(changes.map((c) => [c.key, c.fields.map((f) => f.field)])).toEqual([
      ['example.com', ['aliasDomains', 'defaultQuota.storage', 'defaultQuota.messages']],
      ['dave@example.com', ['extraAddresses', 'forwarding.to', 'forwarding.keepCopy', 'quota.storage', 'quota.messages']],
    ]);
    // A declared quota owns the user level whole: the limit it leaves out is unset there (inherited).
    expect(changes[1]!.fields.find((f) => f.field === 'quota.messages')).toMatchObject({ before: '1000', after: '(unset)' });
  });

  it('sets on a new user only what the manifest declares', () => {
    const [, created] = plan(bare, state()).backends[0]!.changes;
    expect(created).toMatchObject({ action: 'create', key: 'dave@example.com' });
    expect(created!.fields).toEqual([{ field: 'password', sensitive: true }]);
  });

  describe('on a backend that stores only per-user limits in megabytes', () => {
    const flat: Capabilities = {
      ...JAMES_CAPABILITIES,
      quota: { storage: true, messages: false, domainDefault: false, global: false, storageUnit: MiB },
    };

    it('leaves a user’s limit alone when no level declares one', () => {
      const observed = handEdited();
      observed.users.get('dave@example.com')!.quota = { storage: 700 * MiB, messages: null };
      expect(outline(plan(bare, observed, { records: recordsFor(bare), capabilities: flat }))).toEqual([]);
    });

    it('rounds a limit up to whole megabytes, so that what the backend stores is no lasting difference', () => {
      const odd = configFrom(docs(backend(), domain('example.com'), user('dave@example.com', '  quota: {storage: 1.5G}')));
      const observed = handEdited();
      const first = plan(odd, observed, { records: recordsFor(odd), capabilities: flat }).backends[0]!.changes;
      expect(first[0]!.fields).toEqual([{ field: 'quota.storage', before: '(unset)', after: '1431Mi' }]);
      observed.users.get('dave@example.com')!.quota = { storage: 1431 * MiB, messages: 1000 };
      expect(outline(plan(odd, observed, { records: recordsFor(odd), capabilities: flat }))).toEqual([]);
    });
  });

  it('shows domain-level fields as not applicable on a backend without domains, and still plans its users', () => {
    const noDomains: Capabilities = { ...JAMES_CAPABILITIES, domains: false, aliasDomains: false };
    const pruning = configFrom(docs(backend(), domain('example.com', '  aliasDomains: [example.org]\n  prune: {enabled: true}'), user('dave@example.com')));
    const result = plan(pruning, state(), { capabilities: noDomains });
    expect(outline(result)).toEqual(['+ user dave@example.com']);
    expect(result.backends[0]!.notApplicable.map((n) => `${n.resource} ${n.field}`)).toEqual(['domain domain', 'domain aliasDomains']);
  });

  it('lets a domain prune its users on a backend without domains (MailStore: the users are there, the domain is not)', () => {
    const noDomains: Capabilities = { ...JAMES_CAPABILITIES, domains: false, aliasDomains: false, userDeletion: 'the archive is kept' };
    const pruning = configFrom(docs(backend(), domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 50}'), user('dave@example.com')));
    const observed = state({ users: new Map(['dave@example.com', 'erin@example.com', 'frank@example.org'].map((a) => [a, observedUser(a)])) });
    const result = plan(pruning, observed, { capabilities: noDomains });
    expect(outline(result)).toEqual(['~ user dave@example.com', '- user erin@example.com']);
    expect(result.backends[0]!.changes.at(-1)!.reason).toBe('not declared; MailDomain "example-com" prunes; the archive is kept');
  });

  it('keeps an alias as an address of its one member where the backend says so, and shows the others as not applicable', () => {
    const oneUser: Capabilities = { ...JAMES_CAPABILITIES, aliasMembers: 'one-user' };
    const aliases = configFrom(docs(backend(), domain('example.com'), user('dave@example.com'),
      alias('dave.s@example.com', ['dave@example.com']), alias('ext@example.com', ['someone@elsewhere.org']), alias('all@example.com', ['dave@example.com', 'x@example.com'])));
    const result = plan(aliases, state(), { capabilities: oneUser });
    expect(outline(result)).toContain('+ group dave.s@example.com');
    expect(result.backends[0]!.notApplicable.map((n) => `${n.key}: ${n.reason}`)).toEqual([
      'all@example.com: james keeps only aliases with one member, as an address of that user',
      'ext@example.com: james keeps an alias only as an address of a user it serves; someone@elsewhere.org is not one',
    ]);
  });
});
