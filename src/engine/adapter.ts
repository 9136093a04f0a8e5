// The contract between the engine and a backend. An adapter is a small external client in the
// Crossplane sense: it observes in bulk and applies one change; it never decides what to change.
// Everything slow on the backend side is a task the engine waits out through pollTask/cancelTask,
// so one waiting policy (deadline, progress, cancellation) serves every backend.
import type { Capabilities } from '../plan/capabilities.ts';
import type { Change } from '../plan/plan.ts';
import type { BackendState } from '../plan/state.ts';
import type { Sensitive } from '../model/sensitive.ts';

export interface ObserveScope {
  /** The declared domains served by this backend; adapters read per-domain data only for these. */
  domains: string[];
}

/** A backend task in progress. Serialisable, so a controller can resume waiting after a restart. */
export interface TaskRef {
  id: string;
  /** What the task does, in words (`move data of a@x to b@x`). */
  description: string;
  /** Backend-specific position in the task's status stream (MailStore's statusVersion). */
  cursor?: string | number;
}

export type TaskState = 'waiting' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface TaskStatus {
  state: TaskState;
  /** 0–100 where the backend reports it. */
  progress?: number;
  message?: string;
  cursor?: string | number;
}

export function isFinal(state: TaskState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'canceled';
}

export interface ApplyContext {
  /** Waits until the task ends (or the deadline cancels it); throws BackendError kind TaskFailed. */
  awaitTask(task: TaskRef): Promise<TaskStatus>;
  signal: AbortSignal;
}

export interface BackendAdapter {
  readonly capabilities: Capabilities;
  /** Reads the backend's whole state with list calls; the request count must not grow with users. */
  observe(scope: ObserveScope): Promise<BackendState>;
  /** Applies one change; idempotent: "already exists" and "already gone" count as success. */
  apply(change: Change, context: ApplyContext): Promise<void>;
  /** Asks how a task is doing, waiting on the backend side up to waitMs for news (long poll). */
  pollTask(task: TaskRef, waitMs: number): Promise<TaskStatus>;
  /** Asks the backend to cancel a task; the engine keeps polling until it is final. */
  cancelTask(task: TaskRef): Promise<void>;
  /**
   * Whether `password` is the user's current password, where the backend can tell. Used only for
   * users mailops has no record of, so that a fresh checkout (CI) does not plan needless resets.
   */
  verifyPassword?(address: string, password: Sensitive): Promise<boolean>;
  /** HTTP requests sent so far (every attempt counts). */
  readonly requestCount: number;
  close(): Promise<void>;
}

/**
 * What went wrong, as a kind a caller can branch on. The message is for a person: it names what
 * was asked and what the backend said, never a credential.
 */
export type BackendErrorKind =
  | 'NotFound'
  | 'Conflict'
  | 'Unauthorized'
  | 'Forbidden'
  | 'Invalid'
  | 'Unavailable'
  | 'Protocol'
  | 'TaskFailed'
  | 'Timeout'
  | 'Unsupported'
  /** The caller cancelled the call (an abort signal), or the client was closed under it. */
  | 'Aborted';

export class BackendError extends Error {
  readonly kind: BackendErrorKind;
  readonly status: number | undefined;

  constructor(kind: BackendErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackendError';
    this.kind = kind;
    this.status = options.status;
  }
}

export function isBackendError(error: unknown, kind?: BackendErrorKind): error is BackendError {
  return error instanceof BackendError && (kind === undefined || error.kind === kind);
}
