// The contract between the engine and a backend. An adapter is a small external client in the
// Crossplane sense: it observes in bulk and applies one change; it never decides what to change.
// Everything slow on the backend side is a task the engine waits out (or, in a long-lived
// reconciler, looks at again later) through pollTask/cancelTask, so one waiting policy (deadline,
// progress, cancellation, resumption after a restart) serves every backend.
import type { Logger } from '../log.ts';
import type { BackendDecl } from '../model/config.ts';
import { redactSecrets, type Sensitive } from '../model/sensitive.ts';
import type { Capabilities } from '../plan/capabilities.ts';
import type { Change } from '../plan/plan.ts';
import type { BackendState } from '../plan/state.ts';

export interface ObserveScope {
  /** The declared domains served by this backend; adapters read per-domain data only for these. */
  domains: string[];
  /**
   * Declared users of this backend whose QuotaPolicy throttles them. A backend that reads throttle
   * settings one account at a time (iRedAdmin-Pro) reads these users' only, so that observing
   * costs requests per domain, not per user.
   */
  throttledUsers?: string[];
  /** For backends that must read users one at a time (MailStore): the addresses of the users the configuration manages there. */
  users?: string[];
  /** The addresses some of those users had before an address change (the plan moves them from there). */
  previousAddresses?: string[];
  /** Of `domains`, those whose MailDomain prunes: their undeclared users must be seen too. */
  pruneDomains?: string[];
  /** Declared aliases with a single member: address → member (MailStore keeps them as user addresses). */
  aliases?: Record<string, string>;
  /**
   * `mailops export` (adoption): report every user and alias of these domains (null: of every
   * domain the backend holds) as fully as declared ones, and every address of a user as its own.
   * The export then reads the backend again with the ordinary scope of the manifests it wrote, as
   * `plan` will, so an adapter only needs this to find what is there.
   */
  discover?: { domains: readonly string[] | null };
}

/** The domains an adapter reads per-domain data for: the declared ones, or what an export discovers. */
export function domainsToRead(scope: ObserveScope, present: Iterable<string>): string[] {
  const have = new Set(present);
  const wanted = scope.discover ? (scope.discover.domains ?? [...have]) : scope.domains;
  return [...new Set(wanted)].filter((domain) => have.has(domain));
}

/** A backend task in progress. Serialisable: it is recorded so that a later run can resume it. */
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

/** What a backend call needs from the engine whenever it may turn into a task. */
export interface TaskContext {
  signal: AbortSignal;
  /**
   * Waits until the task ends; throws BackendError kind TaskFailed (or Timeout after cancelling
   * it at the deadline). In a long-lived reconciler it may instead throw TaskPending: the task is
   * recorded and looked at again on the next reconcile.
   */
  awaitTask(task: TaskRef): Promise<TaskStatus>;
}

/**
 * Where a multi-step operation stands, as the adapter describes it. The engine stores it durably
 * (file mode: the state directory; the controller: the object's status) before anything slow
 * happens, and hands it back when a later run applies the same change again.
 */
export interface Checkpoint {
  /** The last step that completed, in the adapter's words (`created`, `aliases-detached` …). */
  step: string;
  /** A task started by the current step, waited out by the engine. */
  task?: TaskRef;
  /** What the next steps need and can no longer observe (e.g. aliases taken off a user). */
  data?: Record<string, unknown>;
}

export interface ApplyContext extends TaskContext {
  /** The checkpoint a previous run of this same change left behind (it died or was stopped). */
  resumeFrom?: Checkpoint;
  /** Records where the operation stands; resolves once it is durable. */
  checkpoint(state: Checkpoint): Promise<void>;
  /**
   * Records the task with the current step, then waits it out. The task is recorded before the
   * first poll, so a run that dies while waiting resumes waiting instead of starting it again.
   */
  awaitTask(task: TaskRef, state?: Omit<Checkpoint, 'task'>): Promise<TaskStatus>;
}

export interface BackendAdapter {
  readonly capabilities: Capabilities;
  /** Reads the backend's whole state with list calls; the request count must not grow with users. */
  observe(scope: ObserveScope, context: TaskContext): Promise<BackendState>;
  /** Applies one change; idempotent: "already exists" and "already gone" count as success. */
  apply(change: Change, context: ApplyContext): Promise<void>;
  /** Asks how a task is doing, waiting on the backend side up to waitMs for news (long poll). */
  pollTask(task: TaskRef, waitMs: number, signal?: AbortSignal): Promise<TaskStatus>;
  /** Asks the backend to cancel a task; the engine keeps polling until it is final. */
  cancelTask(task: TaskRef): Promise<void>;
  /**
   * Whether `password` is the user's current password, where the backend can tell. Used only for
   * users mailops has no usable record of, so that a fresh checkout (CI) plans no needless resets.
   */
  verifyPassword?(address: string, password: Sensitive): Promise<boolean>;
  /** HTTP requests sent so far (every attempt that reached the server counts). */
  readonly requestCount: number;
  close(): Promise<void>;
}

/** The credentials a MailBackend's secret references resolved to. */
export interface BackendCredentials {
  username?: string;
  password?: Sensitive;
  token?: Sensitive;
  /** Secrets the backend's settings block references, by their path in it (`contextAdmin.passwordSecretRef`). */
  optionSecrets?: Readonly<Record<string, Sensitive>>;
  /** The PEM CA bundle the server's certificate is verified against (caFile, caBundleSecretRef); absent: the system's CAs. */
  caBundle?: string;
}

/**
 * Builds the adapter of one backend. The composition root (CLI, controller, watcher) provides it,
 * so that the engine knows no backend by name.
 */
export type AdapterFactory = (backend: BackendDecl, credentials: BackendCredentials, log: Logger) => BackendAdapter;

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
  | 'Aborted'
  /** A fault of mailops itself, not of the backend. */
  | 'Internal';

export class BackendError extends Error {
  readonly kind: BackendErrorKind;
  readonly status: number | undefined;

  constructor(kind: BackendErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    // The message may quote a backend's answer, and the answer what it was sent (model/sensitive.ts).
    super(redactSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackendError';
    this.kind = kind;
    this.status = options.status;
  }
}

export function isBackendError(error: unknown, kind?: BackendErrorKind): error is BackendError {
  return error instanceof BackendError && (kind === undefined || error.kind === kind);
}

/**
 * Thrown by `awaitTask` in a long-lived reconciler when a task is still running: not a failure.
 * The task was recorded; the change is reported as pending, and the next reconcile resumes it.
 */
export class TaskPending extends Error {
  readonly task: TaskRef;
  readonly status: TaskStatus;
  constructor(task: TaskRef, status: TaskStatus) {
    super(`${task.description}: task ${task.id} is ${status.state}${status.progress !== undefined ? ` (${status.progress}%)` : ''}`);
    this.name = 'TaskPending';
    this.task = task;
    this.status = status;
  }
}
