// From a configuration and what each backend reported, the plan: for the whole configuration, or
// for some of its objects (a long-lived reconciler plans one object at a time). Pure.
import { objectKey, type Config } from '../model/config.ts';
import type { Capabilities } from './capabilities.ts';
import { desiredStateFor, type PasswordsByUser } from './desired.ts';
import { diffBackend } from './diff.ts';
import type { BackendPlan, Change, Plan } from './plan.ts';
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
  /**
   * Plan only for these objects (objectKeys). The changes they depend on come along (a user's
   * creation needs its domain's), so the plan applies in a correct order on its own.
   */
  owners?: ReadonlySet<string>;
}

export function buildPlan(input: PlanInput): Plan {
  const owners = input.owners;
  const owned = (ref: Parameters<typeof objectKey>[0]) => !owners || owners.has(objectKey(ref));
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
    const diff = diffBackend({
      desired,
      observed: observation.state,
      records: input.records(backend.id),
      capabilities: observation.capabilities,
      allowMassDeletion: input.allowMassDeletion ?? false,
    });
    return {
      ...base,
      changes: owners ? withDependencies(diff.changes, (c) => owned(c.owner)) : diff.changes,
      notApplicable: desired.notApplicable.filter((na) => owned(na.owner)),
      unmanaged: diff.unmanaged.filter((u) => owned(u.owner)),
      refusals: diff.refusals.filter((r) => owned(r.owner)),
    };
  });
  return { backends, skippedDocuments: input.config.skippedDocuments, notes: input.config.notes };
}

/** The changes `wanted` selects and, transitively, the ones they depend on, in plan order. */
function withDependencies(changes: Change[], wanted: (change: Change) => boolean): Change[] {
  const byId = new Map(changes.map((c) => [c.id, c]));
  const keep = new Set<string>();
  const pending = changes.filter(wanted).map((c) => c.id);
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (keep.has(id)) continue;
    keep.add(id);
    for (const dependency of byId.get(id)?.dependsOn ?? []) pending.push(dependency);
  }
  return changes.filter((c) => keep.has(c.id));
}
