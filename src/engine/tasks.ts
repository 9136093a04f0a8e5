// Waiting out a backend task: long-poll until it ends, report progress, and cancel it when the
// deadline passes. One policy for every backend (James's /tasks/{id}/await, MailStore's status
// tokens), so that an object only counts as done when the work behind it is.
import { BackendError, isFinal, type BackendAdapter, type TaskRef, type TaskStatus } from './adapter.ts';

export interface TaskWaitOptions {
  deadlineMs: number;
  /** Longest single poll; backends hold the request open until news or this much time. */
  pollMs?: number;
  /** After cancelling, how long to wait for the backend to confirm. */
  cancelGraceMs?: number;
  onProgress?: (task: TaskRef, status: TaskStatus) => void;
  signal?: AbortSignal;
}

export async function waitForTask(adapter: BackendAdapter, task: TaskRef, options: TaskWaitOptions): Promise<TaskStatus> {
  const pollMs = options.pollMs ?? 20_000;
  const deadline = Date.now() + options.deadlineMs;
  let cancelled = false;
  let cancelDeadline = 0;
  let current: TaskRef = task;
  for (;;) {
    const now = Date.now();
    if (!cancelled && (now >= deadline || options.signal?.aborted)) {
      await adapter.cancelTask(current);
      cancelled = true;
      cancelDeadline = now + (options.cancelGraceMs ?? 30_000);
    }
    if (cancelled && now >= cancelDeadline) {
      throw new BackendError('Timeout', `${task.description}: task ${task.id} did not finish in time, and did not confirm its cancellation`);
    }
    const remaining = (cancelled ? cancelDeadline : deadline) - now;
    const status = await adapter.pollTask(current, Math.max(1000, Math.min(pollMs, remaining)));
    if (status.cursor !== undefined) current = { ...current, cursor: status.cursor };
    options.onProgress?.(current, status);
    if (!isFinal(status.state)) continue;
    if (status.state === 'succeeded') return status;
    if (cancelled) {
      const why = options.signal?.aborted ? 'the run was interrupted' : `it did not finish within ${Math.round(options.deadlineMs / 1000)}s`;
      throw new BackendError('Timeout', `${task.description}: task ${task.id} was cancelled because ${why}`);
    }
    throw new BackendError('TaskFailed', `${task.description}: ${status.message ?? `task ${task.id} ${status.state}`}`);
  }
}
