// Scenario 4 of issue 14: "the naive way" — what people write today instead of mailops: a loop that checks and
// then writes each user, one after the other (a shell loop over curl, an Ansible `uri` loop), against the same
// emulator, side by side with mailops.
import path from 'node:path';
import { Client } from 'undici';
import type { BenchContext, Scenario } from '../lib/scenario.ts';
import { metric, repeat, type Metric, type Target } from '../lib/stats.ts';
import { startEmulatorProcess, type EmulatorProcess } from '../lib/emulator-process.ts';
import { assertInSync, changesLeft, CONCURRENCY, freshDomain, jamesContents, jamesManifests, openSession, planAndApply, userAddress, userPassword } from '../lib/throughput-mailops.ts';

/** Users per latency for the initial apply: the naive loop pays every round trip in turn, so fewer where they are long. */
const APPLY_SIZES = {
  full: [
    { latencyMs: 0, users: 2_000 },
    { latencyMs: 2, users: 400 },
    { latencyMs: 10, users: 120 },
  ],
  quick: [
    { latencyMs: 0, users: 300 },
    { latencyMs: 2, users: 100 },
    { latencyMs: 10, users: 40 },
  ],
};
const STEADY = { latencyMs: 2, full: 10_000, quick: 1_000 };
const STEADY_GOAL = 20;

/**
 * The naive loop's client: one request at a time over undici, which keeps the connection for the writes but, like
 * curl started once per request, connects anew after every HEAD (undici closes a connection after a HEAD answer).
 */
class NaiveLoop {
  readonly #client: Client;
  constructor(url: string) {
    this.#client = new Client(url, { keepAliveTimeout: 30_000 });
  }

  async #send(method: 'HEAD' | 'PUT', requestPath: string, expected: number[], body?: string): Promise<number> {
    const response = await this.#client.request({ method, path: requestPath, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
    await response.body.dump();
    if (!expected.includes(response.statusCode)) throw new Error(`naive loop: ${method} ${requestPath}: HTTP ${response.statusCode}`);
    return response.statusCode;
  }

  /** `PUT /domains/d`, then per user: does it exist (HEAD /users/u)? If not, create it with its password (PUT). */
  async apply(domain: string, users: number): Promise<void> {
    await this.#send('PUT', `/domains/${domain}`, [204]);
    for (let i = 0; i < users; i++) {
      const address = userAddress(i, domain);
      if ((await this.#send('HEAD', `/users/${address}`, [200, 404])) === 404) {
        await this.#send('PUT', `/users/${address}`, [204], JSON.stringify({ password: userPassword(i) }));
      }
    }
  }

  /** The steady-state check: one HEAD per user, and nothing to write when all exist. */
  async check(domain: string, users: number): Promise<void> {
    for (let i = 0; i < users; i++) await this.#send('HEAD', `/users/${userAddress(i, domain)}`, [200]);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/** Runs the naive loop on a connection of its own; its time, from the first request to the last answer. */
async function timedLoop(url: string, work: (loop: NaiveLoop) => Promise<void>): Promise<number> {
  const loop = new NaiveLoop(url);
  try {
    const started = performance.now();
    await work(loop);
    return performance.now() - started;
  } finally {
    await loop.close();
  }
}

interface ApplyPair {
  mailopsMs: number;
  naiveMs: number;
  speedup: number;
}

/** On one emulator, mailops and the naive loop each create `users` users in a domain of their own (timed). */
async function applyPair(context: BenchContext, emulator: EmulatorProcess, users: number): Promise<ApplyPair> {
  const domain = freshDomain('mailops');
  const { session } = await openSession(jamesManifests({ url: emulator.url }, { users, domain, shape: 'password' }), {}, path.join(context.tmpDir, domain));
  let mailopsMs: number;
  try {
    const applied = await planAndApply(session);
    if (applied.failures.length > 0) throw new Error(`mailops: ${applied.failures[0]}`);
    mailopsMs = applied.ms;
    await assertInSync(session);
  } finally {
    await session.close();
  }

  const naiveDomain = freshDomain('naive');
  const naiveMs = await timedLoop(emulator.url, (loop) => loop.apply(naiveDomain, users));
  const held = await jamesContents({ url: emulator.url }, naiveDomain);
  if (held.users !== users) throw new Error(`the naive loop left ${held.users} of ${users} users`);
  return { mailopsMs, naiveMs, speedup: naiveMs / mailopsMs };
}

function speedupMetric(id: string, label: string, pairs: { speedup: number }[]): Metric {
  return metric(id, label, 'ratio', pairs.map((p) => p.speedup));
}

export const naive: Scenario = {
  id: 'naive',
  title: 'The naive way: a sequential check-and-write loop',
  description:
    'What people write today instead: one check and one write per user, one user after the other (the shape of a shell loop over curl or an Ansible `uri` loop), ' +
    'implemented in the benchmark against the same James emulator, side by side with mailops, for the initial apply at several latencies and for a steady-state check.',
  async run(context) {
    const applySizes = context.quick ? APPLY_SIZES.quick : APPLY_SIZES.full;
    const steadyUsers = context.quick ? STEADY.quick : STEADY.full;
    const metrics: Metric[] = [];
    const targets: Target[] = [];
    const details: Record<string, unknown> = {};

    const slowerSomewhere: string[] = [];
    for (const { latencyMs, users } of applySizes) {
      const pairs = await repeat(context.runs, async () => {
        const emulator = await startEmulatorProcess('james', ['--latency', `${latencyMs}ms`]);
        try {
          return await applyPair(context, emulator, users);
        } finally {
          await emulator.stop();
        }
      });
      context.log(`apply, ${latencyMs} ms, ${users} users: mailops ${pairs.map((p) => p.mailopsMs.toFixed(0)).join(', ')} ms; naive ${pairs.map((p) => p.naiveMs.toFixed(0)).join(', ')} ms`);
      const label = `Initial apply, ${users.toLocaleString('en')} users, ${latencyMs} ms latency`;
      metrics.push(metric(`apply-${latencyMs}ms-mailops-ms`, `${label}: mailops`, 'ms', pairs.map((p) => p.mailopsMs)));
      metrics.push(metric(`apply-${latencyMs}ms-naive-ms`, `${label}: the naive loop`, 'ms', pairs.map((p) => p.naiveMs)));
      const speedup = speedupMetric(`apply-${latencyMs}ms-speedup`, `${label}: naive time ÷ mailops time`, pairs);
      metrics.push(speedup);
      if (!(speedup.median > 1)) slowerSomewhere.push(`${latencyMs} ms (${speedup.median.toFixed(2)}×)`);
      details[`apply-${latencyMs}ms`] = { users, pairs };
    }
    targets.push({
      goal: 'Initial apply: faster than the naive sequential loop at every latency',
      measured: applySizes.map(({ latencyMs }) => `${latencyMs} ms: ${metrics.find((m) => m.id === `apply-${latencyMs}ms-speedup`)!.median.toFixed(1)}×`).join('; '),
      met: slowerSomewhere.length === 0,
      ...(slowerSomewhere.length > 0 ? { note: `not faster at ${slowerSomewhere.join(', ')}` } : {}),
    });

    // Steady state: one emulator holding the users, set up once by mailops (untimed); then, run by run, mailops'
    // plan and the naive loop's check of the same users.
    const emulator = await startEmulatorProcess('james', ['--latency', `${STEADY.latencyMs}ms`]);
    try {
      const domain = freshDomain('steady');
      const { session } = await openSession(jamesManifests({ url: emulator.url }, { users: steadyUsers, domain, shape: 'password' }), {}, path.join(context.tmpDir, domain));
      try {
        const setup = await planAndApply(session);
        if (setup.failures.length > 0) throw new Error(`setting up: ${setup.failures[0]}`);
        const pairs = await repeat(context.runs, async () => {
          const started = performance.now();
          const left = await changesLeft(session);
          const mailopsMs = performance.now() - started;
          if (left > 0) throw new Error(`the steady-state plan has ${left} changes`);
          const naiveMs = await timedLoop(emulator.url, (loop) => loop.check(domain, steadyUsers));
          return { mailopsMs, naiveMs, speedup: naiveMs / mailopsMs };
        });
        context.log(`steady state, ${steadyUsers} users: mailops ${pairs.map((p) => p.mailopsMs.toFixed(0)).join(', ')} ms; naive ${pairs.map((p) => p.naiveMs.toFixed(0)).join(', ')} ms`);
        const label = `Steady-state check, ${steadyUsers.toLocaleString('en')} users, ${STEADY.latencyMs} ms latency`;
        metrics.push(metric('steady-mailops-ms', `${label}: mailops plan`, 'ms', pairs.map((p) => p.mailopsMs)));
        metrics.push(metric('steady-naive-ms', `${label}: the naive loop`, 'ms', pairs.map((p) => p.naiveMs)));
        const speedup = speedupMetric('steady-speedup', `${label}: naive time ÷ mailops time`, pairs);
        metrics.push(speedup);
        targets.push({
          goal: `Steady-state check of ${steadyUsers.toLocaleString('en')} users: at least ${STEADY_GOAL}× faster than the naive loop`,
          measured: `${speedup.median.toFixed(0)}× (runs: ${speedup.samples.map((s) => s.toFixed(0)).join(', ')}×)`,
          met: speedup.median >= STEADY_GOAL,
        });
        details.steady = { users: steadyUsers, latencyMs: STEADY.latencyMs, pairs };
      } finally {
        await session.close();
      }
    } finally {
      await emulator.stop();
    }

    return {
      metrics,
      targets,
      notes: [
        `Both do the same work for the same result: users with a password in a new domain (the manifests set nothing else). The naive loop: \`PUT /domains/d\`, then per user \`HEAD /users/u\` and, when it is missing (404), \`PUT /users/u {"password": …}\`. mailops: observe (a few list calls), plan, \`PUT /domains/d\`, one \`PUT /users/u\` per user, up to ${CONCURRENCY} at once (MailBackend limits.concurrency).`,
        'The naive loop runs in the benchmark\'s process over undici: its writes reuse one keep-alive connection, its HEADs connect anew each time (undici closes a connection after a HEAD answer), as curl started once per request does. A shell loop also starts a process per request, and Ansible a task per item: real ones are slower.',
        `Sizes: the naive loop pays every round trip in turn, so the initial apply is measured at ${APPLY_SIZES.full.map((a) => `${a.users.toLocaleString('en')} users at ${a.latencyMs} ms`).join(', ')} (a full run), which keeps the scenario within its time budget; mailops' fixed cost (observing, planning) weighs less the more users there are, so its advantage grows with the size.`,
        `Timed: mailops from its first observing request to the last answer of the apply (Session API, configuration already loaded); the naive loop from its first request to its last answer. Each latency gets a fresh emulator (\`mailops emulate james --latency …\`, a process of its own) per run; mailops and the loop each write a domain of their own on it.`,
        `Steady state: ${steadyUsers.toLocaleString('en')} users that exist (mailops created them, untimed, and keeps its records): mailops' plan (observe + diff, no changes) against the naive loop's one HEAD per user. The loop cannot tell whether a password is right, and never writes; mailops knows from its records. A loop that set every password again (\`PUT ?force\`) would be twice as slow.`,
      ],
      details,
    };
  },
};
