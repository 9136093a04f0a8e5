import { globalQuotaOf } from '../../src/model/config.ts';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, formatConfigError, loadConfigFromPaths } from '../../src/load/index.ts';
import { tree } from '../support/files.ts';
import { alias, backend, configFrom, docs, domain, quotaPolicy, user } from '../support/manifests.ts';

/** Loads and returns the error lines, with the temporary directory shown as `.`. */
async function errorsOf(files: Record<string, string>): Promise<string[]> {
  const dir = await tree(files);
  try {
    await loadConfigFromPaths([dir]);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return error.errors.map((e) => formatConfigError(e).replace(dir, '.'));
  }
  throw new Error('expected the configuration to be invalid');
}

const base = docs(backend(), domain('example.com'));

describe('loading manifests', () => {
  it('reads files and directories recursively, multi-document, skipping other API groups and counting them', async () => {
    const dir = await tree({
      'backend.yaml': backend(),
      'domains/example.yaml': docs(domain('example.com'), user('alice@example.com'), alias('team@example.com', ['alice@example.com'])),
      'other/deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: y}\n',
      'notes.txt': 'not a manifest',
      '.git/config.yaml': 'garbage: [',
    });
    const config = await loadConfigFromPaths([dir]);
    expect(config.backends.map((b) => b.name)).toEqual(['james']);
    expect(config.users.map((u) => u.address)).toEqual(['alice@example.com']);
    expect(config.aliases.map((a) => a.members)).toEqual([['alice@example.com']]);
    expect(config.skippedDocuments).toBe(2);
  });

  it('expands a kubectl List', async () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${backend().replace(/\n/g, '\n  ').trimEnd()}\n`;
    const config = await loadConfigFromPaths([await tree({ 'list.yaml': list, 'd.yaml': domain('example.com') })]);
    expect(config.domains).toHaveLength(1);
  });

  it('normalises addresses to one spelling', async () => {
    const config = await loadConfigFromPaths([await tree({ 'a.yaml': docs(base, user('Alice@Example.COM', '', 'alice')) })]);
    expect(config.users[0]!.address).toBe('alice@example.com');
  });

  it('resolves quota precedence inputs: inline, by policy, domain default and the global default', async () => {
    const config = await loadConfigFromPaths([
      await tree({
        'a.yaml': docs(
          backend(),
          domain('example.com', '  defaultQuota: {storage: 1Gi}'),
          quotaPolicy('big', '  storage: 10Gi\n  messages: unlimited'),
          quotaPolicy('std', '  storage: 2Gi\n  globalDefault: true'),
          user('a@example.com', '  quota: {policyRef: {name: big}}'),
          user('b@example.com', '  quota: {messages: 100}'),
        ),
      }),
    ]);
    expect(config.users.map((u) => u.quota)).toEqual([
      { storage: 10 * 1024 ** 3, messages: 'unlimited' },
      { storage: null, messages: 100 },
    ]);
    expect(config.domains[0]!.defaultQuota).toEqual({ storage: 1024 ** 3, messages: null });
    expect(globalQuotaOf(config, 'default')?.limits).toEqual({ storage: 2 * 1024 ** 3, messages: null });
  });
});

describe('bad input: every error names file, line, column and field', () => {
  it('an invalid address', async () => {
    expect(await errorsOf({ 'a.yaml': docs(base, user('alice@@example.com', '', 'alice')) })).toEqual([
      expect.stringMatching(/^\.\/a\.yaml:\d+:12: MailUser "alice" spec\.address: "alice@@example\.com" is not a valid mail address/),
    ]);
  });

  it('an unknown field, with a suggestion', async () => {
    const errors = await errorsOf({ 'a.yaml': docs(base, user('alice@example.com', '  displayname: Alice')) });
    expect(errors).toEqual([expect.stringMatching(/a\.yaml:\d+:3: MailUser "alice" spec\.displayname: unknown field \(did you mean "displayName"\?\)/)]);
  });

  it('a duplicate object across files, pointing at both', async () => {
    const errors = await errorsOf({ 'a.yaml': docs(base, user('alice@example.com')), 'b.yaml': user('alice2@example.com', '', 'alice') });
    expect(errors).toEqual([expect.stringMatching(/^\.\/b\.yaml:3:\d+: MailUser "alice" metadata\.name: is declared twice; the first is at .*a\.yaml:\d+:1$/)]);
  });

  it('the same address declared twice', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(base, user('alice@example.com', '  extraAddresses: [team@example.com]'), alias('team@example.com', ['alice@example.com'])),
    });
    expect(errors).toEqual([expect.stringMatching(/Alias "alias-team" spec\.address: team@example\.com is already declared as an extra address of MailUser "alice"/)]);
  });

  it('a user in an undeclared domain, and one in an alias domain', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(backend(), domain('example.com', '  aliasDomains: [example.net]'), user('bob@nowhere.org'), user('carol@example.net')),
    });
    expect(errors).toEqual([
      expect.stringMatching(/MailUser "bob" spec\.address: the address is in domain nowhere\.org, which no MailDomain declares/),
      expect.stringMatching(/MailUser "carol" spec\.address: the address is in example\.net, an alias domain of example\.com; use an address in example\.com/),
    ]);
  });

  it('an alias that loops, through aliases and forwarding', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(
        base,
        alias('a@example.com', ['b@example.com']),
        alias('b@example.com', ['c@example.com']),
        user('c@example.com', '  forwarding: {to: [a@example.com]}'),
      ),
    });
    expect(errors).toEqual([expect.stringMatching(/mail would loop: a@example\.com → b@example\.com → c@example\.com → a@example\.com/)]);
  });

  it('a loop at the end of a very long chain of aliases', async () => {
    const n = 3000;
    const chain = Array.from({ length: n }, (_, i) => alias(`a${i}@example.com`, [`a${(i + 1) % n}@example.com`]));
    const errors = await errorsOf({ 'a.yaml': docs(base, ...chain) });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/mail would loop: a0@example\.com → a1@example\.com → .* → a2999@example\.com → a0@example\.com$/);
  });

  it('references to a missing backend and a missing policy', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(backend(), domain('example.com', '', ['jamez']), user('a@example.com', '  quota: {policyRef: {name: gold}}')),
    });
    expect(errors).toEqual([
      expect.stringMatching(/MailDomain "example-com" spec\.backendRefs\[0\]\.name: refers to MailBackend "jamez", which is not declared/),
      expect.stringMatching(/MailUser "a" spec\.quota\.policyRef\.name: refers to QuotaPolicy "gold", which is not declared/),
    ]);
  });

  it('an unknown kind of our group, a bad version, and a YAML syntax error', async () => {
    const errors = await errorsOf({
      'a.yaml': 'apiVersion: mailops.dev/v1alpha1\nkind: Mailbox\nmetadata: {name: x}\n---\napiVersion: mailops.dev/v2\nkind: MailUser\nmetadata: {name: y}\n',
      'b.yaml': 'apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata:\n  name: [unclosed\n',
    });
    expect(errors).toEqual([
      './a.yaml:2:7: kind: unknown kind "Mailbox" in mailops.dev; known kinds: MailBackend, MailDomain, MailUser, Alias, QuotaPolicy',
      './a.yaml:5:13: apiVersion: version v2 of mailops.dev is not supported; use mailops.dev/v1alpha1',
      expect.stringMatching(/^\.\/b\.yaml:5:1: YAML: Flow sequence/),
    ]);
  });

  it('bad quantities and both quota forms at once', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(base, quotaPolicy('p', '  storage: 1Gi'), user('a@example.com', '  quota: {storage: 2GB}'), user('b@example.com', '  quota: {policyRef: {name: p}, messages: 5}')),
    });
    expect(errors).toEqual([
      expect.stringMatching(/MailUser "a" spec\.quota\.storage: "2GB" is not a storage size/),
      expect.stringMatching(/MailUser "b" spec\.quota\.policyRef: set either policyRef or storage\/messages, not both/),
    ]);
  });

  it('a user narrowing to a backend its domain does not use', async () => {
    const errors = await errorsOf({
      'a.yaml': docs(backend(), backend('other', 'http://127.0.0.1:2'), domain('example.com'), user('a@example.com', '  backendRefs: [{name: other}]')),
    });
    expect(errors).toEqual([expect.stringMatching(/MailUser "a" spec\.backendRefs\[0\]\.name: MailBackend "other" does not serve domain example\.com/)]);
  });

  it('a missing file', async () => {
    await expect(loadConfigFromPaths(['/nonexistent/mailops.yaml'])).rejects.toThrow(/\/nonexistent\/mailops\.yaml:1:1: no such file or directory/);
  });
});

describe('settings of one backend type', () => {
  const withSettings = (type: string, block: string) =>
    backend().replace('type: james', `type: ${type}`).replace('spec:\n', `spec:\n${block}\n`);

  it('are read from the block named after the backend type', () => {
    const config = configFrom(withSettings('mailstore', '  mailstore: {apiForm: legacy}'));
    expect(config.backends[0]!.options).toEqual({ apiForm: 'legacy' });
  });

  it('in the block of another type are refused where they are written', () => {
    expect(() => configFrom(withSettings('james', '  mailstore: {apiForm: legacy}'))).toThrow(
      /test\.yaml:5:3: MailBackend "james" spec\.mailstore: holds settings of a mailstore backend, but this MailBackend is of type james/,
    );
  });

  it('are checked by the schema of their type', () => {
    expect(() => configFrom(withSettings('mailstore', '  mailstore: {apiForm: newest}'))).toThrow(/spec\.mailstore\.apiForm/);
  });
});
