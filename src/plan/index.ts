// From a configuration and what each backend reported, the whole plan. Pure.
import type { Config } from '../model/config.ts';
import type { Capabilities } from './capabilities.ts';
import { desiredStateFor, type PasswordsByUser } from './desired.ts';
import { diffBackend } from './diff.ts';
import type { BackendPlan, Plan } from './plan.ts';
import type { AppliedRecord, BackendState } from './state.ts';

export * from './plan.ts';
export type { Capabilities } from './capabilities.ts';

export interface Observation {
  backendId: string;
  /** What the backend holds; absent when it could not be observed. */
  state?: BackendState;
  capabilities?: Capabilities;
  error?: string;
  requests: number;
}

export interface PlanInput {
  config: Config;
  observations: ReadonlyMap<string, Observation>;
  records: (backendId: string) => ReadonlyMap<string, AppliedRecord>;
  passwords: PasswordsByUser;
  allowMassDeletion?: boolean;
}

export function buildPlan(input: PlanInput): Plan {
  const backends: BackendPlan[] = input.config.backends.map((backend) => {
    const observation = input.observations.get(backend.id);
    const base = {
      backendId: backend.id,
      backendName: backend.name,
      backendType: backend.type,
      url: backend.url,
      requests: observation?.requests ?? 0,
    };
    if (!observation?.state || !observation.capabilities) {
      return { ...base, changes: [], notApplicable: [], unmanaged: [], refusals: [], error: observation?.error ?? 'not observed' };
    }
    const desired = desiredStateFor(input.config, backend.id, backend.type, observation.capabilities, input.passwords);
    const { changes, refusals, unmanaged } = diffBackend({
      desired,
      observed: observation.state,
      records: input.records(backend.id),
      capabilities: observation.capabilities,
      allowMassDeletion: input.allowMassDeletion ?? false,
    });
    return { ...base, changes, notApplicable: desired.notApplicable, unmanaged, refusals };
  });
  return { backends, skippedDocuments: input.config.skippedDocuments };
}
