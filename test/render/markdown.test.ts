// plan -o markdown, the pull-request comment: exact for a small plan; folded per domain when long;
// never longer than a comment may be; nothing from a manifest or a server turned into markup.
import { describe, expect, it } from 'vitest';
import { COMMENT_LIMIT, LONG_PLAN_ROWS, renderPlanMarkdown } from '../../src/render/markdown.ts';
import { backend, configFrom, docs, domain, user } from '../support/manifests.ts';
import { plan } from '../support/planning.ts';

const SECRET = 'pw-alice';

describe('markdown plan', () => {
  it('is exactly this for a small plan: the summary line first, a table per domain, the full plan folded away', () => {
    const config = configFrom(docs(backend(), domain('example.com'), user('alice@example.com', '  quota: {storage: 1Gi}'), domain('example.org'), user('bob@example.org')));
    const markdown = renderPlanMarkdown(plan(config, { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } }));
    expect(markdown).toBe(`### mailops plan

**Plan: 4 to create, 0 to update, 0 to delete.**

#### \`example.com\`

| | resource | key | backend | fields |
|---|---|---|---|---|
| \`+\` | domain | \`example.com\` | james |  |
| \`+\` | user | \`alice@example.com\` | james | password, quota.storage |

#### \`example.org\`

| | resource | key | backend | fields |
|---|---|---|---|---|
| \`+\` | domain | \`example.org\` | james |  |
| \`+\` | user | \`bob@example.org\` | james | password |

<details><summary>Full plan</summary>

\`\`\`diff
Backend "james" (james, http://127.0.0.1:1):

+  domain example.com  # MailDomain "example-com", test.yaml:9

+  domain example.org  # MailDomain "example-org", test.yaml:25

+  user alice@example.com  # MailUser "alice", test.yaml:17
      password:       (sensitive)
      quota.storage:  1Gi

+  user bob@example.org  # MailUser "bob", test.yaml:33
      password:  (sensitive)

Plan: 4 to create, 0 to update, 0 to delete.
\`\`\`

</details>
`);
    expect(markdown).not.toContain(SECRET);
  });

  it('folds each domain away when the plan is long, its summary on the fold', () => {
    const users = Array.from({ length: LONG_PLAN_ROWS }, (_, i) => user(`u${i}@big.example`, '', `u${i}`));
    const config = configFrom(docs(backend(), domain('big.example'), ...users, domain('small.example'), user('x@small.example')));
    const markdown = renderPlanMarkdown(plan(config, { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } }));
    expect(markdown).toMatch(/^### mailops plan\n\n\*\*Plan: 23 to create, 0 to update, 0 to delete\.\*\*\n\n<details><summary><code>big\.example<\/code>: 21 to create<\/summary>\n\n\| \| resource/);
    expect(markdown).toContain('<details><summary><code>small.example</code>: 2 to create</summary>');
    expect(markdown).not.toContain('#### ');
  });

  it('stays within the size of a comment, saying what was left out', () => {
    const observed = { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } };
    const planOf = (users: number) => {
      const manifests = Array.from({ length: users }, (_, i) => user(`user-number-${i}@d${i % 40}.example`, '  quota: {storage: 1Gi, messages: 1000}', `u${i}`));
      return plan(configFrom(docs(backend(), ...Array.from({ length: 40 }, (_, i) => domain(`d${i}.example`)), ...manifests)), observed);
    };
    // The tables fit, the full plan does not: it is left out.
    const medium = renderPlanMarkdown(planOf(400));
    expect(renderPlanMarkdown(planOf(400), { limit: 10 ** 9 }).length).toBeGreaterThan(COMMENT_LIMIT);
    expect(medium.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(medium).toMatch(/^### mailops plan\n\n\*\*Plan: 440 to create, 0 to update, 0 to delete\.\*\*\n/);
    expect(medium).toContain('<code>d39.example</code>');
    expect(medium).toMatch(/\n_The full plan does not fit in a comment; run `mailops plan` to see it\._\n$/);
    // Not even the tables fit: whole domains are left out, and the comment says how many.
    const large = renderPlanMarkdown(planOf(1000));
    expect(large.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(large).toMatch(/\n_\d+ more sections do not fit in a comment; run `mailops plan` to see everything\._\n$/);
    expect(large).not.toContain('Full plan');
  });

  it('escapes what servers and manifests say, so that a pull request cannot add markup', () => {
    const config = configFrom(docs(backend(), domain('example.com')));
    const result = plan(config, { domains: new Map(), users: new Map(), groups: new Map(), globalQuota: { storage: null, messages: null } });
    result.backends[0]!.error = 'backend "james" (http://127.0.0.1:1): <img src=x onerror=alert(1)> | **bold**';
    const markdown = renderPlanMarkdown(result);
    expect(markdown).toContain('> [!CAUTION]\n> backend "james" (http://127.0.0.1:1): &lt;img src=x onerror=alert(1)&gt; \\| \\*\\*bold\\*\\*\n');
    expect(markdown).not.toContain('<img');
  });
});
