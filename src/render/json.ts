// The machine-readable plan and apply results. The shapes are defined once here as JSON Schema
// (docs/plan-output.schema.json is generated from them, and a test keeps both in step); fields are
// only ever added within a formatVersion.
import Type, { type Static } from 'typebox';
import { summarize, type Change, type Plan } from '../plan/index.ts';
import type { ApplyReport } from '../engine/engine.ts';
import { countResults } from './text.ts';

export const PLAN_FORMAT = 'mailops.dev/plan/v1';
export const APPLY_FORMAT = 'mailops.dev/apply/v1';

const Source = Type.Object({ file: Type.String(), line: Type.Integer(), column: Type.Integer() });
const Owner = Type.Object({ kind: Type.String(), namespace: Type.String(), name: Type.String(), source: Source });

const FieldChangeDoc = Type.Object({
  field: Type.String({ description: 'Dotted field path, e.g. quota.storage.' }),
  sensitive: Type.Boolean({ description: 'The value is secret; before/after are never given.' }),
  before: Type.Optional(Type.Unknown()),
  after: Type.Optional(Type.Unknown()),
  added: Type.Optional(Type.Array(Type.String())),
  removed: Type.Optional(Type.Array(Type.String())),
  note: Type.Optional(Type.String()),
});

const ChangeDoc = Type.Object({
  id: Type.String({ description: 'Unique within the backend: <resource>:<key>.' }),
  action: Type.Enum(['create', 'update', 'delete', 'replace']),
  resource: Type.Enum(['domain', 'user', 'group', 'globalQuota'], { description: 'group = an Alias object' }),
  key: Type.String({ description: 'Domain name, address, or "global".' }),
  renameFrom: Type.Union([Type.String(), Type.Null()], { description: 'replace only: the old address.' }),
  reason: Type.Union([Type.String(), Type.Null()]),
  owner: Owner,
  fields: Type.Array(FieldChangeDoc),
});

const NotApplicableDoc = Type.Object({
  resource: Type.String(),
  key: Type.String(),
  field: Type.String(),
  reason: Type.String(),
  owner: Owner,
});

const UnmanagedDoc = Type.Object({
  resource: Type.String(),
  key: Type.String(),
  owner: Owner,
  fields: Type.Array(Type.Object({ field: Type.String(), value: Type.Unknown({ description: 'As observed on the backend.' }) })),
}, { description: 'Fields of a declared object that the configuration leaves unset: observed, never changed.' });

const BackendDoc = Type.Object({
  id: Type.String({ description: 'namespace/name of the MailBackend.' }),
  name: Type.String(),
  type: Type.String(),
  url: Type.String(),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the backend could not be observed.' }),
  requests: Type.Integer({ description: 'HTTP requests spent observing the backend.' }),
  refusals: Type.Array(Type.String(), { description: 'Safety-valve refusals; the run does not go ahead.' }),
  changes: Type.Array(ChangeDoc),
  notApplicable: Type.Array(NotApplicableDoc),
  unmanaged: Type.Array(UnmanagedDoc),
});

const Summary = Type.Object({ create: Type.Integer(), update: Type.Integer(), delete: Type.Integer() });

export const PlanDocument = Type.Object({
  formatVersion: Type.Literal(PLAN_FORMAT),
  summary: Summary,
  hasChanges: Type.Boolean(),
  skippedDocuments: Type.Integer({ description: 'Documents of other API groups that were read and left alone.' }),
  notes: Type.Array(Type.String(), { description: 'What mailops changed in how the configuration was written (addresses in lower case).' }),
  backends: Type.Array(BackendDoc),
});
export type PlanDocument = Static<typeof PlanDocument>;

export const ApplyDocument = Type.Object({
  formatVersion: Type.Literal(APPLY_FORMAT),
  plan: PlanDocument,
  results: Type.Array(
    Type.Object({
      backend: Type.String(),
      changeId: Type.String(),
      action: Type.String(),
      outcome: Type.Enum(['applied', 'failed', 'skipped', 'pending']),
      error: Type.Union([Type.String(), Type.Null()]),
      errorKind: Type.Union([Type.String(), Type.Null()]),
      durationMs: Type.Integer(),
    }),
  ),
  outcome: Type.Enum(['complete', 'incomplete', 'refused'], {
    description: 'complete: every change applied; refused: a safety valve stopped the run before anything was applied.',
  }),
  summary: Type.Object({ applied: Type.Integer(), failed: Type.Integer(), skipped: Type.Integer(), pending: Type.Integer() }),
  requests: Type.Record(Type.String(), Type.Integer(), { description: 'HTTP requests spent applying, per backend id.' }),
});
export type ApplyDocument = Static<typeof ApplyDocument>;

export function toPlanDocument(plan: Plan): PlanDocument {
  const summary = summarize(plan);
  return {
    formatVersion: PLAN_FORMAT,
    summary,
    hasChanges: summary.create + summary.update + summary.delete > 0,
    skippedDocuments: plan.skippedDocuments ?? 0,
    notes: plan.notes ?? [],
    backends: plan.backends.map((b) => ({
      id: b.backendId,
      name: b.backendName,
      type: b.backendType,
      url: b.url,
      error: b.error ?? null,
      requests: b.requests,
      refusals: b.refusals.map((r) => r.message),
      changes: b.changes.map(changeDoc),
      notApplicable: b.notApplicable.map((na) => ({
        resource: na.resource,
        key: na.key,
        field: na.field,
        reason: na.reason,
        owner: ownerDoc(na.owner),
      })),
      unmanaged: b.unmanaged.map((u) => ({ resource: u.resource, key: u.key, owner: ownerDoc(u.owner), fields: u.fields })),
    })),
  };
}

function ownerDoc(owner: Change['owner']) {
  return { kind: owner.kind, namespace: owner.namespace, name: owner.name, source: { ...owner.source } };
}

function changeDoc(change: Change) {
  return {
    id: change.id,
    action: change.action,
    resource: change.resource,
    key: change.key,
    renameFrom: (change.resource === 'user' && change.renameFrom) || null,
    reason: change.reason ?? null,
    owner: ownerDoc(change.owner),
    // Built field by field, so that a value can only appear where it is not sensitive.
    fields: change.fields.map((f) =>
      f.sensitive
        ? { field: f.field, sensitive: true, ...(f.note ? { note: f.note } : {}) }
        : {
            field: f.field,
            sensitive: false,
            ...(f.before !== undefined ? { before: f.before } : {}),
            ...(f.after !== undefined ? { after: f.after } : {}),
            ...(f.added ? { added: f.added } : {}),
            ...(f.removed ? { removed: f.removed } : {}),
            ...(f.note ? { note: f.note } : {}),
          },
    ),
  };
}

export function toApplyDocument(plan: Plan, report: ApplyReport): ApplyDocument {
  const summary = countResults(report);
  const refused = plan.backends.some((b) => b.refusals.length > 0);
  const unreachable = plan.backends.some((b) => b.error);
  return {
    formatVersion: APPLY_FORMAT,
    plan: toPlanDocument(plan),
    outcome: refused ? 'refused' : summary.failed + summary.skipped + summary.pending > 0 || unreachable ? 'incomplete' : 'complete',
    results: report.results.map((r) => ({
      backend: r.backendId,
      changeId: r.change.id,
      action: r.change.action,
      outcome: r.outcome,
      error: r.error ?? null,
      errorKind: r.errorKind ?? null,
      durationMs: r.durationMs,
    })),
    summary,
    requests: Object.fromEntries(report.requests),
  };
}
