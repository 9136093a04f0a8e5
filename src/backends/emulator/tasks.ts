// The long-running operations of emulated servers — James's tasks, MailStore's status tokens — on one worker:
// a task is a list of steps sharing a duration; it reports its state, each step's state, its progress, log lines
// and a status version that moves on every change. Clients wait for it with long polls (until the version moves
// past the one they know, or until the task ends; released on timeout, when the client goes away, or when the
// worker closes) and may cancel it: a waiting task is cancelled when the worker reaches it, a running one at its
// step's next pause, and what the current step did before that pause stays done — as on a real server, whose
// steps are not transactions (james.md, mailstore.md).

import { randomUUID } from 'node:crypto';

export type TaskState = 'waiting' | 'running' | 'cancelRequested' | 'completed' | 'cancelled' | 'failed';
export type StepState = 'waiting' | 'running' | 'done' | 'failed' | 'aborted' | 'skipped';

const FINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'cancelled', 'failed']);

/** What a running step may tell about itself. */
export interface StepReport {
  /** Adds a line to the task's log (MailStore's logOutput). */
  log(line: string): void;
  /** Sets the task's result (what a status poll returns once the task has completed). */
  setResult(value: unknown): void;
}

export interface TaskStep<C> {
  readonly name: string;
  /**
   * Does the step's work on the task's context. A plain function does all of it when the step starts, then the
   * step's share of the task's duration passes. A generator does it in parts: `yield f` says the share f (0..1)
   * of the step is done, and the worker lets that share of the step's time pass before resuming it; a
   * cancellation takes effect at those pauses. A throw fails the task and aborts the steps after it.
   */
  run(context: C, report: StepReport): void | Iterator<number, void, undefined>;
}

export interface Task<C> {
  readonly id: string;
  readonly context: C;
  readonly state: TaskState;
  /** Every state the task went through, in order. */
  readonly history: readonly TaskState[];
  /** Moves on every change of anything below: the long polls' reference. */
  readonly version: number;
  /** 0..1: the share of the task's steps done. */
  readonly progress: number;
  /** Step name → state, in the order of the steps. */
  readonly steps: ReadonlyMap<string, StepState>;
  readonly log: readonly string[];
  readonly result: unknown;
  /** Why the task failed. */
  readonly error: string | undefined;
  readonly submittedAt: Date;
  readonly startedAt: Date | undefined;
  readonly cancelRequestedAt: Date | undefined;
  /** When it completed, failed or was cancelled. */
  readonly finishedAt: Date | undefined;
}

export interface TaskSubmission<C> {
  readonly context: C;
  readonly steps: readonly TaskStep<C>[];
  /** Shared equally by the steps; skipped steps take no time. */
  readonly durationMs: number;
  /** Steps marked skipped at the start (James's `fromStep`). */
  readonly skip?: (step: TaskStep<C>) => boolean;
}

export interface TaskWorkerOptions {
  /** How many tasks run at once; default 1, a serial worker like James's memory task manager. */
  concurrency?: number;
  /** Makes the map of tasks, e.g. a metered one (store.ts). */
  newMap?: <K, V>() => Map<K, V>;
}

export interface TaskWorker<C> {
  submit(submission: TaskSubmission<C>): Task<C>;
  get(id: string): Task<C> | undefined;
  /** Every task, in submission order. */
  all(): Iterable<Task<C>>;
  /** Asks for cancellation; nothing happens to a task that has ended. */
  cancel(task: Task<C>): void;
  /** Resolves true once the version has moved past `knownVersion` (at once if it has), false on timeout or abort. */
  waitForChange(task: Task<C>, knownVersion: number, timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  /** Resolves true once the task has ended, false on timeout or abort. */
  waitForEnd(task: Task<C>, timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  /** Stops every timer and releases every waiting poll (with false). */
  close(): void;
}

export function isFinal(state: TaskState): boolean {
  return FINAL_STATES.has(state);
}

interface TaskRecord<C> extends Task<C> {
  state: TaskState;
  history: TaskState[];
  version: number;
  progress: number;
  steps: Map<string, StepState>;
  log: string[];
  result: unknown;
  error: string | undefined;
  startedAt: Date | undefined;
  cancelRequestedAt: Date | undefined;
  finishedAt: Date | undefined;
  readonly submission: TaskSubmission<C>;
  /** The pending pause of the running step. */
  timer: NodeJS.Timeout | undefined;
  readonly watchers: Set<() => void>;
}

// Node timers hold at most ~24.8 days; a longer wait simply has no timer.
const MAX_TIMER_MS = 2_147_483_647;

export function createTaskWorker<C>(options: TaskWorkerOptions = {}): TaskWorker<C> {
  const concurrency = options.concurrency ?? 1;
  const tasks: Map<string, TaskRecord<C>> = options.newMap?.() ?? new Map();
  const queue: TaskRecord<C>[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const releases = new Set<() => void>();
  let running = 0;

  function later(delayMs: number, action: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, Math.max(0, delayMs));
    timers.add(timer);
    return timer;
  }

  function changed(task: TaskRecord<C>): void {
    task.version += 1;
    for (const watcher of [...task.watchers]) watcher();
  }

  function setState(task: TaskRecord<C>, state: TaskState): void {
    task.state = state;
    task.history.push(state);
    changed(task);
  }

  function finish(task: TaskRecord<C>, state: 'completed' | 'cancelled' | 'failed'): void {
    const wasRunning = task.state === 'running' || (task.state === 'cancelRequested' && task.startedAt !== undefined);
    task.finishedAt = new Date();
    setState(task, state);
    if (wasRunning) {
      running -= 1;
      startNext();
    }
  }

  function fail(task: TaskRecord<C>, step: TaskStep<C>, error: unknown): void {
    task.steps.set(step.name, 'failed');
    for (const [name, state] of task.steps) if (state === 'waiting') task.steps.set(name, 'aborted');
    task.error = error instanceof Error ? error.message : String(error);
    finish(task, 'failed');
  }

  function runStep(task: TaskRecord<C>, pending: readonly TaskStep<C>[], index: number): void {
    const step = pending[index];
    if (step === undefined) {
      finish(task, 'completed');
      return;
    }
    const { steps, durationMs } = task.submission;
    const slotMs = durationMs / steps.length;
    const startedAt = performance.now();
    const progressAt = (share: number): number => (index + share) / pending.length;
    task.steps.set(step.name, 'running');
    changed(task);
    const report: StepReport = {
      log: (line) => {
        task.log.push(line);
        changed(task);
      },
      setResult: (value) => {
        task.result = value;
        changed(task);
      },
    };
    let parts: Iterator<number, void, undefined> | void;
    try {
      parts = step.run(task.context, report);
    } catch (error) {
      fail(task, step, error);
      return;
    }
    const advance = (): void => {
      if (task.state !== 'running') return;
      let next: IteratorResult<number, void> | undefined;
      try {
        next = parts?.next();
      } catch (error) {
        fail(task, step, error);
        return;
      }
      if (next === undefined || next.done === true) {
        task.timer = later(startedAt + slotMs - performance.now(), () => {
          task.steps.set(step.name, 'done');
          task.progress = progressAt(1);
          changed(task);
          runStep(task, pending, index + 1);
        });
        return;
      }
      const share = Math.min(1, Math.max(0, next.value));
      task.progress = progressAt(share);
      changed(task);
      task.timer = later(startedAt + share * slotMs - performance.now(), advance);
    };
    advance();
  }

  function startNext(): void {
    while (running < concurrency) {
      const task = queue.shift();
      if (task === undefined) return;
      if (task.state === 'cancelRequested') {
        finish(task, 'cancelled');
        continue;
      }
      running += 1;
      task.startedAt = new Date();
      setState(task, 'running');
      const skip = task.submission.skip ?? (() => false);
      for (const step of task.submission.steps) if (skip(step)) task.steps.set(step.name, 'skipped');
      runStep(task, task.submission.steps.filter((step) => !skip(step)), 0);
    }
  }

  function waitFor(task: TaskRecord<C>, reached: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (reached()) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const settle = (outcome: boolean): void => {
        clearTimeout(timer);
        task.watchers.delete(watch);
        releases.delete(release);
        signal.removeEventListener('abort', release);
        resolve(outcome);
      };
      const watch = (): void => {
        if (reached()) settle(true);
      };
      const release = (): void => settle(false);
      const timer = timeoutMs <= MAX_TIMER_MS ? setTimeout(release, timeoutMs) : undefined;
      task.watchers.add(watch);
      releases.add(release);
      signal.addEventListener('abort', release, { once: true });
    });
  }

  return {
    submit(submission) {
      const task: TaskRecord<C> = {
        id: randomUUID(),
        context: submission.context,
        state: 'waiting',
        history: ['waiting'],
        version: 1,
        progress: 0,
        steps: new Map(submission.steps.map((step) => [step.name, 'waiting'])),
        log: [],
        result: undefined,
        error: undefined,
        submittedAt: new Date(),
        startedAt: undefined,
        cancelRequestedAt: undefined,
        finishedAt: undefined,
        submission,
        timer: undefined,
        watchers: new Set(),
      };
      tasks.set(task.id, task);
      queue.push(task);
      // Starts on the next turn, so that the caller's answer always goes out while the task is waiting or just started.
      later(0, startNext);
      return task;
    },
    get: (id) => tasks.get(id),
    all: () => tasks.values(),
    cancel(task) {
      const record = tasks.get(task.id);
      if (record === undefined || (record.state !== 'waiting' && record.state !== 'running')) return;
      const wasRunning = record.state === 'running';
      record.cancelRequestedAt = new Date();
      setState(record, 'cancelRequested');
      if (wasRunning) {
        clearTimeout(record.timer);
        later(0, () => finish(record, 'cancelled'));
      }
    },
    waitForChange(task, knownVersion, timeoutMs, signal) {
      const record = tasks.get(task.id);
      if (record === undefined) return Promise.resolve(false);
      return waitFor(record, () => record.version > knownVersion, timeoutMs, signal);
    },
    waitForEnd(task, timeoutMs, signal) {
      const record = tasks.get(task.id);
      if (record === undefined) return Promise.resolve(false);
      return waitFor(record, () => isFinal(record.state), timeoutMs, signal);
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const release of [...releases]) release();
    },
  };
}
