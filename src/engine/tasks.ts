// Waiting out a backend task: long-poll until it ends, report progress, and cancel it when the
// deadline passes. One policy for every backend (James's /tasks/{id}/await, MailStore's status
// tokens), so that an object only counts as done when the work behind it is.
//
// Two modes: `block` waits until the task is final (the CLI); `poll` looks once and, when the task
// is still running, throws TaskPending so that a long-lived reconciler is never held up by it and
// looks again on the next reconcile (Crossplane's "not ready yet, look again").
import { BackendError, TaskPending, isBackendError, isFinal, type BackendAdapter, type TaskRef, type TaskStatus } from './adapter.ts';

export interface TaskWaitOptions {
  mode?: 'block' | 'poll';
  /** When the task must have ended (epoch ms); past it, the task is cancelled. */
  deadline: number;
  /** The time limit behind the deadline, for messages (limits.taskTimeoutSeconds). */
  timeLimitSeconds?: number;
  /** Longest single poll; backends hold the request open until news or this much time. */
  pollMs?: number;
  /** After cancelling, how long to wait for the backend to confirm (block mode). */
  cancelGraceMs?: number;
  onProgress?: (task: TaskRef, status: TaskStatus) => void;
  signal?: AbortSignal;
}

export async function waitForTask(adapter: BackendAdapter, task: TaskRef, options: TaskWaitOptions): Promise<TaskStatus> {
  const mode = options.mode ?? 'block';
  // A reconciler that polls only takes a short look: its worker has other objects to see to.
  const pollMs = options.pollMs ?? (mode === 'poll' ? 1000 : 20_000);
  let cancelled = false;
  let cancelDeadline = 0;
  let current: TaskRef = task;
  for (;;) {
    const now = Date.now();
    const overdue = now >= options.deadline;
    if (!cancelled && (overdue || options.signal?.aborted)) {
      await adapter.cancelTask(current);
      cancelled = true;
      cancelDeadline = now + (options.cancelGraceMs ?? 30_000);
    }
    if (cancelled && mode === 'block' && now >= cancelDeadline) {
      throw new BackendError('Timeout', `${task.description}: task ${task.id} did not finish in time, and did not confirm its cancellation`);
    }
    const remaining = (cancelled ? cancelDeadline : options.deadline) - now;
    let status: TaskStatus;
    try {
      // An interruption ends the current poll at once, so that the task is cancelled promptly;
      // the polls that follow the cancellation run to their end.
      status = await adapter.pollTask(current, Math.max(1000, Math.min(pollMs, remaining)), cancelled ? undefined : options.signal);
    } catch (error) {
      if (isBackendError(error, 'Aborted') && options.signal?.aborted && !cancelled) continue;
      throw error;
    }
    if (status.cursor !== undefined) current = { ...current, cursor: status.cursor };
    options.onProgress?.(current, status);
    if (!isFinal(status.state)) {
      if (mode === 'poll') throw new TaskPending(current, status);
      continue;
    }
    if (status.state === 'succeeded') return status;
    if (status.state === 'canceled' && (cancelled || overdue)) {
      const limit = options.timeLimitSeconds !== undefined ? `${options.timeLimitSeconds}s` : 'its time limit';
      const why = options.signal?.aborted ? 'the run was interrupted' : `it did not finish within ${limit} (limits.taskTimeoutSeconds)`;
      throw new BackendError('Timeout', `${task.description}: task ${task.id} was cancelled because ${why}`);
    }
    throw new BackendError('TaskFailed', `${task.description}: ${status.message ?? `task ${task.id} ${status.state}`}`);
  }
}
