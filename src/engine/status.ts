// An object's status from what happened to it: the plan's changes for it, their results, the
// observation of each of its backends, and its secret. Pure (the clock is passed in), so the
// controller writes it to `.status` and a test checks it with plain data.
//
// Two conditions, as Crossplane's managed resources have them:
//   Ready  — the object is as declared on every backend that serves it;
//   Synced — the last reconcile could do everything it had to (nothing failed, nothing blocked).
// Every reason is one a person can act on; the message says where and why.
import type { Condition } from '../model/schema.ts';
import { globalQuotaOf, objectKey, type Config, type ObjectRef } from '../model/config.ts';
import { resourceLabel, type Change, type Plan } from '../plan/index.ts';
import type { NotApplicable } from '../plan/state.ts';
import type { BackendErrorKind, TaskStatus } from './adapter.ts';
import type { ChangeResult } from './apply.ts';
import type { BackendObservation } from './observe.ts';

export type ReadyReason =
  | 'Available'
  | 'NotApplicable'
  | 'Creating'
  | 'Updating'
  | 'Deleting'
  | 'TaskRunning'
  | 'Pending'
  | 'BackendUnavailable'
  | 'SecretNotFound'
  | 'DependencyNotReady'
  | 'InvalidSpec'
  | 'Refused'
  | 'Interrupted';

export type SyncedReason =
  | 'ReconcileSuccess'
  | 'ReconcileError'
  | 'BackendUnavailable'
  | 'CredentialsRefused'
  | 'SecretNotFound'
  | 'DependencyNotReady'
  | 'InvalidSpec'
  | 'Refused'
  | 'Interrupted'
  | 'Pending';

/** What the object's status says about one backend. */
export interface BackendObjectStatus {
  name: string;
  /** The Ready reason on this backend (Available, Creating, TaskRunning, BackendUnavailable …). */
  state: ReadyReason;
  synced: boolean;
  message?: string;
  task?: { id: string; state: string; progress?: number };
  /** Declared fields this backend cannot represent. */
  notApplicable?: string[];
}

export interface ObjectStatus {
  observedGeneration?: number;
  conditions: Condition[];
  backends: BackendObjectStatus[];
}

/** One backend that serves the object, and what happened there. */
export interface BackendOutcome {
  name: string;
  /** The backend could not be observed (or used): why, with its kind. */
  failure?: { kind: BackendErrorKind | 'SecretNotFound'; message: string };
  /** This object's changes on the backend, as planned. */
  changes: readonly Change[];
  /** What became of them; a change without a result was not applied. */
  results: readonly ChangeResult[];
  notApplicable: readonly NotApplicable[];
  /** The plan was refused by the safety valve on this backend (the object's own refusal). */
  refusals?: readonly string[];
}

export interface StatusInput {
  object: ObjectRef;
  /** Configuration errors of this object (it is not reconciled). */
  invalid?: readonly string[];
  /** It names objects that are not there (yet): it waits for them (a cluster reports this instead of failing). */
  waitingFor?: readonly string[];
  /** Its secret (a MailUser's password, a MailBackend's credentials) could not be read. */
  secretFailure?: string;
  backends: readonly BackendOutcome[];
  /** The conditions written last time, so that a condition that did not change keeps its time. */
  previous?: readonly Condition[];
  now: Date;
}

interface Verdict {
  ready: { status: Condition['status']; reason: ReadyReason };
  synced: { status: Condition['status']; reason: SyncedReason };
  message: string;
}

// The worse of two verdicts wins: the order in which a person should look at things.
const SEVERITY: readonly ReadyReason[] = [
  'InvalidSpec',
  'SecretNotFound',
  'BackendUnavailable',
  'Refused',
  'Creating',
  'Updating',
  'Deleting',
  'DependencyNotReady',
  'Interrupted',
  'Pending',
  'TaskRunning',
  'NotApplicable',
  'Available',
];

export function objectStatus(input: StatusInput): ObjectStatus {
  const backends = input.backends.map((b) => backendVerdict(b));
  let verdict: Verdict;
  if (input.invalid?.length) {
    verdict = { ready: { status: 'False', reason: 'InvalidSpec' }, synced: { status: 'False', reason: 'InvalidSpec' }, message: input.invalid.join('; ') };
  } else if (input.waitingFor?.length) {
    verdict = { ready: { status: 'False', reason: 'DependencyNotReady' }, synced: { status: 'False', reason: 'DependencyNotReady' }, message: input.waitingFor.join('; ') };
  } else if (input.secretFailure) {
    verdict = { ready: { status: 'False', reason: 'SecretNotFound' }, synced: { status: 'False', reason: 'SecretNotFound' }, message: input.secretFailure };
  } else if (backends.length === 0) {
    verdict = { ready: { status: 'True', reason: 'Available' }, synced: { status: 'True', reason: 'ReconcileSuccess' }, message: 'No backend serves this object.' };
  } else {
    const worst = backends.reduce((a, b) => (SEVERITY.indexOf(b.verdict.ready.reason) < SEVERITY.indexOf(a.verdict.ready.reason) ? b : a));
    const notApplicableEverywhere = backends.every((b) => b.verdict.ready.reason === 'NotApplicable');
    verdict = {
      ...worst.verdict,
      ready: notApplicableEverywhere ? worst.verdict.ready : worst.verdict.ready.reason === 'NotApplicable' ? { status: 'True', reason: 'Available' } : worst.verdict.ready,
      message: backends.map((b) => `${b.status.name}: ${b.verdict.message}`).join(' '),
    };
  }
  const generation = input.object.generation;
  const condition = (type: 'Ready' | 'Synced', part: Verdict['ready'] | Verdict['synced']): Condition => {
    const before = input.previous?.find((c) => c.type === type);
    const unchanged = before && before.status === part.status && before.reason === part.reason;
    return {
      type,
      status: part.status,
      reason: part.reason,
      message: verdict.message,
      lastTransitionTime: unchanged ? before.lastTransitionTime : input.now.toISOString(),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  };
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: [condition('Ready', verdict.ready), condition('Synced', verdict.synced)],
    backends: backends.map((b) => b.status),
  };
}

function backendVerdict(outcome: BackendOutcome): { verdict: Verdict; status: BackendObjectStatus } {
  const verdict = judge(outcome);
  const running = outcome.results.find((r) => r.outcome === 'pending' && r.task)?.task;
  const notApplicable = outcome.notApplicable.filter((na) => !na.wholeObject).map((na) => na.field);
  const status: BackendObjectStatus = {
    name: outcome.name,
    state: verdict.ready.reason,
    synced: verdict.synced.status === 'True' && verdict.ready.reason !== 'TaskRunning',
    message: verdict.message,
    ...(running ? { task: taskView(running.ref.id, running.status) } : {}),
    ...(notApplicable.length > 0 ? { notApplicable } : {}),
  };
  return { verdict, status };
}

function judge(outcome: BackendOutcome): Verdict {
  const notReady = (reason: ReadyReason, synced: SyncedReason, message: string, readyStatus: Condition['status'] = 'False'): Verdict => ({
    ready: { status: readyStatus, reason },
    synced: { status: synced === 'ReconcileSuccess' ? 'True' : 'False', reason: synced },
    message,
  });

  if (outcome.failure) {
    const refused = outcome.failure.kind === 'Unauthorized' || outcome.failure.kind === 'Forbidden';
    return notReady('BackendUnavailable', refused ? 'CredentialsRefused' : 'BackendUnavailable', outcome.failure.message, 'Unknown');
  }
  if (outcome.refusals?.length) return notReady('Refused', 'Refused', outcome.refusals.join('; '));

  const results = new Map(outcome.results.map((r) => [r.change.id, r]));
  for (const change of outcome.changes) {
    const result = results.get(change.id);
    const what = `${resourceLabel(change.resource)} ${change.key}`;
    if (!result) return notReady(actionReason(change), 'Pending', `${what}: ${change.action} planned, not applied yet.`);
    if (result.outcome === 'failed') {
      const unavailable = result.errorKind === 'Unavailable' || result.errorKind === 'Timeout';
      return notReady(actionReason(change), unavailable ? 'BackendUnavailable' : 'ReconcileError', `${what}: ${result.error ?? 'failed'}`);
    }
    if (result.outcome === 'skipped') {
      return result.skipped?.because === 'interrupted'
        ? notReady('Interrupted', 'Interrupted', `${what}: not started, the run was interrupted.`)
        : notReady('DependencyNotReady', 'DependencyNotReady', `${what}: ${result.error ?? 'waits for another change'}.`);
    }
    if (result.outcome === 'pending') {
      const task = result.task;
      const progress = task?.status.progress !== undefined ? ` (${task.status.progress}%)` : '';
      return notReady('TaskRunning', 'ReconcileSuccess', `${what}: waiting for the backend task ${task?.ref.description ?? ''}${progress}.`.replace(' .', '.'));
    }
  }
  if (outcome.notApplicable.some((na) => na.wholeObject)) {
    return { ready: { status: 'True', reason: 'NotApplicable' }, synced: { status: 'True', reason: 'ReconcileSuccess' }, message: outcome.notApplicable.find((na) => na.wholeObject)!.reason + '.' };
  }
  const fields = outcome.notApplicable.map((na) => na.field);
  const note = fields.length > 0 ? ` Not applicable there: ${fields.join(', ')}.` : '';
  return { ready: { status: 'True', reason: 'Available' }, synced: { status: 'True', reason: 'ReconcileSuccess' }, message: `up to date.${note}` };
}

function actionReason(change: Change): ReadyReason {
  return change.action === 'create' ? 'Creating' : change.action === 'delete' ? 'Deleting' : 'Updating';
}

function taskView(id: string, status: TaskStatus): NonNullable<BackendObjectStatus['task']> {
  return { id, state: status.state, ...(status.progress !== undefined ? { progress: Math.round(status.progress) } : {}) };
}

/** The backends an object is reconciled on: its own (users, aliases, domains), or those it affects. */
export function servingBackends(config: Config, ref: ObjectRef): string[] {
  const key = objectKey(ref);
  const same = (other: ObjectRef) => objectKey(other) === key;
  switch (ref.kind) {
    case 'MailBackend':
      return config.backends.filter((b) => same(b.ref)).map((b) => b.id);
    case 'MailDomain':
      return config.domains.find((d) => same(d.ref))?.backendIds ?? [];
    case 'MailUser':
      return config.users.find((u) => same(u.ref))?.backendIds ?? [];
    case 'Alias':
      return config.aliases.find((a) => same(a.ref))?.backendIds ?? [];
    case 'QuotaPolicy':
    {
      // A global default acts on every backend of its namespace; a policy used by reference acts
      // through its users' and domains' changes, which carry their own status.
      const global = globalQuotaOf(config, ref.namespace);
      return global && same(global.ref) ? config.backends.filter((b) => b.ref.namespace === ref.namespace).map((b) => b.id) : [];
    }
  }
}

/** What the plan, the apply results and the observations say about one object, per backend. */
export function backendOutcomes(
  ref: ObjectRef,
  backendIds: readonly string[],
  plan: Plan,
  results: readonly ChangeResult[],
  observations: (backendId: string) => Pick<BackendObservation, 'failure'> | undefined,
): BackendOutcome[] {
  const key = objectKey(ref);
  return backendIds.map((backendId) => {
    const backendPlan = plan.backends.find((b) => b.backendId === backendId);
    const failure = observations(backendId)?.failure;
    const mine = (owner: ObjectRef) => objectKey(owner) === key;
    return {
      name: backendPlan?.backendName ?? backendId,
      ...(failure ? { failure: { kind: failure.kind, message: failure.message } } : !backendPlan || backendPlan.error ? { failure: { kind: 'Unavailable' as const, message: backendPlan?.error ?? 'not observed' } } : {}),
      changes: backendPlan?.changes.filter((c) => mine(c.owner)) ?? [],
      results: results.filter((r) => r.backendId === backendId && mine(r.change.owner)),
      notApplicable: backendPlan?.notApplicable.filter((na) => mine(na.owner)) ?? [],
      refusals: backendPlan?.refusals.filter((r) => mine(r.owner)).map((r) => r.message) ?? [],
    };
  });
}
