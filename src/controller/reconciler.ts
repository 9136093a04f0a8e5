// One reconcile: a batch of objects that are due, on the backends that serve them. Level-based:
// it reads what should be true now from the informers' caches, observes each backend involved once
// (its list calls), plans for the objects in the batch, applies, and writes each object's status
// where it changed. Nothing here remembers events; the batch only says which objects to look at.
import PQueue from 'p-queue';
import { objectKey, type Config, type ObjectRef } from '../model/config.ts';
import type { Condition } from '../model/schema.ts';
import type { Engine } from '../engine/engine.ts';
import { resolveSecrets } from '../engine/secrets.ts';
import { backendOutcomes, objectStatus, servingBackends, type ObjectStatus } from '../engine/status.ts';
import type { ChangeResult } from '../engine/apply.ts';
import type { Logger } from '../log.ts';
import { describeChange, withoutRefusedOwners, type Plan } from '../plan/index.ts';
import type { SecretResolver } from '../secrets/file-secrets.ts';
import { clusterConfig, holdsFinalizer, isDeleting, resourceKey, type ClusterConfig } from './cluster-config.ts';
import type { EventRecorder } from './events.ts';
import { describeKubeError, type MailResource } from './kube.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { AppliedStatus, ClusterRecordStore } from './records.ts';
import type { ResourceWriter } from './writes.ts';

/** What the queue should do with an object after a reconcile. */
export type Next = 'done' | 'backoff' | 'poll';

export interface ReconcilerDeps {
  engine: Engine;
  records: ClusterRecordStore;
  writer: ResourceWriter;
  events: EventRecorder;
  secrets: SecretResolver;
  metrics: ControllerMetrics;
  log: Logger;
  /** Every mailops object in the informers' caches. */
  snapshot(): MailResource[];
}

/** API-server writes in flight at once (status, finalizers): enough to keep up with a burst, not a flood. */
export const API_WRITE_CONCURRENCY = 32;

/** Kinds whose objects reach a backend and so hold the finalizer. */
const FINALIZED_KINDS = new Set(['MailDomain', 'MailUser', 'Alias']);

export class Reconciler {
  readonly #deps: ReconcilerDeps;
  /** The status each object was last given (or found with), to tell transitions for events. */
  readonly #known = new Map<string, Condition[]>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(due: ReadonlySet<string>, resync: boolean, signal: AbortSignal): Promise<Map<string, Next>> {
    const { engine, records, writer, log } = this.#deps;
    const cluster = clusterConfig(this.#deps.snapshot().map((r) => writer.current(r)));
    const { config, objects } = cluster;
    const next = new Map<string, Next>();

    for (const key of due) {
      if (objects.has(key)) continue;
      records.forget(key); // gone from the cluster
      this.#known.delete(key);
    }
    for (const [key, resource] of objects) records.seed(key, resource.metadata.namespace, backendStatuses(resource));

    const owners = resync ? new Set(objects.keys()) : widen(due, cluster);
    const refs = refsByKey(config);

    // The finalizer goes on before anything reaches a backend.
    const writes = new PQueue({ concurrency: API_WRITE_CONCURRENCY });
    for (const key of owners) {
      const resource = objects.get(key);
      if (!resource || !refs.has(key) || isDeleting(resource) || holdsFinalizer(resource) || !FINALIZED_KINDS.has(resource.kind)) continue;
      void writes.add(async () => {
        try {
          await writer.addFinalizer(resource);
        } catch (error) {
          log.warn({ object: key, error: describeKubeError(error) }, 'could not add the finalizer; the object waits');
          owners.delete(key);
          next.set(key, 'backoff');
        }
      });
    }
    await writes.onIdle();

    const secrets = await resolveSecrets(config, this.#deps.secrets, engine.fingerprint);
    await engine.connect(config.backends, secrets.credentials);
    const backendIds = new Set<string>(resync ? config.backends.map((b) => b.id) : []);
    for (const key of owners) {
      const ref = refs.get(key);
      if (ref) for (const id of backendsOf(config, ref)) backendIds.add(id);
    }
    await Promise.all([...backendIds].map((id) => engine.observe(config, id, { signal })));

    const plannable = new Set([...owners].filter((key) => refs.has(key)));
    const plan = await engine.plan({ config, passwords: secrets.passwords, owners: plannable });
    const report = await engine.apply(withoutRefusedOwners(plan), { signal });
    if (resync && !signal.aborted) await engine.forgetStaleOperations(plan);
    this.#deps.metrics.backend.countFailures(new Map([...backendIds].map((id) => [id, engine.observation(id)])), report.results);

    // Status for every object looked at, and for owners of changes pulled in as dependencies.
    const touched = new Set([...owners, ...due]);
    for (const result of report.results) touched.add(objectKey(result.change.owner));
    const failures = new Map(secrets.failures.map((f) => [f.objectKey, f.message]));
    const resultsByOwner = groupBy(report.results, (r) => objectKey(r.change.owner));
    for (const key of touched) {
      const resource = objects.get(key);
      if (!resource) continue;
      void writes.add(async () => {
        try {
          next.set(key, await this.#settle(key, writer.current(resource), cluster, refs.get(key), plan, resultsByOwner.get(key) ?? [], failures.get(key)));
        } catch (error) {
          log.warn({ object: key, error: describeKubeError(error) }, 'could not write the status; trying again');
          next.set(key, 'backoff');
        }
      });
    }
    await writes.onIdle();
    this.#countObjects(objects);
    return next;
  }

  /** Writes one object's status, removes its finalizer when its deletion is done, and says what comes next. */
  async #settle(
    key: string,
    resource: MailResource,
    cluster: ClusterConfig,
    ref: ObjectRef | undefined,
    plan: Plan,
    results: readonly ChangeResult[],
    secretFailure: string | undefined,
  ): Promise<Next> {
    const { engine, records, writer, events } = this.#deps;
    const previous = (resource.status?.conditions as Condition[] | undefined) ?? [];
    const now = new Date();
    const excluded = cluster.excluded.get(key);
    const deleting = cluster.deleting.get(key);
    const object = ref ?? refOf(resource);
    let status: ObjectStatus;
    if (excluded) {
      status = objectStatus({ object, ...(excluded.reason === 'InvalidSpec' ? { invalid: excluded.messages } : { waitingFor: excluded.messages }), backends: [], previous, now });
    } else {
      const ids = backendsOf(cluster.config, object);
      const outcomes = backendOutcomes(object, ids, plan, results, (id) => engine.observation(id));
      status = objectStatus({ object, backends: outcomes, ...(secretFailure ? { secretFailure } : {}), previous, now });
      if (deleting) {
        // Done when every backend could be seen and every change of this object there was applied.
        const applied = (o: (typeof outcomes)[number]) => o.changes.every((c) => o.results.some((r) => r.change.id === c.id && r.outcome === 'applied'));
        const done = deleting.policy === 'Orphan' || (!deleting.waitingFor && outcomes.every((o) => !o.failure && !o.refusals?.length && applied(o)));
        if (done && FINALIZED_KINDS.has(resource.kind)) {
          await writer.removeFinalizer(resource);
          records.forget(key);
          this.#known.delete(key);
          await events.record(resource, 'Normal', deleting.policy === 'Orphan' ? 'Orphaned' : 'Deleted', deleting.policy === 'Orphan' ? 'left on its backends (deletionPolicy: Orphan)' : 'deleted from its backends');
          return 'done';
        }
        if (deleting.waitingFor) status = deletionWaits(status, deleting.waitingFor, previous, now);
      }
    }

    const written = withRecords(status, records.statusOf(key), (resource.status?.backends as StatusBackend[] | undefined) ?? [], results, key, now);
    await writer.writeStatus(resource, written as unknown as Record<string, unknown>);
    await this.#announce(resource, key, previous, status.conditions, results);

    const ready = status.conditions.find((c) => c.type === 'Ready')!;
    const synced = status.conditions.find((c) => c.type === 'Synced')!;
    if (ready.reason === 'TaskRunning') return 'poll';
    if (ready.reason === 'InvalidSpec') return 'done'; // waits for a change of the object
    return synced.status === 'True' && ready.status === 'True' ? 'done' : 'backoff';
  }

  /**
   * Makes an object's records durable (a checkpoint before a backend task): its status as it is,
   * with the records of each backend replaced.
   */
  async persistRecords(resource: MailResource): Promise<void> {
    const { records, writer } = this.#deps;
    const current = writer.current(resource);
    const key = resourceKey(current);
    const applied = records.statusOf(key);
    const backends = [...((current.status?.backends as StatusBackend[] | undefined) ?? [])].map((b) => {
      const { applied: _old, ...rest } = b;
      const id = [...applied.keys()].find((backendId) => backendId.endsWith(`/${b.name}`));
      return id ? { ...rest, applied: applied.get(id)! } : rest;
    });
    for (const [id, record] of applied) {
      const name = id.slice(id.indexOf('/') + 1);
      if (!backends.some((b) => b.name === name)) backends.push({ name, state: 'Updating', synced: false, applied: record });
    }
    await writer.writeStatus(current, { ...(current.status ?? {}), backends });
  }

  /** Events on transitions and on changes made, never one per retry. */
  async #announce(resource: MailResource, key: string, previous: Condition[], conditions: Condition[], results: readonly ChangeResult[]): Promise<void> {
    const known = this.#known.get(key) ?? previous;
    this.#known.set(key, conditions);
    const applied = results.filter((r) => r.outcome === 'applied' && objectKey(r.change.owner) === key);
    for (const result of applied) {
      const verb = result.change.action === 'create' ? 'Created' : result.change.action === 'delete' ? 'Deleted' : 'Updated';
      await this.#deps.events.record(resource, 'Normal', verb, `${result.backendName}: ${describeChange(result.change)}`);
    }
    const synced = conditions.find((c) => c.type === 'Synced')!;
    const before = known.find((c) => c.type === 'Synced');
    if (synced.status !== 'True' && (before?.status !== synced.status || before.reason !== synced.reason)) {
      await this.#deps.events.record(resource, 'Warning', synced.reason, synced.message ?? synced.reason);
    }
    const ready = conditions.find((c) => c.type === 'Ready')!;
    const wasReady = known.find((c) => c.type === 'Ready');
    if (ready.status === 'True' && wasReady?.status !== 'True' && wasReady !== undefined) {
      await this.#deps.events.record(resource, 'Normal', 'Ready', ready.message ?? 'ready');
    }
  }

  #countObjects(objects: Map<string, MailResource>): void {
    const counts = new Map<string, number>();
    for (const resource of objects.values()) {
      const current = this.#deps.writer.current(resource);
      const ready = ((current.status?.conditions as Condition[] | undefined) ?? []).find((c) => c.type === 'Ready')?.status ?? 'Unknown';
      const label = `${resource.kind}\u0000${ready}`;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    this.#deps.metrics.objects.reset();
    for (const [label, count] of counts) {
      const [kind, ready] = label.split('\u0000');
      this.#deps.metrics.objects.set({ kind: kind!, ready: ready! }, count);
    }
  }
}

interface StatusBackend {
  name: string;
  state?: string;
  synced: boolean;
  message?: string;
  lastChangeTime?: string;
  task?: { id: string; state: string; progress?: number };
  notApplicable?: string[];
  applied?: AppliedStatus;
}

/** The status to write: conditions and per-backend state, with what the records keep per backend. */
function withRecords(
  status: ObjectStatus,
  applied: Map<string, AppliedStatus>,
  before: readonly StatusBackend[],
  results: readonly ChangeResult[],
  key: string,
  now: Date,
): Record<string, unknown> {
  const backends: StatusBackend[] = status.backends.map((b) => {
    const id = [...applied.keys()].find((backendId) => backendId.endsWith(`/${b.name}`));
    const changed = results.some((r) => r.backendName === b.name && r.outcome === 'applied' && objectKey(r.change.owner) === key);
    const lastChangeTime = changed ? now.toISOString() : before.find((p) => p.name === b.name)?.lastChangeTime;
    return {
      ...b,
      ...(lastChangeTime ? { lastChangeTime } : {}),
      ...(id ? { applied: applied.get(id)! } : {}),
    };
  });
  return {
    ...(status.observedGeneration !== undefined ? { observedGeneration: status.observedGeneration } : {}),
    conditions: status.conditions,
    backends,
  };
}

function deletionWaits(status: ObjectStatus, why: string, previous: Condition[], now: Date): ObjectStatus {
  const conditions = status.conditions.map((c) => {
    const reason = c.type === 'Ready' ? 'Deleting' : 'DependencyNotReady';
    const before = previous.find((p) => p.type === c.type);
    const same = before?.status === 'False' && before.reason === reason;
    return { ...c, status: 'False' as const, reason, message: `deletion waits: ${why}`, lastTransitionTime: same ? before.lastTransitionTime : now.toISOString() };
  });
  return { ...status, conditions };
}

function backendStatuses(resource: MailResource): Array<{ name: string; applied?: AppliedStatus }> | undefined {
  return resource.status?.backends as Array<{ name: string; applied?: AppliedStatus }> | undefined;
}

/** Objects that other objects' plans depend on bring those along (a domain's users, a backend's objects). */
function widen(due: ReadonlySet<string>, cluster: ClusterConfig): Set<string> {
  const owners = new Set([...due].filter((key) => cluster.objects.has(key)));
  const { config } = cluster;
  const kinds = new Set([...owners].map((key) => cluster.objects.get(key)!.kind));
  if (kinds.has('QuotaPolicy')) return new Set(cluster.objects.keys()); // limits reach users through several levels
  for (const backend of config.backends.filter((b) => owners.has(objectKey(b.ref)))) {
    for (const [key, ref] of refsByKey(config)) if (backendsOf(config, ref).includes(backend.id)) owners.add(key);
  }
  for (const domain of config.domains.filter((d) => owners.has(objectKey(d.ref)))) {
    for (const user of config.users.filter((u) => u.domain === domain.domain)) owners.add(objectKey(user.ref));
  }
  // Objects that wait for something may be unblocked by what changed: look at them again.
  for (const [key, excluded] of cluster.excluded) if (excluded.reason === 'DependencyNotReady') owners.add(key);
  return owners;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function refsByKey(config: Config): Map<string, ObjectRef> {
  const refs = new Map<string, ObjectRef>();
  for (const item of [...config.backends, ...config.domains, ...config.users, ...config.aliases, ...(config.deletions ?? [])]) refs.set(objectKey(item.ref), item.ref);
  for (const ref of config.quotaPolicies) refs.set(objectKey(ref), ref);
  return refs;
}

/** The backends an object is reconciled on, including one on its way out. */
function backendsOf(config: Config, ref: ObjectRef): string[] {
  const deletion = config.deletions?.find((d) => objectKey(d.ref) === objectKey(ref));
  return deletion ? deletion.backendIds : servingBackends(config, ref);
}


function refOf(resource: MailResource): ObjectRef {
  const key = resourceKey(resource);
  return {
    kind: resource.kind,
    namespace: resource.metadata.namespace,
    name: resource.metadata.name,
    ...(resource.metadata.generation !== undefined ? { generation: resource.metadata.generation } : {}),
    source: { file: key, line: 0, column: 0 },
  };
}
