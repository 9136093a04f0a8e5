// Observing one backend: one bulk read, its cost in requests, and, when it fails, the error as a
// typed value (for status) and as one line a person can act on (for the CLI).
import type { BackendDecl, Config } from '../model/config.ts';
import type { Observation } from '../plan/index.ts';
import { BackendError, isBackendError, type BackendAdapter, type ObserveScope, type TaskRef, type TaskStatus } from './adapter.ts';
import { waitForTask } from './tasks.ts';

/** What the engine knows of a backend: the plan's Observation, with the error kept typed. */
export interface BackendObservation extends Observation {
  failure?: BackendError;
  /** When it was read (epoch ms); a long-lived reconciler observes again after its resync interval. */
  observedAt: number;
}

/** What to observe on a backend; `previousAddresses` are addresses declared users had before a change. */
export function observeScope(config: Config, backendId: string, previousAddresses: readonly string[] = []): ObserveScope {
  const domains = config.domains.filter((d) => d.backendIds.includes(backendId));
  const users = config.users.filter((u) => u.backendIds.includes(backendId)).map((u) => u.address);
  const declared = new Set(users);
  const aliases = config.aliases.filter((a) => a.backendIds.includes(backendId) && a.members.length === 1);
  return {
    domains: domains.map((d) => d.domain),
    throttledUsers: config.users.filter((u) => u.throttle && u.backendIds.includes(backendId)).map((u) => u.address),
    users,
    previousAddresses: previousAddresses.filter((a) => !declared.has(a)),
    pruneDomains: domains.filter((d) => d.prune.enabled).map((d) => d.domain),
    aliases: Object.fromEntries(aliases.map((a) => [a.address, a.members[0]!])),
  };
}

export interface ObserveOptions {
  signal?: AbortSignal;
  /** `mailops export`: find what the backend holds besides what the configuration declares (ObserveScope.discover). */
  discover?: ObserveScope['discover'];
  onTaskProgress?: (task: TaskRef, status: TaskStatus) => void;
}

export async function observeBackend(backend: BackendDecl, adapter: BackendAdapter | BackendError, scope: ObserveScope, options: ObserveOptions = {}): Promise<BackendObservation> {
  const observedAt = Date.now();
  if (adapter instanceof BackendError) return failed(backend, adapter, 0, observedAt);
  const before = adapter.requestCount;
  const signal = options.signal ?? new AbortController().signal;
  try {
    // Any call may turn into a task on some backends (MailStore): observing waits it out too.
    const state = await adapter.observe(scope, {
      signal,
      awaitTask: (task) =>
        waitForTask(adapter, task, {
          deadline: Date.now() + backend.limits.taskTimeoutSeconds * 1000,
          timeLimitSeconds: backend.limits.taskTimeoutSeconds,
          signal, ...(options.onTaskProgress ? { onProgress: options.onTaskProgress } : {}),
        }),
    });
    return { backendId: backend.id, state, capabilities: adapter.capabilities, requests: adapter.requestCount - before, observedAt };
  } catch (error) {
    return failed(backend, asBackendError(error), adapter.requestCount - before, observedAt);
  }
}

function failed(backend: BackendDecl, failure: BackendError, requests: number, observedAt: number): BackendObservation {
  return { backendId: backend.id, error: failureLine(backend, failure), failure, requests, observedAt };
}

/** `backend "james" (http://…): <reason>` — what a person needs, no stack trace. */
export function failureLine(backend: Pick<BackendDecl, 'id' | 'name' | 'url'>, error: unknown): string {
  // With its namespace where that is not `default`: two namespaces may reuse a name.
  const name = backend.id.startsWith('default/') ? backend.name : backend.id;
  return `backend "${name}" (${backend.url}): ${describeError(error)}`;
}

export function describeError(error: unknown): string {
  if (isBackendError(error)) return error.message;
  if (error instanceof Error) return `unexpected error: ${error.message}`;
  return `unexpected error: ${String(error)}`;
}

/** Anything thrown at the backend boundary, as a BackendError (an unexpected one keeps its cause). */
export function asBackendError(error: unknown): BackendError {
  if (isBackendError(error)) return error;
  return new BackendError('Internal', describeError(error), { cause: error });
}
