// A MailUser whose passwordSecretRef is optional and whose secret does not exist (what `mailops
// export` writes): the password is left as it is, the other fields are planned, and a user that
// would have to be created is refused rather than created without a password.
import { describe, expect, it } from 'vitest';
import { objectKey } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import { resolveSecrets } from '../../src/engine/secrets.ts';
import { FileSecretResolver } from '../../src/secrets/file-secrets.ts';
import { renderPlanText } from '../../src/render/text.ts';
import { backend, configFrom, docs, domain } from '../support/manifests.ts';
import { fingerprint, observedUser, outline, plan, state } from '../support/planning.ts';

const exported = configFrom(
  docs(
    backend(),
    domain('example.com'),
    `apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: alice}
spec:
  address: alice@example.com
  passwordSecretRef: {name: alice, key: password, optional: true}
  extraAddresses: [a@example.com]
`,
  ),
);
const domainState = new Map([['example.com', { name: 'example.com', aliasDomains: [], defaultQuota: { storage: null, messages: null } }]]);

describe('an optional password secret that does not exist', () => {
  it('is not a failure when secrets are resolved, while a required one still is', async () => {
    const resolver = new FileSecretResolver({ env: {} });
    const optional = await resolveSecrets(exported, resolver, fingerprint);
    expect(optional.failures).toEqual([]);
    expect(optional.passwords.size).toBe(0);

    const required = configFrom(docs(backend(), domain('example.com'), 'apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: bob}\nspec:\n  address: bob@example.com\n  passwordSecretRef: {name: bob, key: password}\n'));
    const result = await resolveSecrets(required, resolver, fingerprint);
    expect(result.failures.map((f) => f.message)).toEqual(['secret bob/password not found: set MAILOPS_SECRET_BOB_PASSWORD (or use --secrets-dir)']);
  });

  it('plans no password for a user the backend has, and says the password is unmanaged', () => {
    const observed = state({ domains: domainState, users: new Map([['alice@example.com', observedUser('alice@example.com', { extraAddresses: ['a@example.com'] })]]) });
    const result = plan(exported, observed, { passwords: new Map() });
    expect(outline(result)).toEqual([]);
    const text = renderPlanText(result);
    expect(text).toContain('Note: the password of 1 user is unmanaged until its secret exists (passwordSecretRef optional: true): alice@example.com.\n');
    expect(text.trimEnd().split('\n').at(-1)).toBe('No changes.');
  });

  it('still plans the other declared fields, without sending a password', () => {
    const observed = state({ domains: domainState, users: new Map([['alice@example.com', observedUser('alice@example.com')]]) });
    const change = plan(exported, observed, { passwords: new Map() }).backends[0]!.changes[0]!;
    expect(change.action).toBe('update');
    expect(change.fields.map((f) => f.field)).toEqual(['extraAddresses']);
  });

  it('refuses to create the user without a password', () => {
    const result = plan(exported, state({ domains: domainState }), { passwords: new Map() });
    expect(outline(result)).toEqual([]);
    expect(result.backends[0]!.refusals.map((r) => r.message)).toEqual([
      'MailUser "alice": alice@example.com cannot be created on this backend without a password, and its passwordSecretRef is optional and does not exist; create the secret first',
    ]);
  });

  it('is managed as usual once the secret exists: set once where nothing was recorded', () => {
    const observed = state({ domains: domainState, users: new Map([['alice@example.com', observedUser('alice@example.com', { extraAddresses: ['a@example.com'] })]]) });
    const user = exported.users[0]!;
    const passwords = new Map([[objectKey(user.ref), { secret: new Sensitive('s3cret'), fingerprint: fingerprint(user.address, 's3cret') }]]);
    const change = plan(exported, observed, { passwords }).backends[0]!.changes[0]!;
    expect(change.fields).toEqual([{ field: 'password', sensitive: true, note: 'not set by mailops before; it will be set once' }]);
  });
});
