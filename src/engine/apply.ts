// Running one backend's changes. In plan order, phase by phase, up to `concurrency` at once (the
// HTTP client adds the rate ceiling and the retries). One failing object does not stop the
// others; what depends on it is skipped and reported, never dropped.
//
// Operations that outlive the process are resumable: an adapter checkpoints its steps and the
// tasks it starts, the checkpoint is made durable before anything slow happens, and a later run
// of the same change gets it back and finishes the remaining steps only.
import PQueue from 'p-queue';
import { objectKey, type BackendDecl } from '../model/config.ts';
import type { Change } from '../plan/index.ts';
import { backendKey, type OperationRecord, type RecordStore } from '../state/records.ts';
import {
  TaskPending,
  isBackendError,
  type ApplyContext,
  type BackendAdapter,
  type BackendErrorKind,
  type Checkpoint,
  type TaskRef,
  type TaskStatus,
} from './adapter.ts';
import { asBackendError } from './observe.ts';
import { waitForTask } from './tasks.ts';

/** applied; failed; skipped (not started); pending: a backend task is still running (looked at again later). */
export type ChangeOutcome = 'applied' | 'failed' | 'skipped' | 'pending';

export type SkipReason = { because: 'dependency'; dependency: string } | { because: 'interrupted' };

export interface ChangeResult {
  backendId: string;
  backendName: string;
  change: Change;
  outcome: ChangeOutcome;
  /** failed, skipped, pending: why, for a person. */
  error?: string;
  errorKind?: BackendErrorKind;
  skipped?: SkipReason;
  /** The backend task the change waited for, with its last known status. */
  task?: { ref: TaskRef; status: TaskStatus };
  durationMs: number;
}

export interface ApplyBackendOptions {
  backend: BackendDecl;
  adapter: BackendAdapter;
  records: RecordStore;
  /** `block`: wait every task out (the CLI); `poll`: look once and report it pending (the controller). */
  taskMode?: 'block' | 'poll';
  signal?: AbortSignal;
  onResult?: (result: ChangeResult) => void;
  onTaskProgress?: (task: TaskRef, status: TaskStatus) => void;
}

const RECORDS_FLUSH_INTERVAL_MS = 1000;

// A call that failed this way may have reached the server and been carried out.
const EFFECT_UNKNOWN: ReadonlySet<BackendErrorKind> = new Set(['Unavailable', 'Timeout', 'Aborted']);

// A task that ended this way is over: a later run starts the step again instead of waiting for it.
const TASK_OVER: ReadonlySet<BackendErrorKind> = new Set(['TaskFailed', 'Timeout', 'NotFound']);

export async function applyBackendChanges(changes: readonly Change[], options: ApplyBackendOptions): Promise<ChangeResult[]> {
  const { backend, adapter, records } = options;
  const key = backendKey(backend.id, backend.url);
  const signal = options.signal ?? new AbortController().signal;
  const outcomes = new Map<string, ChangeOutcome>();
  const results: ChangeResult[] = [];
  const queue = new PQueue({ concurrency: backend.limits.concurrency });
  // A long phase writes its records as it goes, not only at its end: what a run that dies had
  // applied in the last second at most is unrecorded (a changed password is then set again).
  let lastFlush = performance.now();
  const flushNowAndThen = async () => {
    if (performance.now() - lastFlush < RECORDS_FLUSH_INTERVAL_MS) return;
    lastFlush = performance.now();
    await records.flush();
  };

  const run = async (change: Change) => {
    const started = performance.now();
    let task: ChangeResult['task'];
    const finish = (outcome: ChangeOutcome, detail: Partial<ChangeResult> = {}) => {
      outcomes.set(change.id, outcome);
      const result: ChangeResult = {
        backendId: backend.id,
        backendName: backend.name,
        change,
        outcome,
        ...detail,
        ...(task ? { task } : {}),
        durationMs: Math.round(performance.now() - started),
      };
      results.push(result);
      options.onResult?.(result);
    };
    if (signal.aborted) return finish('skipped', { error: 'not started: the run was interrupted', skipped: { because: 'interrupted' } });
    const blocker = change.dependsOn.find((id) => outcomes.get(id) !== 'applied');
    if (blocker) {
      return finish('skipped', { error: `not started: ${blocker.replace(':', ' ')} did not succeed`, skipped: { because: 'dependency', dependency: blocker } });
    }

    const { context, done } = operationContext(change, key, options, signal, (t) => (task = t));
    try {
      await adapter.apply(change, context);
      remember(records, key, change);
      done();
      await flushNowAndThen();
      finish('applied');
    } catch (error) {
      if (error instanceof TaskPending) {
        task = { ref: error.task, status: error.status };
        return finish('pending', { error: error.message });
      }
      // A create the server refused says nothing of what the server has (a user made by hand
      // meanwhile): what it meant to set is forgotten. One whose answer never came (a lost answer,
      // a time limit) may have been done: it stays, for the next run to find the user created.
      const failure = asBackendError(error);
      if (records.operation(key, change.id)?.step === CREATING && !EFFECT_UNKNOWN.has(failure.kind)) records.setOperation(key, change.id, undefined);
      // A checkpoint stays: the next run resumes the operation where it stopped.
      finish('failed', { error: failure.message, errorKind: failure.kind });
    }
  };

  // Changes arrive in plan order; a phase boundary is where the ordering key changes.
  const phases: Change[][] = [];
  let previous = '';
  for (const change of changes) {
    const phase = `${change.resource}:${change.action === 'delete' ? 'delete' : 'upsert'}`;
    if (phase !== previous) phases.push([]);
    phases.at(-1)!.push(change);
    previous = phase;
  }
  for (const phase of phases) {
    if (recordCreations(records, key, phase)) await records.flush();
    await Promise.all(phase.map((change) => queue.add(() => run(change))));
    await records.flush();
  }
  return results;
}

/** The step of a user creation that has not started: what it will set, in case the run dies. */
export const CREATING = 'creating';

/**
 * Before a phase creates users, records with which password fingerprint each is being created, in
 * one write for the whole phase. A run killed after a create reached the server, but before its
 * record was written, would otherwise leave a user mailops has no record of: on a backend that
 * cannot check a password, the next run would set it again. Returns whether anything was recorded.
 */
function recordCreations(records: RecordStore, key: string, phase: readonly Change[]): boolean {
  let recorded = false;
  for (const change of phase) {
    if (change.resource !== 'user' || change.action !== 'create' || change.after!.passwordUnmanaged || !change.after!.passwordFingerprint) continue;
    if (records.operation(key, change.id)?.task) continue; // a create a killed run left running: resumed as it is
    records.setOperation(key, change.id, { action: 'create', owner: objectKey(change.owner), step: CREATING, passwordFingerprint: change.after!.passwordFingerprint });
    recorded = true;
  }
  return recorded;
}

/**
 * The ApplyContext of one change: the checkpoint a previous run left (if it is for this very
 * operation), a durable checkpoint on every step, and backend tasks recorded before they are
 * waited for. `done` forgets the checkpoint once the change succeeded.
 */
function operationContext(
  change: Change,
  key: string,
  options: ApplyBackendOptions,
  signal: AbortSignal,
  onTask: (task: NonNullable<ChangeResult['task']>) => void,
): { context: ApplyContext; done: () => void } {
  const { records, backend, adapter } = options;
  const stored = records.operation(key, change.id);
  // A creation recorded before its phase has no step of its own to resume from.
  const resumeFrom = stored && resumes(stored, change) && stored.step !== CREATING ? stored : undefined;
  if (stored && !resumes(stored, change)) records.setOperation(key, change.id, undefined); // left by another operation
  let current: OperationRecord | undefined = resumeFrom;
  const save = async (record: OperationRecord | undefined) => {
    current = record;
    records.setOperation(key, change.id, record);
    await records.flush();
  };
  const identity = {
    action: change.action,
    owner: objectKey(change.owner),
    ...(change.resource === 'user' && change.renameFrom ? { renameFrom: change.renameFrom } : {}),
    ...(stored?.passwordFingerprint && resumes(stored, change) ? { passwordFingerprint: stored.passwordFingerprint } : {}),
  };
  const mode = options.taskMode ?? 'block';
  const timeLimitSeconds = backend.limits.taskTimeoutSeconds;

  const awaitTask = async (ref: TaskRef, state?: Omit<Checkpoint, 'task'>): Promise<TaskStatus> => {
    const sameTask = current?.task?.id === ref.id;
    const taskStartedAt = (sameTask && current?.taskStartedAt) || new Date().toISOString();
    if (!sameTask) {
      const data = state?.data ?? current?.data;
      await save({ ...identity, step: state?.step ?? current?.step ?? 'started', ...(data ? { data } : {}), task: ref, taskStartedAt });
    }
    try {
      return await waitForTask(adapter, ref, {
        mode,
        // Polling across reconciles counts from the task's start; a blocking run that resumes a
        // task gets a full wait of its own.
        deadline: (mode === 'poll' ? Date.parse(taskStartedAt) : Date.now()) + timeLimitSeconds * 1000,
        timeLimitSeconds,
        signal,
        onProgress: (t, status) => {
          onTask({ ref: t, status });
          options.onTaskProgress?.(t, status);
        },
      });
    } catch (error) {
      if (isBackendError(error) && TASK_OVER.has(error.kind) && current?.task?.id === ref.id) {
        const { task: _over, taskStartedAt: _at, ...rest } = current;
        await save(rest);
      }
      throw error;
    }
  };

  const context: ApplyContext = {
    signal,
    ...(resumeFrom ? { resumeFrom } : {}),
    checkpoint: (state: Checkpoint) => save({ ...identity, ...state }),
    awaitTask,
  };
  return { context, done: () => records.setOperation(key, change.id, undefined) };
}

/** A checkpoint resumes only the very operation it was made for (the same move, not a later one). */
function resumes(record: OperationRecord, change: Change): boolean {
  const renameFrom = change.resource === 'user' ? change.renameFrom : undefined;
  return record.action === change.action && record.renameFrom === renameFrom;
}

/** Records what a successful user change put in force: its address and password fingerprint. */
function remember(records: RecordStore, key: string, change: Change): void {
  if (change.resource !== 'user') return;
  if (change.action === 'delete') {
    records.forgetAddress(key, change.key);
    return;
  }
  if (change.action === 'replace' && change.renameFrom) records.forgetAddress(key, change.renameFrom);
  // A password left alone was not put in force: what was recorded about it still holds.
  if (change.after!.passwordUnmanaged) return;
  records.set(key, objectKey(change.after!.owner), { address: change.after!.address, passwordFingerprint: change.after!.passwordFingerprint });
}
