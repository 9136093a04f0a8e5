// MailStore's status tokens on the emulator framework's task worker (../../emulator/tasks.ts). Every call runs as a
// task; a quick one ends before the caller's answer is written, a slow one (long-running by nature, or made slow
// with --slow) reports progress and log lines, each change moving its status version, and does its work at the
// end — so a cancelled call changes nothing. The two forms keep statuses differently (mailstore.md): the current
// form until the session ends (here: a retention time after the end; then get-status answers 404), the legacy form
// until its final state has been delivered once.

import { randomBytes, randomUUID } from 'node:crypto';
import { createTaskWorker, isFinal, type Task, type TaskWorker } from '../../emulator/tasks.ts';
import type { MeteredStore } from '../../emulator/store.ts';
import { MailStoreRefusal } from './store.ts';

export type ApiForm = 'current' | 'legacy';

export interface CallContext {
  readonly fn: string;
  readonly form: ApiForm;
  readonly token: string;
  /** Log lines, each with the status version it was added at (get-status sends those past the one the caller knows). */
  readonly lines: Array<{ version: number; text: string }>;
  /** Why the call failed, as the function refused it. */
  refusal?: { message: string; details: string | null };
  task?: Task<CallContext>;
}

export interface CallPlan {
  readonly durationMs: number;
  /** Logged one by one, the call's time shared among them. */
  readonly lines: readonly string[];
  /** Does the call's work at its end: its result, or a throw that fails it. */
  run(): unknown;
}

export interface StatusView {
  readonly token: string;
  readonly fn: string;
  readonly statusCode: string;
  readonly statusVersion: number;
  readonly percentProgress: number;
  /** Log lines past `lastKnownStatusVersion`. */
  readonly lines: readonly string[];
  readonly result: unknown;
  readonly error: { message: string; details: string | null } | null;
  readonly final: boolean;
}

export interface CallRegistry {
  start(fn: string, form: ApiForm, plan: CallPlan): Task<CallContext>;
  find(token: string): Task<CallContext> | undefined;
  status(task: Task<CallContext>, lastKnownStatusVersion: number): StatusView;
  /** Legacy: the status is gone once its final state was delivered. */
  delivered(task: Task<CallContext>): void;
  cancel(task: Task<CallContext>): void;
  /** Forgets every token, as a restarted server would. */
  forgetAll(): void;
  all(): Task<CallContext>[];
  readonly worker: TaskWorker<CallContext>;
}

export function createCallRegistry(collections: MeteredStore, retentionMs: number): CallRegistry {
  // MailStore runs calls side by side.
  const worker = createTaskWorker<CallContext>({ concurrency: 64, newMap: () => collections.map() });
  const byToken = collections.map<string, Task<CallContext>>();

  const expired = (task: Task<CallContext>) =>
    task.context.form === 'current' && task.finishedAt !== undefined && Date.now() - task.finishedAt.getTime() > retentionMs;

  return {
    worker,
    start(fn, form, plan) {
      // The current form's tokens look like the wrapper's ('d242d822…'), the legacy ones like the seed's GUID.
      const token = form === 'current' ? randomBytes(16).toString('hex') : randomUUID().toUpperCase();
      const context: CallContext = { fn, form, token, lines: [] };
      const lines = plan.lines;
      const task = worker.submit({
        context,
        durationMs: plan.durationMs,
        steps: [{
          name: fn,
          *run(ctx, report) {
            for (const [index, line] of lines.entries()) {
              report.log(line);
              ctx.lines.push({ version: ctx.task!.version, text: line });
              yield (index + 1) / lines.length;
            }
            try {
              report.setResult(plan.run() ?? null);
            } catch (error) {
              ctx.refusal = error instanceof MailStoreRefusal ? { message: error.message, details: error.details } : { message: String((error as Error).message ?? error), details: null };
              throw error;
            }
          },
        }],
      });
      context.task = task;
      byToken.set(token, task);
      return task;
    },
    find(token) {
      const task = byToken.get(token);
      if (task !== undefined && expired(task)) {
        byToken.delete(token);
        return undefined;
      }
      return task;
    },
    status(task, lastKnownStatusVersion) {
      const { context } = task;
      const final = isFinal(task.state);
      const statusCode = task.state === 'completed' ? 'succeeded' : task.state === 'failed' ? 'failed' : task.state === 'cancelled' ? 'cancelled' : 'running';
      const error = task.state === 'failed'
        ? (context.refusal ?? { message: task.error ?? 'The operation failed.', details: null })
        : task.state === 'cancelled' ? { message: 'The operation has been cancelled.', details: null } : null;
      return {
        token: context.token,
        fn: context.fn,
        statusCode,
        statusVersion: task.version,
        percentProgress: Math.round(task.progress * 100),
        lines: context.lines.filter((line) => line.version > lastKnownStatusVersion).map((line) => line.text),
        result: task.state === 'completed' ? (task.result ?? null) : null,
        error,
        final,
      };
    },
    delivered(task) {
      if (isFinal(task.state)) byToken.delete(task.context.token);
    },
    cancel(task) {
      worker.cancel(task);
    },
    forgetAll() {
      byToken.clear();
    },
    all: () => [...byToken.values()],
  };
}
