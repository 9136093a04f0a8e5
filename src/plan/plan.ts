// The plan is data: an ordered list of changes per backend, each with before/after values and
// field-level differences, sensitive values marked. Rendering (text, JSON, markdown) and applying
// are done elsewhere from the same data.
import { objectKey, type ObjectRef } from '../model/config.ts';
import type { DomainState, GlobalLimits, GroupState, NotApplicable, ResourceKind, Unmanaged, UserState } from './state.ts';
import type { DesiredDomain, DesiredGroup, DesiredUser } from './state.ts';

/** A reason the run must not go ahead (the prune safety valve), and the object it comes from. */
export interface Refusal {
  owner: ObjectRef;
  message: string;
}

/**
 * create `+`, update `~`, delete `-`, and replace `±`: an address change that creates the new
 * object, moves the data across and deletes the old one (the old address is in `renameFrom`).
 */
export type Action = 'create' | 'update' | 'delete' | 'replace';

export interface FieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
  /** Set-valued fields: what is added and removed. */
  added?: string[];
  removed?: string[];
  /** Never show the value (passwords). */
  sensitive?: boolean;
  /** Why the change is there when it is not obvious (e.g. no password was recorded). */
  note?: string;
}

interface ChangeBase {
  /** Unique within the backend's plan: `<resource>:<key>`. */
  id: string;
  action: Action;
  key: string;
  /** The manifest object the change serves; for prune deletes, the pruning MailDomain. */
  owner: ObjectRef;
  fields: FieldChange[];
  /** Ids of changes that must succeed first (a user waits for its domain to be created). */
  dependsOn: string[];
  /** Why a delete happens, in words. */
  reason?: string;
}

export interface DomainChange extends ChangeBase {
  resource: 'domain';
  before: DomainState | null;
  after: DesiredDomain | null;
}

export interface UserChange extends ChangeBase {
  resource: 'user';
  before: UserState | null;
  after: DesiredUser | null;
  /** For `replace`: the address the data moves from. */
  renameFrom?: string;
}

export interface GroupChange extends ChangeBase {
  resource: 'group';
  before: GroupState | null;
  after: DesiredGroup | null;
}

export interface GlobalQuotaChange extends ChangeBase {
  resource: 'globalQuota';
  before: GlobalLimits;
  /** The global level as it will be: what the configuration manages there, the rest as before. */
  after: GlobalLimits;
}

export type Change = DomainChange | UserChange | GroupChange | GlobalQuotaChange;

export interface BackendPlan {
  backendId: string;
  backendName: string;
  backendType: string;
  url: string;
  changes: Change[];
  notApplicable: NotApplicable[];
  /** Fields of declared objects that the configuration leaves unset: observed, left alone. */
  unmanaged: Unmanaged[];
  /** Reasons the run must not go ahead (the prune safety valve), with the MailDomain each comes from. */
  refusals: Refusal[];
  /** The backend could not be observed; no changes are planned for it. */
  error?: string;
  /** HTTP requests spent observing. */
  requests: number;
}

export interface Plan {
  backends: BackendPlan[];
  /** Documents of other API groups that were read and left alone. */
  skippedDocuments?: number;
  /** What mailops changed in how the configuration was written (addresses in lower case), said once. */
  notes?: string[];
}

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
}

export function summarize(plan: Plan): PlanSummary {
  const summary = { create: 0, update: 0, delete: 0 };
  for (const backend of plan.backends) {
    for (const change of backend.changes) {
      // An address change is the same object, updated: counted once, as an update.
      summary[change.action === 'replace' ? 'update' : change.action] += 1;
    }
  }
  return summary;
}

export function hasChanges(plan: Plan): boolean {
  return plan.backends.some((b) => b.changes.length > 0);
}

/**
 * The plan without the changes of objects a safety valve refused (a domain that would lose too many
 * users): a refusal holds back its own object only. For the long-lived front doors; one pass of the
 * CLI refuses the whole run instead.
 */
export function withoutRefusedOwners(plan: Plan): Plan {
  const refused = new Set(plan.backends.flatMap((b) => b.refusals.map((r) => objectKey(r.owner))));
  if (refused.size === 0) return plan;
  return { ...plan, backends: plan.backends.map((b) => ({ ...b, refusals: [], changes: b.changes.filter((c) => !refused.has(objectKey(c.owner))) })) };
}

export function resourceLabel(resource: ResourceKind): string {
  return resource === 'globalQuota' ? 'global quota' : resource === 'group' ? 'alias' : resource;
}

/** One line for an event or a log: what was done, to what, and which fields (names only, never values). */
export function describeChange(change: Change): string {
  const what = `${resourceLabel(change.resource)} ${change.key}`;
  const fields = change.fields.map((f) => f.field).filter((f) => f !== 'address');
  const list = fields.length > 0 ? ` (${fields.join(', ')})` : '';
  switch (change.action) {
    case 'create':
      return `created ${what}`;
    case 'delete':
      return `deleted ${what}`;
    case 'replace':
      return `moved ${resourceLabel(change.resource)} ${change.resource === 'user' ? change.renameFrom : ''} to ${change.key}${list}`;
    case 'update':
      return `updated ${what}${list}`;
  }
}

/** Users whose optional password secret does not exist: their password is left alone (plan/diff.ts). */
export function unmanagedPasswords(plan: Plan): string[] {
  const addresses = new Set<string>();
  for (const backend of plan.backends) {
    for (const entry of backend.unmanaged) if (entry.resource === 'user' && entry.fields.some((f) => f.field === 'password')) addresses.add(entry.key);
  }
  return [...addresses].sort();
}

/** One line about those users, or null when there are none. */
export function describeUnmanagedPasswords(plan: Plan, shown = 5): string | null {
  const addresses = unmanagedPasswords(plan);
  if (addresses.length === 0) return null;
  const list = addresses.slice(0, shown).join(', ') + (addresses.length > shown ? ` and ${addresses.length - shown} more` : '');
  const one = addresses.length === 1;
  return `the password of ${addresses.length} user${one ? '' : 's'} is unmanaged until ${one ? 'its secret exists' : 'their secrets exist'} (passwordSecretRef optional: true): ${list}`;
}
