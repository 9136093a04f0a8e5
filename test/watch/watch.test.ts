// `mailops watch` end to end: a git repository made with the real git client, the watcher as a
// process, the James emulator as the backend. What is asserted is what an administrator sees: the
// status (file and endpoint), the metrics, and the users and mappings on the server.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { backend, domain, user } from '../support/manifests.ts';
import { RawJames } from '../support/james-targets.ts';
import { mailops, tempDir } from '../support/cli.ts';
import type { WatchStatus } from '../../src/watch/status.ts';
import { TestRepository, eventually, startWatch, type WatchProcess } from '../support/watch.ts';

const PASSWORDS: Record<string, string> = {
  alice: 'Alice-W4tch!', bob: 'Bob-W4tch!', carol: 'Carol-W4tch!', erin: 'Erin-W4tch!', frank: 'Frank-W4tch!',
  gina: 'Gina-W4tch!', heidi: 'Heidi-W4tch!', ivan: 'Ivan-W4tch!', judy: 'Judy-W4tch!', karl: 'Karl-W4tch!',
};
const secretEnv = Object.fromEntries(Object.entries(PASSWORDS).map(([name, pw]) => [`MAILOPS_SECRET_${name.toUpperCase()}_PASSWORD`, pw]));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** keep.example prunes (up to half its users at once); hold.example does not. */
const PRUNES = 'prune: {enabled: true, maxUserDeletionPercent: 50}';

/** An emulator, a repository (on `branch`) and a state directory for one describe block, which starts `watch`. */
function watchedRepository(branch: string, taskDurationMs?: number) {
  const context = { commits: {} as Record<string, string> } as { james: JamesEmulator; repo: TestRepository; stateDir: string; watch: WatchProcess | undefined; commits: Record<string, string> };
  beforeAll(async () => {
    context.james = await startJamesEmulator(taskDurationMs !== undefined ? { taskDurationMs } : {});
    context.repo = await TestRepository.create(branch);
    context.stateDir = await tempDir('mailops-watch-state-');
  });
  afterAll(async () => {
    await context.watch?.stop();
    await context.james?.close();
  });
  return context as typeof context & { watch: WatchProcess };
}

describe('mailops watch on a local repository', () => {
  const t = watchedRepository('main');
  const { commits } = t;

  beforeAll(async () => {
    await t.repo.write('README.md', 'Mail configuration: mailops applies config/.\n');
    await t.repo.write('config/backend.yaml', backend('james', t.james.url));
    await t.repo.write('config/domains.yaml', `${domain('keep.example', `  ${PRUNES}`)}\n---\n${domain('hold.example')}`);
    for (const [name, address] of [['alice', 'alice@keep.example'], ['bob', 'bob@keep.example'], ['carol', 'carol@hold.example']] as const) {
      await t.repo.write(`config/users/${name}.yaml`, user(address));
    }
    commits.first = await t.repo.commit('First users');
    t.watch = await startWatch(['--repo', t.repo.dir, '--path', 'config/', '--interval', '1s', '--state-dir', t.stateDir], secretEnv);
  });

  it('applies the first commit', async () => {
    const status = await t.watch.until('the first commit applied', (s) => s.lastAppliedRevision === commits.first);
    expect(status).toMatchObject({ lastAttemptedRevision: commits.first, lastAttemptResult: 'Applied', revisionInForce: commits.first, branch: 'main', path: 'config' });
    expect(status.conditions[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Applied' });
    expect(t.james.state.users).toEqual(expect.arrayContaining(['alice@keep.example', 'bob@keep.example', 'carol@hold.example']));
    expect(await new RawJames(t.james.url).passwordWorks('alice@keep.example', PASSWORDS.alice!)).toBe(true);
    // The status file says the same as the endpoint.
    expect(JSON.parse(await readFile(t.watch.statusFile, 'utf8'))).toMatchObject({ lastAppliedRevision: commits.first });
    expect(await (await fetch(`${t.watch.url}/readyz`)).text()).toContain(`commit ${commits.first} in force`);
    expect((await fetch(`${t.watch.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.watch.url}/status`, { method: 'POST' })).status).toBe(405);
  });

  it('applies a second commit', async () => {
    await t.repo.write('config/users/erin.yaml', user('erin@keep.example'));
    await t.repo.write('config/users/bob.yaml', user('bob@keep.example', '  extraAddresses: [robert@keep.example]'));
    commits.second = await t.repo.commit('Erin joins; Bob is also Robert');
    const status = await t.watch.until('the second commit applied', (s) => s.lastAppliedRevision === commits.second);
    expect(status.runs.find((r) => r.attemptedRevision === commits.second)).toMatchObject({ appliedRevision: commits.second, result: 'Applied', trigger: 'commit' });
    expect(t.james.state.users).toContain('erin@keep.example');
    expect(t.james.state.mappings['robert@keep.example']).toEqual([{ type: 'Alias', mapping: 'bob@keep.example' }]);
  });

  it('reports a broken commit with file, line and field, applies nothing of it, and validates it only once', async () => {
    await t.repo.write('config/users/broken.yaml', user('not-an-address', '', 'broken'));
    await t.repo.write('config/users/frank.yaml', user('frank@keep.example'));
    commits.broken = await t.repo.commit('Frank, and a typo');
    const status = await t.watch.until('the broken commit reported', (s) => s.lastAttemptedRevision === commits.broken);
    expect(status).toMatchObject({ lastAttemptResult: 'Invalid', lastAppliedRevision: commits.second, revisionInForce: commits.second });
    expect(status.lastAttemptErrors).toEqual([
      'config/users/broken.yaml:5:12: MailUser "broken" spec.address: "not-an-address" is not a valid mail address (ASCII, like user@example.com)',
    ]);
    expect(status.conditions[0]).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(status.conditions[0]!.message).toContain('config/users/broken.yaml:5:12');
    expect(await (await fetch(`${t.watch.url}/readyz`)).text()).toContain(`commit ${commits.second} in force`);
    expect(await t.watch.metric('mailops_watcher_revision_info', { role: 'applied', revision: commits.second! })).toBe(1);
    expect(await t.watch.metric('mailops_watcher_ready')).toBe(0);

    // Later runs reconcile the last good commit; the broken one is not validated again.
    const reported = status.runs[0]!;
    const later = await t.watch.until('two more runs', (s) => s.runs.findIndex((r) => r.startedAt === reported.startedAt) >= 2);
    expect(later.runs.slice(0, 2).map((r) => r.appliedRevision)).toEqual([commits.second, commits.second]);
    expect(t.watch.log().split('\n').filter((l) => l.includes('the new commit is invalid'))).toHaveLength(1);
    expect(t.james.state.users).not.toContain('frank@keep.example');
  });

  it('corrects drift at the next interval from the commit in force, while the newest is broken', async () => {
    const raw = new RawJames(t.james.url);
    await raw.ok('DELETE', '/users/alice@keep.example');
    await raw.ok('PUT', '/address/aliases/bob@keep.example/sources/bobby@keep.example');
    await eventually('alice back and the stray alias gone', async () => (t.james.state.users.includes('alice@keep.example') && !t.james.state.mappings['bobby@keep.example'] ? true : undefined));
    const status = await t.watch.status();
    expect(status).toMatchObject({ lastAppliedRevision: commits.second, lastAttemptedRevision: commits.broken, lastAttemptResult: 'Invalid' });
    expect(await raw.passwordWorks('alice@keep.example', PASSWORDS.alice!)).toBe(true);
  });

  it('applies the fixed commit', async () => {
    await t.repo.write('config/users/broken.yaml', user('gina@keep.example', '', 'gina'));
    commits.fixed = await t.repo.commit('Fix the typo: it is Gina');
    const status = await t.watch.until('the fixed commit applied', (s) => s.lastAppliedRevision === commits.fixed);
    expect(status).toMatchObject({ lastAttemptedRevision: commits.fixed, lastAttemptResult: 'Applied' });
    expect(status.lastAttemptErrors).toBeUndefined();
    expect(status.conditions[0]).toMatchObject({ status: 'True', reason: 'Applied' });
    expect(t.james.state.users).toEqual(expect.arrayContaining(['frank@keep.example', 'gina@keep.example']));
  });

  it('deletes a removed user only where its domain prunes', async () => {
    await t.repo.remove('config/users/erin.yaml', 'config/users/carol.yaml');
    commits.removed = await t.repo.commit('Erin and Carol leave');
    const status = await t.watch.until('the removal applied', (s) => s.lastAppliedRevision === commits.removed);
    expect(t.james.state.users).not.toContain('erin@keep.example'); // keep.example prunes
    expect(t.james.state.users).toContain('carol@hold.example'); // hold.example does not: left alone
    expect(status.runs.find((r) => r.attemptedRevision === commits.removed)!.changes).toMatchObject({ applied: 1, failed: 0 });
  });

  it('holds back a mass deletion (the safety valve) and applies the rest', async () => {
    // keep.example has alice, bob, frank and gina; removing three is more than its 50 %.
    await t.repo.remove('config/users/alice.yaml', 'config/users/bob.yaml', 'config/users/frank.yaml');
    await t.repo.write('config/users/heidi.yaml', user('heidi@hold.example'));
    commits.mass = await t.repo.commit('Oops: three users removed');
    const status = await t.watch.until('the refusal reported', (s) => s.lastAttemptedRevision === commits.mass);
    expect(status).toMatchObject({ lastAttemptResult: 'Refused', lastAppliedRevision: commits.removed });
    expect(status.lastAttemptErrors?.join('\n')).toMatch(/would delete 3 of the 4 users of keep\.example \(more than maxUserDeletionPercent: 50%\)/);
    expect(t.james.state.users).toEqual(expect.arrayContaining(['alice@keep.example', 'bob@keep.example', 'frank@keep.example', 'heidi@hold.example']));

    await t.repo.write('config/users/alice.yaml', user('alice@keep.example'));
    await t.repo.write('config/users/bob.yaml', user('bob@keep.example', '  extraAddresses: [robert@keep.example]'));
    await t.repo.write('config/users/frank.yaml', user('frank@keep.example'));
    commits.restored = await t.repo.commit('Put them back');
    await t.watch.until('the restored commit applied', (s) => s.lastAppliedRevision === commits.restored);
  });

  it('never shows a password in the status, the endpoint, the metrics or the logs', async () => {
    const everything = [
      await readFile(t.watch.statusFile, 'utf8'),
      JSON.stringify(await t.watch.status()),
      await (await fetch(`${t.watch.url}/metrics`)).text(),
      t.watch.log(),
      await readFile(path.join(t.stateDir, 'records.json'), 'utf8'),
    ].join('\n');
    for (const password of Object.values(PASSWORDS)) expect(everything).not.toContain(password);
  });

  it('stops on SIGTERM with exit code 0, the status written, and resumes from it after a restart', async () => {
    expect(await t.watch.stop()).toBe(0);
    expect(t.watch.log()).toContain('"msg":"stopped"');
    const written = JSON.parse(await readFile(t.watch.statusFile, 'utf8')) as WatchStatus;
    expect(written.lastAppliedRevision).toBe(commits.restored);

    // The next watcher finds the clone and the status, and has nothing to change.
    const writesBefore = t.james.requestLog.filter((r) => r.method !== 'GET').length;
    t.watch = await startWatch(['--repo', t.repo.dir, '--path', 'config/', '--interval', '1s', '--state-dir', t.stateDir], secretEnv);
    const status = await t.watch.until('a run after the restart', (s) => s.runs[0]!.trigger === 'start' && s.runs[0]!.startedAt > written.runs[0]!.startedAt);
    expect(status).toMatchObject({ lastAppliedRevision: commits.restored, lastAttemptResult: 'Applied' });
    expect(t.james.requestLog.filter((r) => r.method !== 'GET').length).toBe(writesBefore);
  });
});

describe('mailops watch on a file:// URL', () => {
  // James's rename task takes 3 s here: longer than a run should ever wait.
  const t = watchedRepository('live', 3_000);
  const { commits } = t;

  beforeAll(async () => {
    await t.repo.write('mail.yaml', `${backend('james', t.james.url)}\n---\n${domain('url.example', `  ${PRUNES}`)}\n---\n${user('ivan@url.example')}`);
    commits.first = await t.repo.commit('Ivan');
    // Drift is looked for only every minute; the branch is fetched every second.
    t.watch = await startWatch(['--repo', t.repo.fileUrl, '--branch', 'live', '--interval', '1m', '--fetch-interval', '1s', '--state-dir', t.stateDir], secretEnv);
  });

  it('applies the first commit, and a second one promptly, however long the drift interval', async () => {
    await t.watch.until('the first commit applied', (s) => s.lastAppliedRevision === commits.first);
    expect(t.james.state.users).toContain('ivan@url.example');
    expect((await t.watch.status()).repository).toBe(t.repo.fileUrl);

    await t.repo.write('judy.yaml', user('judy@url.example'));
    commits.second = await t.repo.commit('Judy');
    await t.watch.until('the second commit applied', (s) => s.lastAppliedRevision === commits.second, 10_000);
    expect(t.james.state.users).toContain('judy@url.example');
  });

  it('costs the backend nothing between commits and intervals (fetches only)', async () => {
    const before = t.james.requestLog.length;
    const fetches = await t.watch.metric('mailops_watcher_fetches_total', { result: 'ok' });
    await sleep(3_500);
    expect(await t.watch.metric('mailops_watcher_fetches_total', { result: 'ok' })).toBeGreaterThanOrEqual(fetches + 2);
    expect(t.james.requestLog.length).toBe(before);
  });

  it('reconciles at once on SIGHUP (systemctl reload)', async () => {
    await new RawJames(t.james.url).ok('DELETE', '/users/ivan@url.example');
    t.watch.signal('SIGHUP');
    await t.watch.until('ivan back', (s) => s.runs[0]!.trigger === 'signal' && t.james.state.users.includes('ivan@url.example'), 10_000);
  });

  it('is suspended while the suspend file exists, and catches up when it is removed', async () => {
    const suspendFile = (await t.watch.status()).suspendFile;
    expect(suspendFile).toBe(path.join(t.stateDir, 'watch', 'suspend'));
    await writeFile(suspendFile, 'maintenance\n');
    await t.watch.until('suspended', (s) => s.suspended && s.conditions[0]!.reason === 'Suspended');
    expect(await t.watch.metric('mailops_watcher_suspended')).toBe(1);
    await t.repo.write('karl.yaml', user('karl@url.example'));
    commits.third = await t.repo.commit('Karl, while suspended');
    await sleep(2_500);
    expect(await t.watch.status()).toMatchObject({ suspended: true, lastAppliedRevision: commits.second });
    expect(t.james.state.users).not.toContain('karl@url.example');

    await rm(suspendFile);
    await t.watch.until('the commit made while suspended applied', (s) => !s.suspended && s.lastAppliedRevision === commits.third);
    expect(t.james.state.users).toContain('karl@url.example');
  });

  it('waits while another mailops holds the state directory, then applies', async () => {
    // A `mailops apply` by hand holds the lock (this test process stands in for it).
    const lock = path.join(t.stateDir, 'apply.lock');
    await writeFile(lock, `${process.pid} mailops apply\n`);
    await t.repo.write('ivan.yaml', user('ivan@url.example', '  extraAddresses: [i@url.example]', 'ivan'));
    await t.repo.write('mail.yaml', `${backend('james', t.james.url)}\n---\n${domain('url.example', `  ${PRUNES}`)}`);
    commits.fourth = await t.repo.commit('Ivan in a file of his own, with a short address');
    const locked = await t.watch.until('the run held back', (s) => s.runs[0]!.result === 'StateLocked');
    expect(locked.runs[0]!.errors[0]).toMatch(new RegExp(`another mailops apply \\(pid ${process.pid}\\) is using ${t.stateDir}`));
    expect(t.james.state.mappings['i@url.example']).toBeUndefined();

    await rm(lock);
    const applied = await t.watch.until('applied once the lock is gone', (s) => s.lastAppliedRevision === commits.fourth, 15_000);
    expect(applied.runs[0]).toMatchObject({ trigger: 'retry', result: 'Applied', appliedRevision: commits.fourth });
    expect(t.james.state.mappings['i@url.example']).toEqual([{ type: 'Alias', mapping: 'ivan@url.example' }]);
  });
  it('follows an address change’s James task every 2 s, without waiting out the interval', async () => {
    await t.repo.write('judy.yaml', user('judith@url.example', '', 'judy'));
    commits.rename = await t.repo.commit('Judy is Judith now');
    const running = await t.watch.until('the task reported', (s) => s.lastAttemptedRevision === commits.rename);
    expect(running).toMatchObject({ lastAttemptResult: 'Progressing', lastAppliedRevision: commits.fourth });
    expect(running.runs[0]!.changes.pending).toBe(1);
    const done = await t.watch.until('the move finished', (s) => s.lastAppliedRevision === commits.rename, 15_000);
    expect(done.runs[0]).toMatchObject({ trigger: 'tasks', result: 'Applied' });
    expect(t.james.state.users).toContain('judith@url.example');
    expect(t.james.state.users).not.toContain('judy@url.example');
  });
});

describe('mailops watch refuses', () => {
  it('a second watcher of the same repository and state directory', async () => {
    const repo = await TestRepository.create();
    await repo.write('mail.yaml', backend('james', 'http://127.0.0.1:9'));
    await repo.commit('A backend');
    const stateDir = await tempDir('mailops-watch-state-');
    const first = await startWatch(['--repo', repo.dir, '--interval', '1m', '--state-dir', stateDir], {});
    const second = await mailops(['watch', '--repo', repo.dir, '--state-dir', stateDir, '--listen', '0'], {});
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`mailops: another mailops watch (pid ${first.child.pid}) watches ${repo.dir} (main, .) with the state directory ${stateDir}`);
    expect(await first.stop()).toBe(0);
  });

  it('a URL with credentials in it, without printing them', async () => {
    const result = await mailops(['watch', '--repo', 'https://deploy:glpat-s3cret@git.example.org/mail.git'], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('mailops: --repo https://(credentials)@git.example.org/mail.git: credentials do not belong in the URL (they would be logged and stored); configure a git credential helper, or an ssh key, as described in the README\n');
  });
});

const realJames = inject('realJames');

describe.skipIf(realJames === null)('mailops watch against a real Apache James', () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const mailDomain = `watch-${suffix}.example`;
  let watch: WatchProcess | undefined;
  afterAll(async () => {
    await watch?.stop();
    const raw = new RawJames(realJames!.url, realJames!.token);
    for (const address of [`alice@${mailDomain}`, `bob@${mailDomain}`]) await raw.call('DELETE', `/users/${address}`);
    await raw.call('DELETE', `/domains/${mailDomain}`);
  });

  it('applies the first commit, a second one, and corrects drift', async () => {
    const repo = await TestRepository.create();
    const credentials = '  credentials:\n    tokenSecretRef: {name: james-admin, key: token}\n';
    await repo.write('backend.yaml', backend('james', realJames!.url, credentials));
    await repo.write('domain.yaml', domain(mailDomain, `  ${PRUNES}`));
    await repo.write('users/alice.yaml', user(`alice@${mailDomain}`));
    const first = await repo.commit('Alice');
    watch = await startWatch(['--repo', repo.fileUrl, '--interval', '2s', '--state-dir', await tempDir('mailops-watch-state-')], {
      ...secretEnv,
      MAILOPS_SECRET_JAMES_ADMIN_TOKEN: realJames!.token,
    });
    await watch.until('the first commit applied', (s) => s.lastAppliedRevision === first, 60_000);
    const raw = new RawJames(realJames!.url, realJames!.token);
    expect(await raw.passwordWorks(`alice@${mailDomain}`, PASSWORDS.alice!)).toBe(true);

    await repo.write('users/bob.yaml', user(`bob@${mailDomain}`));
    const second = await repo.commit('Bob');
    await watch.until('the second commit applied', (s) => s.lastAppliedRevision === second, 60_000);
    expect(await raw.users()).toContain(`bob@${mailDomain}`);

    await raw.ok('DELETE', `/users/alice@${mailDomain}`);
    await eventually('alice restored on James', async () => ((await raw.users()).includes(`alice@${mailDomain}`) ? true : undefined), 60_000);
    expect(await raw.passwordWorks(`alice@${mailDomain}`, PASSWORDS.alice!)).toBe(true);
    const everything = `${watch.log()}${JSON.stringify(await watch.status())}${await (await fetch(`${watch.url}/metrics`)).text()}`;
    expect(everything).not.toContain(realJames!.token);
  });
});
