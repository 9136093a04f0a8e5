// `mailops watch` under faults: a commit lands while the backend fails 20 % of its requests. The watcher must
// report the failed attempt at its status endpoint, try again, converge, and create nothing twice. The backend is
// iRedAdmin-Pro, whose creates are POSTs that must never be sent blindly twice; one request at a time, so that the
// seed fixes the whole sequence of faults.
import { afterAll, expect, it } from 'vitest';
import type { IRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { tempDir } from '../support/cli.ts';
import { domain } from '../support/manifests.ts';
import { startWatch, TestRepository } from '../support/watch.ts';
import { configured, DOMAIN, faultsByKind, iredadmin, mixedFaults, referenceState, SECRET_ENV, USERS } from './support.ts';
import { recordFaults, reportFaults } from './tally.ts';

let emulator: IRedAdminEmulator | undefined;
afterAll(async () => {
  reportFaults('watch');
  await emulator?.close();
});

it('applies a commit while the backend fails 20 % of its requests: the status shows the failure, then the success, and nothing is created twice', async () => {
  const reference = await referenceState(iredadmin);
  emulator = await iredadmin.start();
  const server = iredadmin.backendManifest(emulator.url, 'server').replace('concurrency: 2', 'concurrency: 1');
  const repo = await TestRepository.create();
  await repo.write('config/backend.yaml', server);
  await repo.write('config/domain.yaml', domain(DOMAIN, '  displayName: Faults Inc\n', ['server']));
  const first = await repo.commit('The domain');
  const watch = await startWatch(['--repo', repo.dir, '--path', 'config/', '--interval', '1s', '--state-dir', await tempDir('mailops-faults-watch-state-')], SECRET_ENV);
  try {
    await watch.until('the domain applied', (s) => s.lastAppliedRevision === first);

    emulator.setFaults({ ...mixedFaults(8), faultDelayMs: 30_000 });
    await repo.write('config/users.yaml', iredadmin.objects(['server']).slice(1).join('\n---\n'));
    const second = await repo.commit('The users and the team alias');

    const failed = await watch.until('a failed attempt at the new commit', (s) => s.lastAttemptedRevision === second && s.lastAttemptResult === 'Failed', 60_000);
    expect(failed.lastAppliedRevision).toBe(first);
    expect(failed.runs[0]!.errors.join('\n')).toMatch(/server/);
    const converged = await watch.until('the new commit applied', (s) => s.lastAppliedRevision === second, 120_000);
    expect(converged.conditions[0]).toMatchObject({ type: 'Ready', status: 'True' });
    // The history shows it: failed runs of the commit, then the run that applied it.
    const ofSecond = converged.runs.filter((run) => run.attemptedRevision === second || run.appliedRevision === second || run.fetchedRevision === second);
    expect(ofSecond[0]!.result).toBe('Applied');
    expect(ofSecond.some((run) => run.result === 'Failed')).toBe(true);
  } finally {
    recordFaults('iredadmin: watch applying a commit under 20 % mixed faults', faultsByKind(emulator));
    await watch.stop();
  }

  emulator.setFaults({});
  const plan = await (await configured(iredadmin, emulator)).run('plan', '--detailed-exitcode');
  expect(plan.code, plan.stdout + plan.stderr).toBe(0);
  expect(iredadmin.state(emulator)).toEqual(reference);
  expect(await iredadmin.passwordsWork(emulator)).toBe(true);
  expect(iredadmin.creations(emulator)).toHaveLength(USERS.length);
  expect(emulator.stats.faultsInjected).toBeGreaterThan(0);
});
