// Scenario 7: a fan-out domain. N users in one domain served by James, MailStore, iRedAdmin-Pro and
// Open-Xchange emulators at once, applied to empty servers in one apply; each backend's own finish time inside
// it (when its last change ended) is compared with the same apply against that backend alone, in the same run.
// The slowest backend sets the pace of the whole; the others finish about when they would alone.
import { startEmulatorProcess, type EmulatorProcess } from '../lib/backends-emulators.ts';
import { openSession, planAndApply } from '../lib/backends-session.ts';
import type { BenchContext, Scenario } from '../lib/scenario.ts';
import { metric, repeat, type Metric, type ScenarioResult } from '../lib/stats.ts';

const LATENCY_MS = 2;
const CONCURRENCY = 16;
const BACKENDS = ['james', 'mailstore', 'iredadmin', 'openxchange'] as const;
type BackendName = (typeof BACKENDS)[number];
const LABELS: Record<BackendName, string> = { james: 'James', mailstore: 'MailStore', iredadmin: 'iRedAdmin-Pro', openxchange: 'Open-Xchange' };
/** Administrators' passwords: invented for the run, never printed. */
const SECRETS = { 'iredadmin-admin': 'bench-iredadmin', 'mailstore-admin': 'bench-mailstore', 'ox-master': 'bench-ox-master', 'ox-context-admin': 'bench-ox-context' };
/** How much slower than its share alone a backend may finish before it counts as held back (the CPU is shared). */
const HELD_BACK_RATIO = 1.5;

/** Each emulator in a process of its own, beside mailops as a real server would be. */
function startEmulator(name: BackendName): Promise<EmulatorProcess> {
  const common = ['--latency', `${LATENCY_MS}ms`];
  if (name === 'iredadmin') return startEmulatorProcess(name, [...common, '--user', 'postmaster@bench.example', '--password', SECRETS['iredadmin-admin']]);
  if (name === 'mailstore') return startEmulatorProcess(name, [...common, '--user', 'admin', '--password', SECRETS['mailstore-admin']]);
  if (name === 'openxchange') return startEmulatorProcess(name, [...common, '--user', 'oxadminmaster', '--password', SECRETS['ox-master']]);
  return startEmulatorProcess(name, common);
}

function backendManifest(name: BackendName, url: string): string {
  const head = `apiVersion: mailops.dev/v1alpha1\nkind: MailBackend\nmetadata: {name: ${name}}\nspec:\n  type: ${name}\n  url: '${url}'\n  limits: {concurrency: ${CONCURRENCY}, requestsPerSecond: 100000}\n`;
  if (name === 'iredadmin') return `${head}  credentials: {username: postmaster@bench.example, passwordSecretRef: {name: iredadmin-admin, key: password}}`;
  if (name === 'mailstore') return `${head}  credentials: {username: admin, passwordSecretRef: {name: mailstore-admin, key: password}}\n  mailstore: {apiForm: current, userName: address}`;
  if (name === 'openxchange') {
    return `${head}  credentials: {username: oxadminmaster, passwordSecretRef: {name: ox-master, key: password}}\n  openxchange:\n    contextAdmin: {username: oxadmin, passwordSecretRef: {name: ox-context-admin, key: password}}`;
  }
  return head.trimEnd();
}

function manifests(urls: Map<BackendName, string>, users: number): string {
  const names = [...urls.keys()];
  const docs = names.map((name) => backendManifest(name, urls.get(name)!));
  docs.push(`apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata: {name: bench}\nspec: {domain: bench.example, backendRefs: [${names.map((n) => `{name: ${n}}`).join(', ')}]}`);
  for (let i = 0; i < users; i++) {
    docs.push(`apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: u${i}}\nspec:\n  address: user${i}@bench.example\n  displayName: User ${i}\n  passwordSecretRef: {name: u${i}, key: password}\n  extraAddresses: [alias${i}@bench.example]`);
  }
  return docs.join('\n---\n');
}

/** One apply to fresh emulators of these backends; per backend, when its last change ended (ms from the start). */
async function applyTo(context: BenchContext, names: readonly BackendName[], users: number, label: string): Promise<{ applyMs: number; finishMs: Map<BackendName, number>; busy: number }> {
  const emulators = new Map<BackendName, EmulatorProcess>();
  try {
    for (const [i, emulator] of (await Promise.allSettled(names.map(startEmulator))).entries()) {
      if (emulator.status === 'rejected') throw emulator.reason;
      emulators.set(names[i]!, emulator.value);
    }
    const session = await openSession(context.tmpDir, label, manifests(new Map([...emulators].map(([n, e]) => [n, e.url])), users), SECRETS);
    try {
      // How busy mailops' event loop was while applying: near 1 is CPU-bound.
      let start = performance.eventLoopUtilization();
      let busy = 0;
      const applied = await planAndApply(session, label, { start: () => (start = performance.eventLoopUtilization()), stop: () => (busy = performance.eventLoopUtilization(start).utilization) }, { verify: false });
      return { applyMs: applied.applyMs, finishMs: applied.lastResultMs as Map<BackendName, number>, busy };
    } finally {
      await session.close();
    }
  } finally {
    await Promise.all([...emulators.values()].map((e) => e.stop()));
  }
}

export const fanOutScenario: Scenario = {
  id: 'fan-out',
  title: 'A fan-out domain: one domain on James, MailStore, iRedAdmin-Pro and Open-Xchange at once',
  description:
    'New users in one domain served by four backends at once, applied to empty emulators in one apply, and the same apply against each backend alone, side by side in each run. ' +
    'Timed: each backend\'s finish inside the fan-out apply (when its last change ended, from the start of apply) against its own apply time alone. ' +
    'The slowest backend sets the pace of the whole; a faster one is held back when it finishes with the slowest instead of at its own pace.',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const users = context.quick ? 1000 : 10_000;
    // Five applies of 10,000 users take minutes on this machine: a full run makes them once (see the notes).
    const runCount = context.quick ? context.runs : 1;
    const runs = await repeat(runCount, async (run) => {
      const alone = new Map<BackendName, number>();
      const aloneBusy: number[] = [];
      for (const name of BACKENDS) {
        const one = await applyTo(context, [name], users, `alone-${name}-${run}`);
        alone.set(name, one.applyMs);
        aloneBusy.push(one.busy);
      }
      const together = await applyTo(context, BACKENDS, users, `fan-out-${run}`);
      context.log(
        `run ${run + 1}: fan-out ${(together.applyMs / 1000).toFixed(1)} s; ` +
          BACKENDS.map((n) => `${LABELS[n]} ${(together.finishMs.get(n)! / 1000).toFixed(1)} s (alone ${(alone.get(n)! / 1000).toFixed(1)} s)`).join(', '),
      );
      return { alone, together, aloneBusy: Math.max(...aloneBusy) };
    });

    const median = (values: number[]) => metric('m', '', '', values).median;
    const slowest = BACKENDS.reduce((a, b) => (median(runs.map((r) => r.alone.get(a)!)) >= median(runs.map((r) => r.alone.get(b)!)) ? a : b));
    const paceRatio = runs.map((r) => r.together.applyMs / r.alone.get(slowest)!);
    const sumRatio = runs.map((r) => r.together.applyMs / [...r.alone.values()].reduce((a, b) => a + b, 0));
    const metrics: Metric[] = [metric('fanout-apply-ms', `fan-out apply of ${users} users to four backends`, 'ms', runs.map((r) => r.together.applyMs))];
    // Held back = made to wait for the slowest: a backend's finish moves towards the end of the fan-out.
    // Shared CPU slows every backend alike and keeps each one's place: its finish as a share of the
    // slowest's stays what it is alone. That share, in the fan-out against alone, is the test.
    const heldBack: string[] = [];
    const places: string[] = [];
    for (const name of BACKENDS) {
      const ratios = runs.map((r) => r.together.finishMs.get(name)! / r.alone.get(name)!);
      metrics.push(
        metric(`fanout-${name}-alone-ms`, `${LABELS[name]} alone`, 'ms', runs.map((r) => r.alone.get(name)!)),
        metric(`fanout-${name}-finish-ms`, `${LABELS[name]}'s finish inside the fan-out`, 'ms', runs.map((r) => r.together.finishMs.get(name)!)),
        metric(`fanout-${name}-ratio`, `${LABELS[name]}: finish in the fan-out ÷ alone`, 'ratio', ratios),
      );
      if (name === slowest) continue;
      const shareTogether = median(runs.map((r) => r.together.finishMs.get(name)! / r.together.applyMs));
      const shareAlone = median(runs.map((r) => r.alone.get(name)! / r.alone.get(slowest)!));
      places.push(`${LABELS[name]} ${(shareTogether * 100).toFixed(0)} % (alone ${(shareAlone * 100).toFixed(0)} %)`);
      if (shareTogether > Math.min(0.95, shareAlone * HELD_BACK_RATIO)) heldBack.push(LABELS[name]);
    }
    metrics.push(
      metric('fanout-pace-ratio', `fan-out apply ÷ ${LABELS[slowest]} (the slowest) alone`, 'ratio', paceRatio),
      metric('fanout-sum-ratio', 'fan-out apply ÷ the four applies alone one after the other', 'ratio', sumRatio),
      metric('fanout-event-loop-busy', "mailops' event loop busy during the fan-out apply", '%', runs.map((r) => r.together.busy * 100)),
      metric('fanout-event-loop-busy-alone', "mailops' event loop busy during the busiest apply alone", '%', runs.map((r) => r.aloneBusy * 100)),
    );
    const busy = median(runs.map((r) => r.together.busy));
    return {
      metrics,
      targets: [
        {
          goal: 'the slowest backend sets the pace',
          measured: `fan-out ${(median(runs.map((r) => r.together.applyMs)) / 1000).toFixed(1)} s = ${median(paceRatio).toFixed(2)}× ${LABELS[slowest]} alone (the slowest), ${median(sumRatio).toFixed(2)}× the four alone one after the other`,
          met: median(paceRatio) <= HELD_BACK_RATIO,
          note:
            `Met when the fan-out takes at most ${HELD_BACK_RATIO}× the slowest backend alone. mailops' event loop was busy ${(busy * 100).toFixed(0)} % of the fan-out apply, and the four emulators run beside it on the same 2 cores: ` +
            'work real servers do on machines of their own competes here with mailops for the CPU, which makes the fan-out slower than its slowest part alone.',
        },
        {
          goal: 'the other backends are not held back by the slowest',
          measured: `finish as a share of the whole: ${places.join(', ')}`,
          met: heldBack.length === 0,
          note:
            `A backend held back would finish with the slowest (near 100 %). Met when each one's share of the fan-out is at most ${HELD_BACK_RATIO}× its share alone (its time alone ÷ the slowest's alone)` +
            (heldBack.length > 0 ? `; missed by ${heldBack.join(', ')}.` : '.'),
        },
      ],
      notes: [
        `${users} new users (address, display name, password, one extra address) in one domain; each backend limits.concurrency ${CONCURRENCY}; every emulator adds ${LATENCY_MS} ms per request and runs in a process of its own (\`mailops emulate\`). ${runCount} run(s): a full run measures the 10,000-user applies once, to stay within the time the whole benchmark may take.`,
        'A backend\'s finish is when its last change ended, measured from the start of apply; "alone" is the same apply with the domain served by that backend only, on fresh emulators in the same run. The plans before the applies are not timed; every change is checked to have been applied.',
        'MailStore reads each user before writing it (GetUserInfo), Open-Xchange works per context and user, iRedAdmin-Pro and James per object: their times alone differ by their protocols.',
      ],
      details: { runs: runs.map((r) => ({ applyMs: r.together.applyMs, finishMs: Object.fromEntries(r.together.finishMs), aloneMs: Object.fromEntries(r.alone) })), slowest },
    };
  },
};
