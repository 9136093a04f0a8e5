// Scenario 6: asynchronous calls. The same apply of N users to an empty MailStore emulator twice in each run:
// once with every call instant, once with every call long-running (50 ms with progress steps, answered with
// a status token at once and waited out with long polls of get-status). Waiting on tasks is concurrent when
// the slow apply takes a small fraction of N × calls × 50 ms; it does not starve ordinary requests when a
// probe's quick request is answered as fast during the slow apply as during the instant one.
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startMailStoreEmulator, type MailStoreEmulator, type SlowFunction } from '../../src/backends/mailstore/emulator.ts';
import { API_FUNCTIONS } from '../../src/backends/mailstore/emulator/functions.ts';
import { openSession, planAndApply } from '../lib/backends-session.ts';
import type { BenchContext, Scenario } from '../lib/scenario.ts';
import { metric, repeat, type ScenarioResult } from '../lib/stats.ts';

const TASK_MS = 50;
const CONCURRENCY = 16;
/** The probe's own call stays quick: it stands for the ordinary requests of anything else. */
const PROBE_FUNCTION = 'GetServerInfo';
const PROBE_EVERY_MS = 20;
const ADMIN_PASSWORD = 'bench-admin';

function manifests(url: string, users: number): string {
  const docs = [
    `apiVersion: mailops.dev/v1alpha1\nkind: MailBackend\nmetadata: {name: archive}\nspec:\n  type: mailstore\n  url: '${url}'\n  credentials: {username: admin, passwordSecretRef: {name: mailstore-admin, key: password}}\n  limits: {concurrency: ${CONCURRENCY}, requestsPerSecond: 100000, taskTimeoutSeconds: 600}\n  mailstore: {apiForm: current, userName: address}`,
    `apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata: {name: bench}\nspec: {domain: bench.example, backendRefs: [{name: archive}]}`,
  ];
  for (let i = 0; i < users; i++) {
    docs.push(`apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: u${i}}\nspec:\n  address: user${i}@bench.example\n  displayName: User ${i}\n  passwordSecretRef: {name: u${i}, key: password}\n  extraAddresses: [alias${i}@bench.example]`);
  }
  return docs.join('\n---\n');
}

interface ApplyFigures {
  applyMs: number;
  /** Calls that did work on the server (a write, or a read the adapter made while applying). */
  calls: number;
  tasks: number;
  peakTasksRunning: number;
  meanTasksRunning: number;
  /** The probe's answer times while the apply ran. */
  probeMs: number[];
  requests: number;
}

/** Applies N users to a fresh emulator while a probe sends a quick call every PROBE_EVERY_MS and the running tasks are counted. */
async function measuredApply(context: BenchContext, users: number, slow: boolean, label: string): Promise<ApplyFigures> {
  const slowness: Record<string, SlowFunction> = {};
  if (slow) for (const fn of Object.keys(API_FUNCTIONS)) if (fn !== PROBE_FUNCTION) slowness[fn] = { durationMs: TASK_MS, steps: 4 };
  // invokeWaitMs 0: the server answers every slow call `running` with a token at once.
  const emulator: MailStoreEmulator = await startMailStoreEmulator({ password: ADMIN_PASSWORD, slow: slowness, invokeWaitMs: 0, statusRetentionMs: 60_000 });
  const session = await openSession(context.tmpDir, label, manifests(emulator.url, users), { 'mailstore-admin': ADMIN_PASSWORD });
  const authorization = `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}`;
  try {
    let running = false;
    let probe: Promise<void> = Promise.resolve();
    const probeMs: number[] = [];
    // Tasks outstanding on the server (started, not ended), as its own status table has them.
    const tasks = { peak: 0, sum: 0, samples: 0 };
    let sampler: NodeJS.Timeout | undefined;
    const window = { calls: 0, tasks: 0 };
    const applied = await planAndApply(session, label, {
      start: () => {
        window.calls = emulator.requestLog.length;
        window.tasks = emulator.calls.length;
        running = true;
        probe = (async () => {
          while (running) {
            const sent = performance.now();
            const answer = await request(`${emulator.url}/api/invoke/${PROBE_FUNCTION}`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
            await answer.body.dump();
            probeMs.push(performance.now() - sent);
            await sleep(PROBE_EVERY_MS);
          }
        })();
        sampler = setInterval(() => {
          const inFlight = slow ? emulator.calls.filter((c) => c.statusCode === 'running').length : 0;
          tasks.peak = Math.max(tasks.peak, inFlight);
          tasks.sum += inFlight;
          tasks.samples++;
        }, 10);
      },
      stop: () => {
        window.calls = emulator.requestLog.slice(window.calls).filter((r) => r.path.startsWith('/api/invoke/') && !r.path.endsWith(PROBE_FUNCTION)).length;
        window.tasks = emulator.calls.length - window.tasks;
        running = false;
        clearInterval(sampler);
      },
      // Every change applied is checked either way; observing again with every call slow would cost as much as the apply.
    }, { verify: !slow });
    await probe;
    return {
      applyMs: applied.applyMs,
      calls: window.calls,
      tasks: slow ? window.tasks : 0,
      peakTasksRunning: tasks.peak,
      meanTasksRunning: tasks.samples ? tasks.sum / tasks.samples : 0,
      probeMs,
      requests: [...applied.report.requests.values()].reduce((a, b) => a + b, 0),
    };
  } finally {
    await session.close();
    await emulator.close();
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? 0;
};

export const asyncTasksScenario: Scenario = {
  id: 'async-tasks',
  title: 'Asynchronous calls: an apply on MailStore when every call is long-running',
  description:
    'The same apply of new users to an empty MailStore emulator, once with instant calls and once with every call long-running ' +
    `(${TASK_MS} ms with 4 progress steps; the server answers each call \`running\` with a token at once, and mailops long-polls get-status). ` +
    'Timed: the apply alone (the plan before it is not). The serial bound is what waiting on one task after the other would cost: calls × 50 ms. ' +
    `Beside it, a probe sends a quick ${PROBE_FUNCTION} every ${PROBE_EVERY_MS} ms: its answer time shows whether ordinary requests get through while tasks are waited on.`,
  async run(context: BenchContext): Promise<ScenarioResult> {
    const users = context.quick ? 200 : 1000;
    const runs = await repeat(context.runs, async (run) => {
      const instant = await measuredApply(context, users, false, `instant-${run}`);
      const slow = await measuredApply(context, users, true, `slow-${run}`);
      const serialMs = slow.tasks * TASK_MS;
      context.log(
        `run ${run + 1}: instant ${(instant.applyMs / 1000).toFixed(1)} s, long-running ${(slow.applyMs / 1000).toFixed(1)} s for ${slow.tasks} tasks ` +
          `(serial: ${(serialMs / 1000).toFixed(0)} s; up to ${slow.peakTasksRunning} running at once); probe p95 ${percentile(instant.probeMs, 0.95).toFixed(1)} → ${percentile(slow.probeMs, 0.95).toFixed(1)} ms`,
      );
      return { instant, slow, serialMs };
    });
    const speedup = runs.map((r) => r.serialMs / r.slow.applyMs);
    const probeRatio = runs.map((r) => percentile(r.slow.probeMs, 0.95) / Math.max(0.1, percentile(r.instant.probeMs, 0.95)));
    const speedupMedian = metric('s', '', '', speedup).median;
    const probeMedian = metric('p', '', '', probeRatio).median;
    const slowP95 = metric('p', '', '', runs.map((r) => percentile(r.slow.probeMs, 0.95))).median;
    return {
      metrics: [
        metric('async-apply-instant-ms', `apply of ${users} users, instant calls`, 'ms', runs.map((r) => r.instant.applyMs)),
        metric('async-apply-tasks-ms', `apply of ${users} users, every call a ${TASK_MS} ms task`, 'ms', runs.map((r) => r.slow.applyMs)),
        metric('async-tasks', 'tasks started by the apply', '', runs.map((r) => r.slow.tasks)),
        metric('async-serial-bound-ms', `the same tasks waited on one after the other (tasks × ${TASK_MS} ms)`, 'ms', runs.map((r) => r.serialMs)),
        metric('async-speedup-vs-serial', 'serial bound ÷ measured apply', 'ratio', speedup),
        metric('async-peak-tasks-running', 'tasks outstanding on the server at once (peak, sampled every 10 ms)', '', runs.map((r) => r.slow.peakTasksRunning)),
        metric('async-mean-tasks-running', 'tasks outstanding on the server at once (mean over the apply)', '', runs.map((r) => r.slow.meanTasksRunning)),
        metric('async-requests-per-task', 'HTTP requests per task (the call, its long polls)', '', runs.map((r) => r.slow.requests / Math.max(1, r.slow.tasks))),
        metric('async-probe-p50-instant-ms', 'probe answer time during the instant apply, median', 'ms', runs.map((r) => percentile(r.instant.probeMs, 0.5))),
        metric('async-probe-p50-tasks-ms', 'probe answer time during the long-running apply, median', 'ms', runs.map((r) => percentile(r.slow.probeMs, 0.5))),
        metric('async-probe-p95-instant-ms', 'probe answer time during the instant apply, 95th percentile', 'ms', runs.map((r) => percentile(r.instant.probeMs, 0.95))),
        metric('async-probe-p95-tasks-ms', 'probe answer time during the long-running apply, 95th percentile', 'ms', runs.map((r) => percentile(r.slow.probeMs, 0.95))),
      ],
      targets: [
        {
          goal: 'waiting on tasks is concurrent, not serial',
          measured: `${speedupMedian.toFixed(1)}× faster than the serial bound, up to ${metric('p', '', '', runs.map((r) => r.slow.peakTasksRunning)).median} tasks running at once`,
          // Concurrency 16: anything under a quarter of it would mean the waits are mostly serial.
          met: speedupMedian >= CONCURRENCY / 4,
        },
        {
          goal: 'waiting on tasks does not starve ordinary requests',
          measured: `probe p95 ${slowP95.toFixed(1)} ms during the long-running apply, ${probeMedian.toFixed(2)}× that during the instant apply`,
          // Starved would be waiting behind tasks (50 ms each, queued): several times slower, not a few ms.
          met: probeMedian <= 2 || slowP95 < 10,
          note: 'Met when the probe\'s p95 during the long-running apply is at most twice that during the instant one (or under 10 ms). The probe is a separate HTTP client; mailops, the emulator and the probe share one Node.js process and the machine\'s 2 cores, so the probe also shows CPU contention.',
        },
      ],
      notes: [
        `${users} new users (address, display name, password, one extra address) in one domain served by MailStore only; limits.concurrency ${CONCURRENCY}; no added network latency.`,
        `Long-running: every API function but the probe's ${PROBE_FUNCTION} takes ${TASK_MS} ms in 4 progress steps; invoke answers \`running\` with a token at once, and mailops waits each out with get-status long polls in the client's long-poll lane.`,
        'Tasks running at once are counted in the server\'s status table every 10 ms.',
      ],
      details: { runs: runs.map((r) => ({ instantMs: r.instant.applyMs, tasksMs: r.slow.applyMs, tasks: r.slow.tasks, calls: r.slow.calls, serialMs: r.serialMs, probesDuringTasks: r.slow.probeMs.length })) },
    };
  },
};
