// `mailops controller`: a thin loop around the engine. Informers keep a cache of the five kinds and
// of Secrets; their events put object keys on a work queue; the leader takes what is due in
// batches and reconciles them (reconciler.ts); a periodic resync with jitter looks at everything.
// Only the leader reconciles. On SIGTERM the batch in flight finishes, the lease is released, and
// the process exits.
import { hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import type { KubernetesListObject, V1Secret } from '@kubernetes/client-node';
import PQueue from 'p-queue';
import { Engine } from '../engine/engine.ts';
import type { Logger } from '../log.ts';
import { KINDS } from '../model/kinds.ts';
import { secretRefsInOptions } from '../model/config.ts';
import type { KindName } from '../model/schema.ts';
import { resourceKey } from './cluster-config.ts';
import { EventRecorder } from './events.ts';
import { ResourceInformer } from './informers.ts';
import { KubeClient, describeKubeError, loadKubeConfig, podNamespace, type MailResource } from './kube.ts';
import { LeaderElector } from './leader.ts';
import { listen, metricsHandler, parseBindAddress, probesHandler } from '../serve/http.ts';
import { ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { API_WRITE_CONCURRENCY, Reconciler, type Next } from './reconciler.ts';
import { ClusterRecordStore } from './records.ts';
import { ClusterSecretResolver, loadClusterFingerprintKey } from './secrets.ts';
import { ResourceWriter } from './writes.ts';

export interface ControllerOptions {
  kubeconfig?: string;
  /** Watch one namespace only (default: all). */
  namespace?: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  resyncIntervalMs: number;
  leaderElect: boolean;
  /** Where the leader lease and the fingerprint key live (default: the pod's namespace, else --namespace, else default). */
  leaderElectionNamespace?: string;
  /** How soon an object whose backend task still runs is looked at again. */
  taskPollMs?: number;
  log: Logger;
}

export interface RunningController {
  metricsUrl?: string;
  probesUrl?: string;
  /** Resolves when the controller has stopped (after `stop()` or a lost lease). */
  done: Promise<void>;
  stop(): Promise<void>;
}

const LEASE_NAME = 'mailops-controller';

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const log = options.log;
  const kube = new KubeClient(loadKubeConfig(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}));
  const metrics = new ControllerMetrics();
  kube.onWrite = (what) => metrics.apiWrites.inc({ what });
  const home = options.leaderElectionNamespace ?? (await podNamespace()) ?? options.namespace ?? 'default';
  const identity = `${hostname()}_${randomBytes(4).toString('hex')}`;

  const queue = new WorkQueue();
  queue.onDepth = (depth) => metrics.queueDepth.set(depth);
  const generations = new Map<string, string>();
  const secretUsers = new SecretIndex();

  // --- informers
  const mailInformers = new Map<KindName, ResourceInformer<MailResource>>();
  const onMail = (resource: MailResource, deleted = false) => {
    const key = resourceKey(resource);
    secretUsers.index(key, resource, deleted);
    // Status and metadata-only changes (our own writes among them) are not work; a new generation,
    // a deletion or a finalizer change is.
    const mark = `${resource.metadata.generation ?? ''}|${resource.metadata.deletionTimestamp ? 'deleting' : ''}|${deleted ? 'gone' : ''}`;
    if (generations.get(key) === mark) return;
    if (deleted) generations.delete(key);
    else generations.set(key, mark);
    queue.add(key);
  };
  for (const info of KINDS) {
    const informer = new ResourceInformer<MailResource>(
      info.plural,
      kube.config,
      KubeClient.path(info.plural, options.namespace),
      async () => (await kube.listMail(info.kind, options.namespace)) as KubernetesListObject<MailResource>,
      { onAdd: (r) => onMail(r), onUpdate: (r) => onMail(r), onDelete: (r) => onMail(r, true) },
      log,
    );
    mailInformers.set(info.kind, informer);
  }
  // A digest of each Secret's data, not the data: a second copy of every Secret would outlive its use.
  const secretVersions = new Map<string, string>();
  const onSecret = (secret: V1Secret, deleted = false) => {
    const id = `${secret.metadata?.namespace}/${secret.metadata?.name}`;
    const data = deleted ? '' : createHash('sha256').update(JSON.stringify(secret.data ?? {})).digest('base64url');
    if (secretVersions.get(id) === data) return;
    secretVersions.set(id, data);
    for (const key of secretUsers.usersOf(id)) queue.add(key);
  };
  const secrets = new ResourceInformer<V1Secret>(
    'secrets',
    kube.config,
    KubeClient.path('secrets', options.namespace, 'v1'),
    () => kube.listSecrets(options.namespace) as Promise<KubernetesListObject<V1Secret>>,
    { onAdd: (s) => onSecret(s), onUpdate: (s) => onSecret(s), onDelete: (s) => onSecret(s, true) },
    log,
  );
  const informers = [...mailInformers.values(), secrets] as Array<ResourceInformer<MailResource> | ResourceInformer<V1Secret>>;
  for (const informer of informers) {
    metrics.watchUp.set({ resource: informer.name }, 0);
    informer.onHealth = (up) => metrics.watchUp.set({ resource: informer.name }, up ? 1 : 0);
  }

  // --- endpoints
  const servers: Array<{ close(): void }> = [];
  const running: Partial<RunningController> = {};
  const metricsAddress = parseBindAddress(options.metricsBindAddress, '--metrics-bind-address');
  const probesAddress = parseBindAddress(options.healthProbeBindAddress, '--health-probe-bind-address');
  if (metricsAddress) {
    const server = await listen(metricsAddress, metricsHandler(metrics));
    servers.push(server);
    running.metricsUrl = server.url;
  }
  if (probesAddress) {
    const server = await listen(probesAddress, probesHandler({
      healthy: () => true,
      ready: () => {
        const down = informers.filter((i) => !i.healthy).map((i) => i.name);
        return down.length === 0 ? { ok: true, detail: 'ok' } : { ok: false, detail: `watches down or not synced: ${down.join(', ')}` };
      },
    }));
    servers.push(server);
    running.probesUrl = server.url;
  }

  await Promise.all(informers.map((i) => i.start()));
  log.info({ namespace: options.namespace ?? '(all)', identity }, 'watching');

  // --- the engine and what it needs from the cluster
  const writer = new ResourceWriter(kube, log);
  const snapshot = () => [...mailInformers.values()].flatMap((i) => [...i.list()]);
  const byKey = () => new Map(snapshot().map((r) => [resourceKey(r), r]));
  const fingerprintKey = await loadClusterFingerprintKey(kube, home);
  let reconciler: Reconciler | undefined;
  const records = new ClusterRecordStore(async (owners) => {
    // Checkpoints are made durable in their owners' status before the slow part of an operation;
    // as many writes at once as the reconciler makes, not a thousand at once.
    const objects = byKey();
    const writes = new PQueue({ concurrency: API_WRITE_CONCURRENCY });
    await Promise.all([...owners].map((key) => objects.get(key)).filter((r) => r !== undefined).map((r) => writes.add(() => reconciler!.persistRecords(r))));
  });
  const engine = new Engine({
    adapterFactory: metrics.backend.adapterFactory(),
    records,
    fingerprintKey,
    log,
    taskMode: 'poll',
  });
  reconciler = new Reconciler({
    engine,
    records,
    writer,
    events: new EventRecorder(kube, log, identity),
    secrets: new ClusterSecretResolver((namespace, name) => secrets.get(name, namespace)),
    metrics,
    log,
    snapshot,
  });

  // --- leadership, the loop, and shutting down
  const stopping = new AbortController();
  const elector = options.leaderElect ? new LeaderElector(kube, log, { namespace: home, name: LEASE_NAME, identity }) : undefined;
  let resyncTimer: NodeJS.Timeout | undefined;
  const scheduleResync = () => {
    // Jitter spreads the resyncs of many controllers (and of restarts) over time.
    const delay = options.resyncIntervalMs * (1 + Math.random() * 0.1);
    resyncTimer = setTimeout(() => {
      queue.requestResync();
      scheduleResync();
    }, delay);
    resyncTimer.unref();
  };

  const loop = async () => {
    if (elector) {
      await elector.acquire(() => {
        log.error('stopping: another replica may lead now');
        process.exitCode = 1;
        void stop();
      });
      if (stopping.signal.aborted) return;
    }
    // Never reconcile from a cache that is not filled yet (the API server may answer 429 at first).
    while (!informers.every((i) => i.healthy) && !stopping.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 200));
    if (!elector) log.info('leading (no leader election)');
    metrics.leader.set(1);
    scheduleResync();
    for (;;) {
      const batch = await queue.take();
      if (!batch || stopping.signal.aborted) return;
      const timer = metrics.reconcileDuration.startTimer();
      metrics.reconcileObjects.observe(batch.keys.size);
      let outcome: Map<string, Next>;
      try {
        outcome = await reconciler.reconcile(batch.keys, batch.resync, stopping.signal);
      } catch (error) {
        log.error({ error: describeKubeError(error), stack: (error as Error).stack }, 'reconcile failed; the objects are looked at again later');
        outcome = new Map([...batch.keys].map((key) => [key, 'backoff' as Next]));
        if (batch.resync) queue.requestResync();
      }
      timer();
      for (const [key, next] of outcome) {
        metrics.reconciles.inc({ result: next === 'done' ? 'success' : next === 'poll' ? 'requeue' : 'error' });
        if (next === 'done') queue.forget(key);
        else if (next === 'poll') queue.addAfter(key, options.taskPollMs ?? 2_000);
        else queue.addRateLimited(key);
      }
    }
  };

  let stopped: Promise<void> | undefined;
  const finished = loop();
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      log.info('stopping: finishing the reconcile in flight');
      queue.shutDown();
      clearTimeout(resyncTimer);
      // A replica still waiting for the lease stops waiting.
      if (elector && !elector.leading) await elector.release();
      // The batch in flight runs to its end (its operations are checkpointed), then the lease goes.
      await finished.catch(() => {});
      stopping.abort();
      await elector?.release();
      metrics.leader.set(0);
      await Promise.all(informers.map((i) => i.stop()));
      for (const server of servers) server.close();
      await engine.close();
      await kube.config.close();
      log.info('stopped');
    })();
    return stopped;
  };
  running.stop = stop;
  running.done = finished.then(() => stop());
  return running as RunningController;
}

/** Which objects read which Secret, so that a rotated Secret reaches exactly its users. */
export class SecretIndex {
  readonly #bySecret = new Map<string, Set<string>>();
  readonly #byObject = new Map<string, string[]>();

  index(key: string, resource: MailResource, deleted: boolean): void {
    for (const id of this.#byObject.get(key) ?? []) this.#bySecret.get(id)?.delete(key);
    this.#byObject.delete(key);
    if (deleted) return;
    const spec = resource.spec as {
      passwordSecretRef?: { name?: string };
      credentials?: { passwordSecretRef?: { name?: string }; tokenSecretRef?: { name?: string } };
      caBundleSecretRef?: { name?: string };
    };
    // A MailBackend's settings block may reference Secrets too (spec.openxchange.contextAdmin.passwordSecretRef).
    const typeBlock = resource.kind === 'MailBackend' ? (resource.spec as Record<string, unknown>)[String((resource.spec as { type?: unknown }).type)] : undefined;
    const optionNames = secretRefsInOptions(typeBlock).map((ref) => ref.selector.name);
    const names = [spec.passwordSecretRef?.name, spec.credentials?.passwordSecretRef?.name, spec.credentials?.tokenSecretRef?.name, spec.caBundleSecretRef?.name, ...optionNames].filter((n): n is string => typeof n === 'string');
    const ids = names.map((name) => `${resource.metadata.namespace}/${name}`);
    this.#byObject.set(key, ids);
    for (const id of ids) {
      let users = this.#bySecret.get(id);
      if (!users) this.#bySecret.set(id, (users = new Set()));
      users.add(key);
    }
  }

  usersOf(secretId: string): string[] {
    return [...(this.#bySecret.get(secretId) ?? [])];
  }
}
