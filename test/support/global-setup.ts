// vitest globalSetup: one real Apache James for the whole run, handed to tests as inject('realJames'),
// and the kube-apiserver/etcd binaries the controller tests start (built once, cached by version),
// both prepared at the same time.
// MAILOPS_SKIP_REAL_JAMES=1 / MAILOPS_SKIP_REAL_KUBE=1 skip them (the tests that need them then skip
// visibly). Without those variables a failure fails the run: the suite must not pass without the
// real servers.
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

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const [james, kube] = await Promise.allSettled([realJames(), kubeBinaries()]);
  if (james.status === 'rejected') throw james.reason;
  if (kube.status === 'rejected') {
    await james.value?.stop();
    throw kube.reason;
  }
  project.provide('realJames', james.value ? { url: james.value.url, token: james.value.token! } : null);
  project.provide('realKube', kube.value);
  return james.value ? () => james.value!.stop() : undefined;
}
