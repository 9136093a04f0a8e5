// plan --git-base: a small repository made with git in a temporary directory, a change on top of
// its last commit, and the outputs a reviewer reads — checked exactly, offline and against the
// James emulator.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';

const run = promisify(execFile);
const git = (cwd: string, ...args: string[]) =>
  run('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'init.defaultBranch=main', '-c', 'commit.gpgsign=false', ...args], { cwd });

const BACKEND = `apiVersion: mailops.dev/v1alpha1
kind: MailBackend
metadata: {name: james}
spec:
  type: james
  url: http://127.0.0.1:1
`;

const DOMAIN_AND_ALICE = (storage: string) => `apiVersion: mailops.dev/v1alpha1
kind: MailDomain
metadata: {name: example-com}
spec:
  domain: example.com
  backendRefs: [{name: james}]
  prune: {enabled: true, maxUserDeletionPercent: 100}
---
apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: alice}
spec:
  address: alice@example.com
  passwordSecretRef: {name: alice, key: password}
  quota: {storage: ${storage}}
---
`;

const BASE = `${DOMAIN_AND_ALICE('1Gi')}apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: bob}
spec:
  address: bob@example.com
  passwordSecretRef: {name: bob, key: password}
`;

/** alice's quota doubled, bob gone, carol new (with a comment). */
const CHANGED = `${DOMAIN_AND_ALICE('2Gi')}# Carol joins sales.
apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: carol}
spec:
  address: carol@example.com
  passwordSecretRef: {name: carol, key: password}
`;

/** The lines changed in git, as the markdown shows them beside each object (offline and online alike). */
const ALICE_DIFF = '```diff\n@@ mail/users.yaml @@\n-  quota: {storage: 1Gi}\n+  quota: {storage: 2Gi}\n```';
const BOB_DIFF = '```diff\n@@ mail/users.yaml @@\n-metadata: {name: bob}\n-  address: bob@example.com\n-  passwordSecretRef: {name: bob, key: password}\n```';
const CAROL_DIFF = '```diff\n@@ mail/users.yaml @@\n+# Carol joins sales.\n+metadata: {name: carol}\n+  address: carol@example.com\n+  passwordSecretRef: {name: carol, key: password}\n```';

let repo: string;

beforeEach(async () => {
  repo = await tempDir('mailops-repo-');
  await mkdir(path.join(repo, 'mail'));
  await writeFile(path.join(repo, 'mail', 'backend.yaml'), BACKEND);
  await writeFile(path.join(repo, 'mail', 'users.yaml'), BASE);
  await git(repo, 'init', '-q');
  await git(repo, 'add', '.');
  await git(repo, 'commit', '-q', '-m', 'base');
  await writeFile(path.join(repo, 'mail', 'users.yaml'), CHANGED);
});

describe('plan --git-base --offline', () => {
  it('shows the declared difference and the changed lines, object by object, without a backend or a secret', async () => {
    const result = await mailops(['plan', '-f', 'mail/', '--git-base', 'HEAD', '--offline', '--detailed-exitcode'], { cwd: repo });
    const { stdout: commit } = await git(repo, 'rev-parse', '--short=12', 'HEAD');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(`Changes since HEAD (${commit.trim()}), object by object — offline: the declared state only, no backend was contacted:

~ MailUser "alice"  # mail/users.yaml:9
    declared:
      quota.storage:  1Gi → 2Gi
    changed in git:
      mail/users.yaml
      -15   quota: {storage: 1Gi}
      +15   quota: {storage: 2Gi}

- MailUser "bob"  # mail/users.yaml:17 at the base
    removed from the manifests
    changed in git:
      mail/users.yaml
      -19 metadata: {name: bob}
      -21   address: bob@example.com
      -22   passwordSecretRef: {name: bob, key: password}

+ MailUser "carol"  # mail/users.yaml:18
    declared:
      address:            carol@example.com
      passwordSecretRef:  carol/password
      backendRefs:        + james
    changed in git:
      mail/users.yaml
      +17 # Carol joins sales.
      +20 metadata: {name: carol}
      +22   address: carol@example.com
      +23   passwordSecretRef: {name: carol, key: password}

Passwords are not compared offline: a secret reference is, by name and key.
Offline: 1 object added, 1 changed, 1 removed.
`);
  });

  it('writes the same as a pull-request comment', async () => {
    const result = await mailops(['plan', '-f', 'mail/', '--git-base', 'HEAD', '--offline', '-o', 'markdown'], { cwd: repo });
    const { stdout: commit } = await git(repo, 'rev-parse', '--short=12', 'HEAD');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`### mailops plan

**Offline: 1 object added, 1 changed, 1 removed.**

Compared with \`HEAD\` (\`${commit.trim()}\`): declared state only, no backend was contacted; passwords are not compared offline.

#### \`example.com\`

**\`~\` MailUser \`alice\`** — \`mail/users.yaml:9\`

${ALICE_DIFF}

- \`quota.storage\`: 1Gi → 2Gi

**\`-\` MailUser \`bob\`** — \`mail/users.yaml:17 (at the base)\`

${BOB_DIFF}

_Removed: on the backends it is deleted only where its MailDomain prunes._

**\`+\` MailUser \`carol\`** — \`mail/users.yaml:18\`

${CAROL_DIFF}

- \`address\`: carol@example.com
- \`passwordSecretRef\`: carol/password
- \`backendRefs\`: + james
`);
  });

  it('says when nothing declared changed (exit 0), and refuses a revision that does not exist', async () => {
    await git(repo, 'commit', '-q', '-a', '-m', 'change');
    const same = await mailops(['plan', '-f', 'mail/', '--git-base', 'HEAD', '--offline', '--detailed-exitcode'], { cwd: repo });
    expect(same.code).toBe(0);
    expect(same.stdout.trimEnd().split('\n').at(-1)).toBe('Offline: no change to the declared state.');

    const missing = await mailops(['plan', '-f', 'mail/', '--git-base', 'no-such-branch', '--offline'], { cwd: repo });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^mailops: --git-base no-such-branch: no such revision in .* \(in CI, fetch it first: git fetch origin <branch>, or a checkout with fetch-depth: 0\)\n$/);

    const offlineAlone = await mailops(['plan', '-f', 'mail/', '--offline'], { cwd: repo });
    expect(offlineAlone).toMatchObject({ code: 1, stderr: 'mailops: --offline plans the change since a git revision: give it with --git-base <ref>\n' });
  });
});

describe('plan --git-base against the James emulator', () => {
  let james: JamesEmulator;
  beforeEach(async () => {
    james = await startJamesEmulator({});
  });
  afterEach(() => james.close());

  it('puts the lines changed in git beside the backend changes they cause', async () => {
    const env = { MAILOPS_STATE_DIR: await tempDir('mailops-state-'), MAILOPS_SECRET_ALICE_PASSWORD: 'Alice-1!', MAILOPS_SECRET_BOB_PASSWORD: 'Bob-1!', MAILOPS_SECRET_CAROL_PASSWORD: 'Carol-1!' };
    const url = ['--backend-url', `james=${james.url}`];
    // The server as the base revision declares it.
    await git(repo, 'stash', '-q');
    expect((await mailops(['apply', '-f', 'mail/', ...url], { cwd: repo, env })).code).toBe(0);
    await git(repo, 'stash', 'pop', '-q');

    const result = await mailops(['plan', '-f', 'mail/', ...url, '--git-base', 'HEAD', '-o', 'markdown', '--detailed-exitcode'], { cwd: repo, env });
    const { stdout: commit } = await git(repo, 'rev-parse', '--short=12', 'HEAD');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe(`### mailops plan

**Plan: 1 to create, 1 to update, 1 to delete.**

Compared with \`HEAD\` (\`${commit.trim()}\`), object by object: the lines changed in git and the backend changes they cause.

#### \`example.com\`

**\`~\` MailUser \`alice\`** — \`mail/users.yaml:9\`

${ALICE_DIFF}

| | backend | change |
|---|---|---|
| \`~\` | james | user \`alice@example.com\` — quota.storage: 1Gi → 2Gi |

**\`-\` MailUser \`bob\`** — \`mail/users.yaml:17 (at the base)\`

${BOB_DIFF}

| | backend | change |
|---|---|---|
| \`-\` | james | user \`bob@example.com\` (not declared; MailDomain "example-com" prunes) |

**\`+\` MailUser \`carol\`** — \`mail/users.yaml:18\`

${CAROL_DIFF}

| | backend | change |
|---|---|---|
| \`+\` | james | user \`carol@example.com\` — password: (sensitive) |
`);
    for (const secret of Object.values(env)) if (secret.endsWith('!')) expect(result.stdout).not.toContain(secret);
  });
});
