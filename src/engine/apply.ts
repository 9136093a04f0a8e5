// Running a plan through the backends. Per backend: changes in plan order, phase by phase, up to
// `concurrency` at once (the HTTP client adds the rate ceiling and the retries). One failing
// object does not stop the others; what depends on it is skipped and reported, never dropped.
import PQueue from 'p-queue';
import { objectKey } from '../model/config.ts';
import type { BackendDecl } from '../model/config.ts';
import type { Change, Plan } from '../plan/index.ts';
import { backendKey, type RecordStore } from '../state/records.ts';
import { isBackendError, type BackendAdapter, type BackendErrorKind, type TaskRef, type TaskStatus } from './adapter.ts';
import { describeError, type Connections } from './observe.ts';
import { waitForTask } from './tasks.ts';

export type ChangeOutcome = 'applied' | 'failed' | 'skipped';

export interface ChangeResult {
  backendId: string;
  backendName: string;
  change: Change;
  outcome: ChangeOutcome;
  error?: string;
  errorKind?: BackendErrorKind | 'Internal';
  durationMs: number;
}

export interface ApplyReport {
  results: ChangeResult[];
  /** HTTP requests sent while applying, per backend id. */
  requests: Map<string, number>;
}

export interface ApplyOptions {
  backends: ReadonlyMap<string, BackendDecl>;
  records: RecordStore;
  onResult?: (result: ChangeResult) => void;
  onTaskProgress?: (backendName: string, task: TaskRef, status: TaskStatus) => void;
  signal?: AbortSignal;
}

export async function applyPlan(plan: Plan, connections: Connections, options: ApplyOptions): Promise<ApplyReport> {
  const report: ApplyReport = { results: [], requests: new Map() };
  await Promise.all(
    plan.backends.map(async (backendPlan) => {
      const adapter = connections.get(backendPlan.backendId);
      const decl = options.backends.get(backendPlan.backendId);
      if (!adapter || adapter instanceof Error || !decl || backendPlan.changes.length === 0) return;
      const before = adapter.requestCount;
      await applyBackend(backendPlan.changes, adapter, decl, options, (result) => {
        report.results.push(result);
        options.onResult?.(result);
      });
      report.requests.set(backendPlan.backendId, adapter.requestCount - before);
    }),
  );
  return report;
}

async function applyBackend(
  changes: Change[],
  adapter: BackendAdapter,
  backend: BackendDecl,
  options: ApplyOptions,
  emit: (result: ChangeResult) => void,
): Promise<void> {
  const key = backendKey(backend.id, backend.url);
  const outcomes = new Map<string, ChangeOutcome>();
  const queue = new PQueue({ concurrency: backend.limits.concurrency });

  // Changes arrive in plan order; a phase boundary is where the ordering key changes.
  const phases: Change[][] = [];
  let previous = '';
  for (const change of changes) {
    const phase = `${change.resource}:${change.action === 'delete' ? 'delete' : 'upsert'}`;
    if (phase !== previous) phases.push([]);
    phases.at(-1)!.push(change);
    previous = phase;
  }

  const run = async (change: Change) => {
    const started = performance.now();
    const finish = (outcome: ChangeOutcome, error?: unknown) => {
      outcomes.set(change.id, outcome);
      emit({
        backendId: backend.id,
        backendName: backend.name,
        change,
        outcome,
        ...(error !== undefined ? { error: typeof error === 'string' ? error : describeError(error), errorKind: isBackendError(error) ? error.kind : 'Internal' } : {}),
        durationMs: Math.round(performance.now() - started),
      });
    };
    if (options.signal?.aborted) return finish('skipped', 'not started: the run was interrupted');
    const blocker = change.dependsOn.find((id) => outcomes.get(id) !== 'applied');
    if (blocker) return finish('skipped', `not started: ${blocker.replace(':', ' ')} did not succeed`);
    try {
      await adapter.apply(change, {
        signal: options.signal ?? new AbortController().signal,
        awaitTask: (task) =>
          waitForTask(adapter, task, {
            deadlineMs: backend.limits.taskTimeoutSeconds * 1000,
            onProgress: (t, status) => options.onTaskProgress?.(backend.name, t, status),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
      });
      remember(options.records, key, change);
      finish('applied');
    } catch (error) {
      finish('failed', error);
    }
  };

  for (const phase of phases) {
    await Promise.all(phase.map((change) => queue.add(() => run(change))));
    await options.records.flush();
  }
}

/** Records what a successful user change put in force: its address and password fingerprint. */
function remember(records: RecordStore, key: string, change: Change): void {
  if (change.resource !== 'user') return;
  if (change.action === 'delete') {
    records.forgetAddress(key, change.key);
    return;
  }
  if (change.action === 'replace' && change.renameFrom) records.forgetAddress(key, change.renameFrom);
  records.set(key, objectKey(change.after!.owner), { address: change.after!.address, passwordFingerprint: change.after!.passwordFingerprint });
}
