// Observing every backend at once. A backend that fails is reported in one line (name, URL,
// reason) and planned for no changes; the others go on.
import type { BackendDecl, Config } from '../model/config.ts';
import type { Observation } from '../plan/index.ts';
import { isBackendError, type BackendAdapter } from './adapter.ts';

/** An adapter per backend, or the reason there is none (unsupported type…). */
export type Connections = ReadonlyMap<string, BackendAdapter | Error>;

export function observeScope(config: Config, backendId: string): { domains: string[] } {
  return { domains: config.domains.filter((d) => d.backendIds.includes(backendId)).map((d) => d.domain) };
}

export async function observeBackends(config: Config, connections: Connections): Promise<Map<string, Observation>> {
  const entries = await Promise.all(
    config.backends.map(async (backend): Promise<[string, Observation]> => {
      const adapter = connections.get(backend.id);
      if (!adapter || adapter instanceof Error) {
        return [backend.id, { backendId: backend.id, error: failureLine(backend, adapter ?? new Error('no adapter')), requests: 0 }];
      }
      const before = adapter.requestCount;
      try {
        const state = await adapter.observe(observeScope(config, backend.id));
        return [backend.id, { backendId: backend.id, state, capabilities: adapter.capabilities, requests: adapter.requestCount - before }];
      } catch (error) {
        return [backend.id, { backendId: backend.id, error: failureLine(backend, error), requests: adapter.requestCount - before }];
      }
    }),
  );
  return new Map(entries);
}

/** `backend "james" (http://…): <reason>` — what a person needs, no stack trace. */
export function failureLine(backend: Pick<BackendDecl, 'name' | 'url'>, error: unknown): string {
  return `backend "${backend.name}" (${backend.url}): ${describeError(error)}`;
}

export function describeError(error: unknown): string {
  if (isBackendError(error)) return error.message;
  if (error instanceof Error) return `unexpected error: ${error.message}`;
  return `unexpected error: ${String(error)}`;
}
