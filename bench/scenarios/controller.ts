// Scenario 5: the Kubernetes controller. A real kube-apiserver and etcd (test/support/kube-cluster.ts), the
// controller as a process under its ServiceAccount, the James emulator in this process. Per run, a fresh
// namespace and domain: its MailBackend, MailDomain and the users' Secrets first, then `kubectl apply` of the
// MailUsers, timed until every one of them is Ready=True. Then, once, an idle resync over everything.
import { setTimeout as sleep } from 'node:timers/promises';
import { startJamesEmulator } from '../../src/backends/james/emulator.ts';
import { API_WRITE_CONCURRENCY } from '../../src/controller/reconciler.ts';
import { eventually, startTestCluster, type ControllerProcess, type TestCluster } from '../../test/support/kube-cluster.ts';
import type { AuditEvent } from '../../test/support/real-kube.ts';
import type { BenchContext, Scenario } from '../lib/scenario.ts';
import { metric, repeat, type ScenarioResult } from '../lib/stats.ts';

const READY_TARGET_MS = 30_000;
const RESYNC_SECONDS = 5;
const CONTROLLER_ACCOUNT = 'system:serviceaccount:mailops-system:mailops-controller';

function prerequisites(namespace: string, domain: string, url: string, users: number): string {
  const docs = [
    `apiVersion: mailops.dev/v1alpha1\nkind: MailBackend\nmetadata: {name: james, namespace: ${namespace}}\nspec: {type: james, url: '${url}', limits: {concurrency: 16, requestsPerSecond: 100000}}`,
    `apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata: {name: bench, namespace: ${namespace}}\nspec: {domain: ${domain}, backendRefs: [{name: james}]}`,
  ];
  for (let i = 0; i < users; i++) docs.push(`apiVersion: v1\nkind: Secret\nmetadata: {name: u${i}, namespace: ${namespace}}\nstringData: {password: pw-${i}}`);
  return docs.join('\n---\n');
}

function mailUsers(namespace: string, domain: string, users: number): string {
  const docs: string[] = [];
  for (let i = 0; i < users; i++) {
    docs.push(
      `apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: u${i}, namespace: ${namespace}}\nspec:\n  address: user${i}@${domain}\n  passwordSecretRef: {name: u${i}, key: password}\n  extraAddresses: [alias${i}@${domain}]`,
    );
  }
  return docs.join('\n---\n');
}

/** The controller's writes to the API server (its audit log), by what they wrote; lease renewals apart. */
function writesBy(events: readonly AuditEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.user.username !== CONTROLLER_ACCOUNT || !['create', 'update', 'patch', 'delete'].includes(e.verb)) continue;
    const what = `${e.verb} ${e.objectRef?.resource ?? '?'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
    counts.set(what, (counts.get(what) ?? 0) + 1);
  }
  return counts;
}

const total = (counts: Map<string, number>, skip = 'leases') => [...counts].filter(([what]) => !what.includes(skip)).reduce((n, [, c]) => n + c, 0);
const describe = (counts: Map<string, number>) => [...counts].map(([what, n]) => `${what} ×${n}`).join(', ') || 'none';

interface RunFigures {
  prerequisitesMs: number;
  applyMs: number;
  readyMs: number;
  reconciles: number;
  writes: Map<string, number>;
}

async function oneRun(cluster: TestCluster, controller: ControllerProcess, url: string, users: number, run: number, log: (m: string) => void): Promise<RunFigures> {
  const namespace = `bench-${run}`;
  const domain = `run${run}.bench.example`;
  await cluster.kubectl(['create', 'namespace', namespace]);
  let started = performance.now();
  await cluster.kubectl(['apply', '--server-side', '-f', '-'], prerequisites(namespace, domain, url, users));
  // The domain is Ready before the users come: what is timed is the users alone.
  await eventually('the MailDomain Ready', async () => ((await controller.metric('mailops_objects', { kind: 'MailDomain', ready: 'True' })) >= run + 1 ? true : undefined), 60_000);
  const prerequisitesMs = performance.now() - started;
  const auditBefore = cluster.kube.auditEvents().length;
  const reconcilesBefore = await controller.metric('mailops_reconcile_duration_seconds_count');

  started = performance.now();
  await cluster.kubectl(['apply', '--server-side', '-f', '-'], mailUsers(namespace, domain, users));
  const applyMs = performance.now() - started;
  // The controller's own gauge (what it last wrote) is cheap to poll; kubectl confirms it below.
  const readyGoal = (run + 1) * users;
  await eventually(`${users} MailUsers Ready`, async () => ((await controller.metric('mailops_objects', { kind: 'MailUser', ready: 'True' })) >= readyGoal ? true : undefined), 10 * 60_000);
  const readyMs = performance.now() - started;
  const reconciles = (await controller.metric('mailops_reconcile_duration_seconds_count')) - reconcilesBefore;
  const list = await cluster.getJson<{ items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }>(['get', 'mailusers', '-n', namespace]);
  const ready = list.items.filter((u) => u.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  if (ready !== users) throw new Error(`the controller counted ${users} MailUsers Ready in ${namespace}, the API server has ${ready}`);
  const writes = writesBy(cluster.kube.auditEvents().slice(auditBefore));
  log(`run ${run + 1}: apply ${(applyMs / 1000).toFixed(1)} s, all Ready after ${(readyMs / 1000).toFixed(1)} s in ${reconciles} reconciles; writes: ${describe(writes)}`);
  return { prerequisitesMs, applyMs, readyMs, reconciles, writes };
}

/** A restarted controller's first looks at everything, then one idle resync: from right after one resync ended to right after the next ended. */
async function idleResync(cluster: TestCluster, controller: ControllerProcess, requestLog: readonly { method: string; path: string }[], auditFrom: number) {
  const quiet = () => eventually('a quiet queue', async () => ((await controller.metric('mailops_workqueue_depth')) === 0 ? true : undefined), 60_000);
  const lists = () => controller.metric('mailops_backend_requests_total', { operation: 'GET /users' });
  const nextResync = async () => {
    const before = await lists();
    await eventually('a resync', async () => ((await lists()) > before ? true : undefined), (RESYNC_SECONDS * 2 + 10) * 1000);
    await quiet();
  };
  await quiet();
  await nextResync();
  const requestsBefore = requestLog.length;
  const auditBefore = cluster.kube.auditEvents().length;
  const restartWrites = writesBy(cluster.kube.auditEvents().slice(auditFrom, auditBefore));
  await nextResync();
  await sleep(1000); // writes in flight reach the audit log
  const byRoute = new Map<string, number>();
  for (const r of requestLog.slice(requestsBefore)) byRoute.set(`${r.method} ${r.path}`, (byRoute.get(`${r.method} ${r.path}`) ?? 0) + 1);
  return { requests: requestLog.length - requestsBefore, byRoute, writes: writesBy(cluster.kube.auditEvents().slice(auditBefore)), restartWrites };
}

export const controllerScenario: Scenario = {
  id: 'controller',
  title: 'Controller: kubectl apply of MailUsers → all Ready, then an idle resync',
  description:
    'The controller as a process under its ServiceAccount, on the real kube-apiserver and etcd of the test harness, against the James emulator. ' +
    'Timed: from the start of `kubectl apply --server-side` of the MailUsers (their Secrets, MailBackend and MailDomain applied just before, in the same fresh namespace) until the last of them is Ready=True. ' +
    'Then one idle resync over everything: the backend requests it makes and the writes the API server receives (from its audit log).',
  async run(context: BenchContext): Promise<ScenarioResult> {
    const users = context.quick ? 200 : 1000;
    const cluster = await startTestCluster();
    const james = await startJamesEmulator({});
    try {
      // The default resync interval (10 minutes) while the users come: no resync of everything in between.
      const controller = await cluster.startController();
      await controller.leading();
      // A full run makes one: its Secrets and kubectl alone take a minute, and a second run would find the
      // first one's objects in the controller's cache (not quite the same measurement).
      const runCount = context.quick ? context.runs : 1;
      const runs = await repeat(runCount, (run) => oneRun(cluster, controller, james.url, users, run, context.log));
      await controller.stop();
      // A controller started anew with a short interval: its first look at everything, then one idle resync.
      const auditBeforeRestart = cluster.kube.auditEvents().length;
      const idleController = await cluster.startController(['--resync-interval', `${RESYNC_SECONDS}s`]);
      await idleController.leading();
      const idle = await idleResync(cluster, idleController, james.requestLog, auditBeforeRestart);
      context.log(`restart: writes: ${describe(idle.restartWrites)}; idle resync: ${idle.requests} backend requests, writes: ${describe(idle.writes)}`);
      await idleController.stop();

      const readyMedian = metric('ready-ms', '', 'ms', runs.map((r) => r.readyMs)).median;
      const applyMedian = metric('apply-ms', '', 'ms', runs.map((r) => r.applyMs)).median;
      const writesPerUser = metric('writes', '', '', runs.map((r) => total(r.writes) / users)).median;
      const idleWrites = total(idle.writes);
      const statusWrites = runs.map((r) => (r.writes.get('patch mailusers/status') ?? 0) / users);
      return {
        metrics: [
          metric('controller-ready-ms', `kubectl apply of ${users} MailUsers → all Ready=True`, 'ms', runs.map((r) => r.readyMs)),
          metric('controller-kubectl-apply-ms', `of which kubectl apply itself (${users} objects, one request each)`, 'ms', runs.map((r) => r.applyMs)),
          metric('controller-lag-ms', 'of which after kubectl apply ended (the controller catching up)', 'ms', runs.map((r) => r.readyMs - r.applyMs)),
          metric('controller-prerequisites-ms', `MailBackend, MailDomain and ${users} Secrets applied, domain Ready (not in the time above)`, 'ms', runs.map((r) => r.prerequisitesMs)),
          metric('controller-reconciles', 'reconciles (batches) until all Ready', '', runs.map((r) => r.reconciles)),
          metric('controller-writes-per-user', 'API-server writes per MailUser until Ready (leases apart)', '', runs.map((r) => total(r.writes) / users)),
          metric('controller-status-writes-per-user', 'of which status patches per MailUser', '', statusWrites),
          metric('controller-idle-backend-requests', `idle resync over ${users * runs.length} MailUsers: backend requests`, '', [idle.requests]),
          metric('controller-idle-writes', 'idle resync: API-server writes (leases apart)', '', [idleWrites]),
          metric('controller-restart-writes', `a restarted controller's first look at ${users * runs.length} Ready MailUsers: API-server writes (leases apart)`, '', [total(idle.restartWrites)]),
        ],
        targets: [
          {
            goal: `${users} MailUsers Ready in under 30 s`,
            measured: `${(readyMedian / 1000).toFixed(1)} s (median of ${runs.length})`,
            met: readyMedian < READY_TARGET_MS,
            note:
              `${context.quick ? 'Quick run: 200 users, not the 1,000 of the target. ' : ''}kubectl apply itself took ${(applyMedian / 1000).toFixed(1)} s of it (one request per object, after reading them all); ` +
              `the controller had every MailUser Ready ${((readyMedian - applyMedian) / 1000).toFixed(1)} s after kubectl ended, with ${writesPerUser.toFixed(1)} API-server writes per MailUser (finalizer, status, event), ${API_WRITE_CONCURRENCY} at a time.`,
          },
          { goal: 'an idle resync makes 0 API-server writes', measured: `${idleWrites} (${describe(idle.writes)})`, met: idleWrites === 0 },
        ],
        notes: [
          `${users} MailUsers, each with a Secret and one extra address; ${runs.length} run(s) (a full run makes one: its Secrets and kubectl take a minute), each in a fresh namespace with its own domain, against one controller (a later run sees the earlier runs' objects in the cache).`,
          'The MailBackend allows 16 concurrent requests; the emulator answers without added latency. The controller runs with its default resync interval (10 minutes) while the MailUsers come.',
          'Ready is read from the controller\'s mailops_objects gauge every 200 ms, then confirmed with kubectl get. kubectl apply sends one request per object, one after the other.',
          `The idle resync is measured once, on a controller started anew with --resync-interval ${RESYNC_SECONDS}s: from the end of one resync to the end of the next; lease renewals are not counted as writes.`,
        ],
        details: {
          runs: runs.map((r) => ({ readyMs: r.readyMs, applyMs: r.applyMs, reconciles: r.reconciles, writes: Object.fromEntries(r.writes) })),
          idleResync: { requestsByRoute: Object.fromEntries(idle.byRoute), writes: Object.fromEntries(idle.writes), restartWrites: Object.fromEntries(idle.restartWrites) },
        },
      };
    } finally {
      await cluster.stop();
      await james.close();
    }
  },
};
