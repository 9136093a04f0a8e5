// vitest globalSetup: one real Apache James for the whole run, handed to tests as inject('realJames').
// MAILOPS_SKIP_REAL_JAMES=1 starts nothing and provides null (tests that need it then skip visibly).
// Without that variable a failed start fails the run: the suite must not pass without the real server.

import type { TestProject } from 'vitest/node';
import { startRealJames } from './real-james.ts';

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.MAILOPS_SKIP_REAL_JAMES === '1') {
    console.warn('[mailops] MAILOPS_SKIP_REAL_JAMES=1: no real Apache James; tests against it will be skipped');
    project.provide('realJames', null);
    return undefined;
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
  project.provide('realJames', { url: james.url, token: james.token });
  return () => james.stop();
}
