// Scenario 3 of issue 14: a plan of users that are all in sync — what it costs in time and in backend requests,
// at two sizes side by side.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startJamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import type { RunningEmulator } from '../../src/backends/emulator/server.ts';
import { hasChanges } from '../../src/plan/index.ts';
import type { BenchContext, Scenario } from '../lib/scenario.ts';
import { metric, repeat, type Metric, type Target } from '../lib/stats.ts';
import { benchManifests, benchSecret, byRoute, jamesBackend, openSession, planAndApply, type BenchBackend } from '../lib/throughput-mailops.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const LATENCY_MS = 2;
const PLAN_GOAL_MS = 1000;
const DOMAIN = 'steady.bench.example';
const MAILSTORE_ADMIN = 'mailstore-admin';

/**
 * Users per plan. On MailStore every user costs a call whatever the size, and setting 10,000 users up there takes
 * minutes (a call per user and field): the per-user count is shown at sizes that fit the time budget.
 */
const SIZES = {
  full: { james: [1_000, 10_000], mailstore: [1_000, 2_000] },
  quick: { james: [100, 1_000], mailstore: [100, 300] },
} as const;

interface Backend {
  type: 'james' | 'mailstore';
  start(): Promise<RunningEmulator>;
  manifest(url: string): BenchBackend;
}

const BACKENDS: Backend[] = [
  { type: 'james', start: () => startJamesEmulator({}), manifest: (url) => jamesBackend({ url }) },
  {
    type: 'mailstore',
    start: () => startMailStoreEmulator({ user: 'admin', password: benchSecret(MAILSTORE_ADMIN) }),
    manifest: (url) => ({
      name: 'archive',
      type: 'mailstore',
      url,
      credentials: ['username: admin', 'passwordSecretRef:', `  name: ${MAILSTORE_ADMIN}`, '  key: password'],
      settings: ['mailstore:', '  apiForm: current', '  userName: address'],
    }),
  },
];

interface SizeResult {
  users: number;
  planMs: number[];
  cliMs: number[];
  requests: number;
  routes: Record<string, number>;
}

/**
 * Brings an emulator to `users` in-sync users (mailops applies them, at no latency, untimed), then sets the
 * latency and times plans: in-process (the configuration already loaded) and `mailops plan` end to end.
 */
async function measureSize(context: BenchContext, backend: Backend, users: number, endToEnd: boolean): Promise<SizeResult> {
  const emulator = await backend.start();
  const dir = path.join(context.tmpDir, `${backend.type}-${users}`);
  const stateDir = path.join(dir, 'state');
  const secretsDir = path.join(dir, 'secrets');
  const fingerprintKey = randomBytes(32).toString('base64');
  try {
    const yaml = benchManifests([backend.manifest(emulator.url)], { users, domain: DOMAIN, shape: 'fixture' });
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'users.yaml'), yaml);
    await writeSecrets(secretsDir, users);

    const { session } = await openSession(yaml, {}, stateDir, Buffer.from(fingerprintKey, 'utf8'));
    try {
      const setup = await planAndApply(session);
      if (setup.failures.length > 0) throw new Error(`setting up ${users} users failed: ${setup.failures[0]}`);
      // From here on every answer comes 2 ms late: a fault of kind `slow` on every request, held for the latency.
      emulator.setFaults({ failureRate: 1, failureMode: 'slow', faultDelayMs: LATENCY_MS });
      const planMs: number[] = [];
      let requests = 0;
      let routes: Record<string, number> = {};
      await repeat(context.runs, async () => {
        const before = emulator.requestLog.length;
        const started = performance.now();
        const plan = await session.plan();
        planMs.push(performance.now() - started);
        if (hasChanges(plan)) throw new Error(`${backend.type}, ${users} users: the steady-state plan has changes`);
        const sent = emulator.requestLog.slice(before);
        requests = sent.length;
        routes = byRoute(sent);
      });
      // Once, at the larger size only: starting Node.js and loading the YAML dominate it (the plan-large scenario measures those).
      const cliMs: number[] = [];
      if (endToEnd) {
        const cliStarted = performance.now();
        await mailopsPlan(dir, secretsDir, stateDir, fingerprintKey);
        cliMs.push(performance.now() - cliStarted);
      }
      context.log(`${backend.type}, ${users} users: plan ${planMs.map((ms) => ms.toFixed(0)).join(', ')} ms, ${requests} requests; mailops plan ${cliMs.map((ms) => `${ms.toFixed(0)} ms`).join('') || 'not run'}`);
      return { users, planMs, cliMs, requests, routes };
    } finally {
      await session.close();
    }
  } finally {
    await emulator.close();
  }
}

async function writeSecrets(dir: string, users: number): Promise<void> {
  const write = async (name: string) => {
    await mkdir(path.join(dir, name), { recursive: true });
    await writeFile(path.join(dir, name, 'password'), benchSecret(name));
  };
  await write(MAILSTORE_ADMIN);
  for (let i = 0; i < users; i += 100) await Promise.all(Array.from({ length: Math.min(100, users - i) }, (_, k) => write(`u${i + k}`)));
}

/** `mailops plan -f <dir> --detailed-exitcode` as a user runs it; exit 0 (no changes) or it throws. */
function mailopsPlan(dir: string, secretsDir: string, stateDir: string, fingerprintKey: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'node'), [path.join(ROOT, 'bin', 'mailops.js'), 'plan', '-f', path.join(dir, 'users.yaml'), '--secrets-dir', secretsDir, '--state-dir', stateDir, '--detailed-exitcode'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', MAILOPS_FINGERPRINT_KEY: fingerprintKey },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mailops plan exited ${code}: ${stderr}`))));
  });
}

export const steadyState: Scenario = {
  id: 'steady-state',
  title: 'Steady state: a plan with nothing to do',
  description:
    'A plan of users that are all in sync, at two sizes side by side: its wall time and the backend requests it makes, by route. ' +
    'On James, observing uses list calls, so the request count does not grow with the users; on MailStore, whose API has no list with the details, it is one call per user.',
  async run(context) {
    const sizesOf = (backend: Backend) => (context.quick ? SIZES.quick : SIZES.full)[backend.type];
    const [small, large] = sizesOf(BACKENDS[0]!);
    const metrics: Metric[] = [];
    const targets: Target[] = [];
    const details: Record<string, unknown> = {};
    for (const backend of BACKENDS) {
      const results: SizeResult[] = [];
      for (const users of sizesOf(backend)) results.push(await measureSize(context, backend, users, users === sizesOf(backend)[1]));
      for (const result of results) {
        const label = `${backend.type === 'james' ? 'James' : 'MailStore'}, ${result.users.toLocaleString('en')} users`;
        metrics.push(metric(`${backend.type}-${result.users}-plan-ms`, `${label}: plan (in-process)`, 'ms', result.planMs));
        if (result.cliMs.length > 0) metrics.push(metric(`${backend.type}-${result.users}-cli-ms`, `${label}: \`mailops plan\` end to end`, 'ms', result.cliMs));
        metrics.push(metric(`${backend.type}-${result.users}-requests`, `${label}: requests per plan`, '', [result.requests]));
        if (backend.type === 'mailstore') metrics.push(metric(`${backend.type}-${result.users}-requests-per-user`, `${label}: requests per user`, '', [result.requests / result.users]));
      }
      details[backend.type] = Object.fromEntries(results.map((r) => [r.users, { requests: r.requests, byRoute: r.routes }]));
      const [few, many] = results as [SizeResult, SizeResult];
      if (backend.type === 'james') {
        targets.push({
          goal: `Steady-state plan on James: the same request count for ${large.toLocaleString('en')} users as for ${small.toLocaleString('en')}`,
          measured: `${many.requests} and ${few.requests} requests`,
          met: many.requests === few.requests,
        });
        const planMedian = metric('plan', '', 'ms', many.planMs).median;
        targets.push({
          goal: `Steady-state plan of ${large.toLocaleString('en')} in-sync users on the James emulator: under ${PLAN_GOAL_MS / 1000} s`,
          measured: `${planMedian.toFixed(0)} ms (in-process); \`mailops plan\` end to end ${many.cliMs[0]!.toFixed(0)} ms`,
          met: planMedian < PLAN_GOAL_MS,
          note: 'the target is the plan itself; the end-to-end figure adds starting Node.js and loading the YAML (the plan-large scenario)',
        });
      }
    }
    return {
      metrics,
      targets,
      notes: [
        `Users as in the large-configuration fixture (password, display name, one extra address, a message quota; the domain has a default storage quota), all in sync: mailops applied them first (untimed), keeping its records (password fingerprints) in a state directory, so the plan checks no password with the server.`,
        `James at ${SIZES.full.james.map((n) => n.toLocaleString('en')).join(' and ')} users, MailStore at ${SIZES.full.mailstore.map((n) => n.toLocaleString('en')).join(' and ')} (a full run): MailStore's requests grow with the users (one GetUserInfo each), and setting 10,000 up there would take minutes.`,
        `Emulators in the benchmark's process (their request log gives the routes), answering every request ${LATENCY_MS} ms late once set up. MailBackend limits: concurrency 16.`,
        '"plan (in-process)": `Session.plan()` with the configuration already loaded and the secrets read — observing every backend and computing the diff, from the first request to the plan. "`mailops plan` end to end": the command in a child process with `--secrets-dir`, `--state-dir` and `--detailed-exitcode` (exit 0: nothing to do), from spawn to exit — Node.js start-up and loading the YAML included; measured once, at the larger size (the plan-large scenario measures loading).',
      ],
      details,
    };
  },
};
