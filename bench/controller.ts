// Benchmark of the Kubernetes controller: how long from `kubectl apply` of N MailUsers to all of
// them Ready=True against the James emulator, and what one idle resync over them costs (backend
// requests, API-server writes). A real kube-apiserver and etcd (scripts/kube-binaries.sh), the
// controller as a process under its ServiceAccount, the emulator in this process.
// Usage: npm run bench:controller -- [N] (default 1000).
import { startJamesEmulator } from '../src/backends/james/emulator.ts';
import { eventually, startTestCluster } from '../test/support/kube-cluster.ts';

const users = Number(process.argv[2] ?? 1000);
const resyncSeconds = 30;

function manifests(url: string): string {
  const docs = [
    `apiVersion: mailops.dev/v1alpha1\nkind: MailBackend\nmetadata: {name: james}\nspec: {type: james, url: '${url}', limits: {concurrency: 16, requestsPerSecond: 100000}}`,
    `apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata: {name: bench}\nspec: {domain: bench.example, backendRefs: [{name: james}]}`,
  ];
  for (let i = 0; i < users; i++) {
    docs.push(`apiVersion: v1\nkind: Secret\nmetadata: {name: u${i}}\nstringData: {password: pw-${i}}`);
    docs.push(`apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: u${i}}\nspec:\n  address: user${i}@bench.example\n  passwordSecretRef: {name: u${i}, key: password}\n  extraAddresses: [alias${i}@bench.example]`);
  }
  return docs.join('\n---\n');
}

const cluster = await startTestCluster();
const james = await startJamesEmulator({});
try {
  const controller = await cluster.startController(['--resync-interval', `${resyncSeconds}s`]);
  await controller.leading();
  await cluster.kubectl(['create', 'namespace', 'bench']);

  const started = performance.now();
  await cluster.kubectl(['apply', '-n', 'bench', '--server-side', '-f', '-'], manifests(james.url));
  const applied = performance.now();
  await eventually(`${users} MailUsers Ready`, async () => {
    const list = await cluster.getJson<{ items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> }>(['get', 'mailusers', '-n', 'bench']);
    const ready = list.items.filter((u) => u.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    return ready === users ? ready : undefined;
  }, 30 * 60_000);
  const allReady = performance.now();
  const batches = await controller.metric('mailops_reconcile_duration_seconds_count');

  // One idle resync: nothing changed, so nothing is written anywhere.
  await eventually('a quiet queue', async () => ((await controller.metric('mailops_workqueue_depth')) === 0 ? true : undefined));
  const lists = () => controller.metric('mailops_backend_requests_total', { operation: 'GET /users' });
  const writes = async () => (await controller.metric('mailops_apiserver_writes_total')) - (await controller.metric('mailops_apiserver_writes_total', { what: 'update lease' }));
  // Start measuring right after a resync, and stop right after the next.
  const firstLists = await lists();
  await eventually('a resync', async () => ((await lists()) > firstLists ? true : undefined), (resyncSeconds + 10) * 1000);
  await eventually('its end', async () => ((await controller.metric('mailops_workqueue_depth')) === 0 ? true : undefined));
  const requestsBefore = james.requestLog.length;
  const writesBefore = await writes();
  const listsBefore = await lists();
  await eventually('the next resync', async () => ((await lists()) > listsBefore ? true : undefined), (resyncSeconds + 10) * 1000);
  await eventually('its end', async () => ((await controller.metric('mailops_workqueue_depth')) === 0 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = james.requestLog.slice(requestsBefore);
  const byRoute = new Map<string, number>();
  for (const r of idle) byRoute.set(`${r.method} ${r.path}`, (byRoute.get(`${r.method} ${r.path}`) ?? 0) + 1);

  console.log(`MailUsers: ${users}`);
  console.log(`kubectl apply (server-side, ${users} Secrets + ${users} MailUsers): ${((applied - started) / 1000).toFixed(1)} s`);
  console.log(`kubectl apply → all Ready=True: ${((allReady - started) / 1000).toFixed(1)} s in ${batches} reconciles`);
  console.log(`idle resync: ${idle.length} backend requests (${[...byRoute].map(([route, n]) => `${route} ×${n}`).join(', ')}), ${(await writes()) - writesBefore} API-server writes`);
  await controller.stop();
} finally {
  await cluster.stop();
  await james.close();
}
