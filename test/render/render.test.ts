import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { PlanDocument, toPlanDocument } from '../../src/render/json.ts';
import { renderPlanMarkdown } from '../../src/render/markdown.ts';
import { renderPlanText } from '../../src/render/text.ts';
import { alias, backend, configFrom, docs, domain, user } from '../support/manifests.ts';
import { observedUser, passwordsFor, plan, recordsFor, state } from '../support/planning.ts';

const SECRET = 'correct horse battery staple';
const config = configFrom(
  docs(
    backend(),
    domain('example.com', '  prune: {enabled: true, maxUserDeletionPercent: 100}'),
    user('alice@example.com', '  quota: {storage: 2Gi}\n  displayName: Alice'),
    user('bob@example.com', '  extraAddresses: [robert@example.com]'),
    alias('team@example.com', ['alice@example.com', 'bob@example.com']),
  ),
);
const passwords = passwordsFor(config, { alice: SECRET, bob: SECRET });
const observed = state({
  domains: new Map([['example.com', { name: 'example.com', aliasDomains: [], defaultQuota: { storage: null, messages: null } }]]),
  users: new Map([
    ['bob@example.com', observedUser('bob@example.com', { extraAddresses: ['bobby@example.com'] })],
    ['eve@example.com', observedUser('eve@example.com')],
  ]),
});
const mixed = plan(config, observed, { passwords, records: recordsFor(config) });

describe('text plan', () => {
  const text = renderPlanText(mixed);

  it('uses + ~ - with old → new per field and a closing summary line', () => {
    expect(text).toContain('  + user alice@example.com');
    expect(text).toMatch(/ {6}quota\.storage: +2Gi/);
    expect(text).toContain('  ~ user bob@example.com');
    expect(text).toMatch(/extraAddresses: +\+ robert@example\.com {2}- bobby@example\.com/);
    expect(text).toContain('  - user eve@example.com (not declared; MailDomain "example-com" prunes)');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Plan: 2 to create, 1 to update, 1 to delete.');
  });

  it('shows passwords as (sensitive) and never their value', () => {
    expect(text).toMatch(/password: +\(sensitive\)/);
    expect(text).not.toContain(SECRET);
  });

  it('lists what the backend cannot represent', () => {
    expect(text).toContain('! displayName of 1 user on "james" (james cannot represent displayName): alice@example.com');
  });

  it('with -v, says per object which fields it leaves alone and what the server has there', () => {
    const drifted = structuredClone(observed);
    const bob = drifted.users.get('bob@example.com')!;
    bob.forwards = ['bob@home.example'];
    bob.quota = { storage: null, messages: 300 };
    const verbose = renderPlanText(plan(config, drifted, { passwords, records: recordsFor(config) }), { verbose: true });
    expect(verbose).toContain('Left alone (not set in the configuration, so not managed; as observed):');
    expect(verbose).toContain('  user bob@example.com [james]: forwarding to=bob@home.example keepCopy=false, quota.storage (unset), quota.messages 300');
    expect(verbose).toContain('  domain example.com [james]: aliasDomains (none), defaultQuota.storage (unset), defaultQuota.messages (unset)');
    expect(renderPlanText(mixed)).not.toContain('Left alone');
  });

  it('prints No changes. when there is nothing to do', () => {
    const converged = plan(configFrom(docs(backend(), domain('example.com'))), state({ domains: observed.domains }));
    expect(renderPlanText(converged)).toBe('No changes.\n');
  });

  it('names a backend that could not be observed instead of planning for it', () => {
    const failed = { backends: [{ ...mixed.backends[0]!, changes: [], notApplicable: [], error: 'backend "james" (http://x): cannot reach' }] };
    expect(renderPlanText(failed)).toBe('No backend could be observed.\n');
  });
});

describe('JSON plan', () => {
  const document = toPlanDocument(mixed);

  it('follows its published schema', () => {
    const validate = new Ajv({ strict: false }).compile(PlanDocument);
    expect(validate(JSON.parse(JSON.stringify(document))), JSON.stringify(validate.errors)).toBe(true);
  });

  it('carries the summary, the changes and field values, but no secret', () => {
    expect(document.summary).toEqual({ create: 2, update: 1, delete: 1 });
    const alice = document.backends[0]!.changes.find((c) => c.key === 'alice@example.com')!;
    expect(alice.fields).toContainEqual({ field: 'password', sensitive: true });
    expect(alice.owner).toMatchObject({ kind: 'MailUser', name: 'alice', source: { file: 'test.yaml' } });
    expect(JSON.stringify(document)).not.toContain(SECRET);
  });
});

describe('markdown plan', () => {
  it('starts with the summary, tabulates changes and folds the full plan away', () => {
    const markdown = renderPlanMarkdown(mixed);
    expect(markdown).toMatch(/^### mailops plan\n\n\*\*Plan: 2 to create, 1 to update, 1 to delete\.\*\*/);
    expect(markdown).toContain('| `+` | user | `alice@example.com` | james | password, quota.storage |');
    expect(markdown).toContain('```diff\n');
    expect(markdown).not.toContain(SECRET);
  });
});
