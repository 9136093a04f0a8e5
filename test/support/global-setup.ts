// vitest globalSetup: one real Apache James for the whole run, handed to tests as inject('realJames'),
// and the kube-apiserver/etcd binaries the controller tests start (built once, cached by version),
// both prepared at the same time.
// MAILOPS_SKIP_REAL_JAMES=1 / MAILOPS_SKIP_REAL_KUBE=1 skip them (the tests that need them then skip
// visibly). Without those variables a failure fails the run: the suite must not pass without the
// real servers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRealJames } from './real-james.ts';
import { ensureKubeBinaries } from './real-kube.ts';

async function kubeBinaries(): Promise<boolean> {
  if (process.env.MAILOPS_SKIP_REAL_KUBE === '1') {
    console.warn('[mailops] MAILOPS_SKIP_REAL_KUBE=1: no real kube-apiserver; the controller tests will be skipped');
    return false;
  }
  const started = Date.now();
  try {
    const dir = await ensureKubeBinaries();
    console.info(`[mailops] kube-apiserver and etcd in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (err) {
    throw new Error(`[mailops] could not build kube-apiserver and etcd (set MAILOPS_SKIP_REAL_KUBE=1 to skip the controller tests): ${(err as Error).message}`, { cause: err });
  }
}

async function realJames(): Promise<Awaited<ReturnType<typeof startRealJames>> | null> {
  if (process.env.MAILOPS_SKIP_REAL_JAMES === '1') {
    console.warn('[mailops] MAILOPS_SKIP_REAL_JAMES=1: no real Apache James; tests against it will be skipped');
    return null;
  }
  const started = Date.now();
  let james;
  try {
    james = await startRealJames({ jwt: true });
  } catch (err) {
    throw new Error(
      `[mailops] could not start the real Apache James for the test suite (set MAILOPS_SKIP_REAL_JAMES=1 to skip ` +
        `the tests that need it): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (james.token === undefined) throw new Error('[mailops] real Apache James started without a JWT');
  console.info(`[mailops] real Apache James at ${james.url} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return james;
}

/**
 * Everything the run puts in the temporary directory (state directories, fixtures, CLI runs, the
 * servers' working directories) goes into one directory of its own, removed at the end: the test
 * workers and every process they start inherit TMPDIR, and os.tmpdir() reads it.
 */
function runTemporaryDirectory(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'mailops-test-run-'));
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const removeTemporary = runTemporaryDirectory();
  const [james, kube] = await Promise.allSettled([realJames(), kubeBinaries()]);
  if (james.status === 'rejected' || kube.status === 'rejected') {
    if (james.status === 'fulfilled') await james.value?.stop();
    removeTemporary();
    throw james.status === 'rejected' ? james.reason : (kube as PromiseRejectedResult).reason;
  }
  project.provide('realJames', james.value ? { url: james.value.url, token: james.value.token! } : null);
  project.provide('realKube', kube.value);
  return async () => {
    await james.value?.stop();
    removeTemporary();
  };
}
