// Plans and apply results for a person at a terminal, in Terraform's manner: `+` create,
// `~` update with old → new per field, `-` delete, `±` an address change with a data move,
// secrets as (sensitive), one closing summary line.
import { describeObject } from '../model/config.ts';
import { describeUnmanagedPasswords, hasChanges, summarize, resourceLabel, type Action, type Change, type FieldChange, type Plan } from '../plan/index.ts';
import type { NotApplicable } from '../plan/state.ts';
import { SENSITIVE_PLACEHOLDER } from '../model/sensitive.ts';
import type { ChangeResult } from '../engine/apply.ts';
import type { ApplyReport } from '../engine/engine.ts';

export interface TextStyle {
  create(text: string): string;
  update(text: string): string;
  delete(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export const PLAIN: TextStyle = { create: id, update: id, delete: id, dim: id, bold: id };

function id(text: string): string {
  return text;
}

export const SYMBOL: Record<Action, string> = { create: '+', update: '~', delete: '-', replace: '±' };

/** A backend's name, with its namespace where that is not `default` (two namespaces may reuse a name). */
export function backendLabel(backend: { backendId: string; backendName: string }): string {
  return backend.backendId.startsWith('default/') ? backend.backendName : backend.backendId;
}

export interface TextOptions {
  style?: TextStyle;
  verbose?: boolean;
  /** false: leave out the changes (shown elsewhere, object by object: plan --git-base). */
  changes?: boolean;
}

export function renderPlanText(plan: Plan, options: TextOptions = {}): string {
  const style = options.style ?? PLAIN;
  const lines: string[] = [];
  for (const backend of plan.backends) {
    if (backend.error || backend.changes.length === 0 || options.changes === false) continue;
    lines.push(style.bold(`Backend "${backendLabel(backend)}" (${backend.backendType}, ${backend.url}):`), '');
    for (const change of backend.changes) lines.push(...renderChange(change, style), '');
  }
  const notApplicable = plan.backends.flatMap((b) => b.notApplicable.map((na) => ({ backend: backendLabel(b), type: b.backendType, na })));
  if (notApplicable.length > 0) {
    lines.push(style.bold('Not applicable (declared, but the backend cannot represent it; left out):'));
    lines.push(...renderNotApplicable(notApplicable, options.verbose ?? false), '');
  }
  for (const backend of plan.backends) {
    for (const refusal of backend.refusals) lines.push(style.delete(`Refused: ${refusal.message}`));
  }
  if (options.verbose) lines.push(...renderUnmanaged(plan, style));
  if (options.verbose) {
    for (const backend of plan.backends) {
      lines.push(style.dim(`Observed backend "${backendLabel(backend)}" with ${backend.requests} HTTP request${backend.requests === 1 ? '' : 's'}.`));
    }
  }
  for (const note of plan.notes ?? []) lines.push(style.dim(`Note: ${note}`));
  const passwords = describeUnmanagedPasswords(plan, options.verbose ? Infinity : 5);
  if (passwords) lines.push(style.dim(`Note: ${passwords}.`));
  if (plan.skippedDocuments) {
    lines.push(style.dim(`Skipped ${plan.skippedDocuments} document${plan.skippedDocuments === 1 ? '' : 's'} of other API groups.`));
  }
  const observed = plan.backends.filter((b) => !b.error);
  const summary = summarize(plan);
  if (!hasChanges(plan)) {
    if (plan.backends.length === 0) lines.push(style.dim('No MailBackend is declared: there is nothing to manage.'));
    lines.push(observed.length > 0 || plan.backends.length === 0 ? 'No changes.' : 'No backend could be observed.');
  } else {
    lines.push(style.bold(`Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete.`));
  }
  return `${lines.join('\n')}\n`;
}

export function renderChange(change: Change, style: TextStyle, options: { owner?: boolean } = {}): string[] {
  const paint = change.action === 'create' ? style.create : change.action === 'delete' ? style.delete : style.update;
  const label = change.resource === 'globalQuota' ? resourceLabel(change.resource) : `${resourceLabel(change.resource)} ${style.bold(change.key)}`;
  const head = `  ${paint(SYMBOL[change.action])} ${label}`;
  const tail =
    change.action === 'replace' && change.resource === 'user'
      ? ` (was ${change.renameFrom}; the backend moves the mailbox, then the old address is deleted)`
      : change.reason
        ? ` (${change.reason})`
        : '';
  const owner = change.action === 'delete' || options.owner === false ? '' : style.dim(`  # ${describeObject(change.owner)}, ${change.owner.source.file}:${change.owner.source.line}`);
  const lines = [`${head}${tail}${owner}`];
  const width = Math.max(0, ...change.fields.map((f) => f.field.length)) + 1;
  for (const field of change.fields) lines.push(`      ${`${field.field}:`.padEnd(width + 1)} ${renderField(field, change.action, style)}`);
  return lines;
}

export function renderField(field: FieldChange, action: Action, style: TextStyle): string {
  if (field.sensitive) return `${SENSITIVE_PLACEHOLDER}${field.note ? style.dim(`  (${field.note})`) : ''}`;
  if (field.added || field.removed) {
    const parts = [...(field.added ?? []).map((a) => style.create(`+ ${a}`)), ...(field.removed ?? []).map((r) => style.delete(`- ${r}`))];
    return parts.join('  ');
  }
  if (action === 'create') return show(field.after);
  return `${show(field.before)} → ${show(field.after)}`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '(unset)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

function renderNotApplicable(entries: Array<{ backend: string; type: string; na: NotApplicable }>, verbose: boolean): string[] {
  const groups = new Map<string, { backend: string; na: NotApplicable; keys: string[] }>();
  for (const { backend, na } of entries) {
    const key = `${backend}\u0000${na.resource}\u0000${na.field}\u0000${na.reason}`;
    const group = groups.get(key) ?? { backend, na, keys: [] };
    group.keys.push(na.key);
    groups.set(key, group);
  }
  const lines: string[] = [];
  for (const { backend, na, keys } of groups.values()) {
    const shown = verbose ? keys : keys.slice(0, 5);
    const more = keys.length > shown.length ? ` and ${keys.length - shown.length} more (-v lists them)` : '';
    const resource = `${resourceLabel(na.resource)}${keys.length === 1 ? '' : 's'}`;
    const what = na.wholeObject ? `${keys.length} ${resource}` : `${na.field} of ${keys.length} ${resource}`;
    lines.push(`  ! ${what} on "${backend}" (${na.reason}): ${shown.join(', ')}${more}`);
  }
  return lines;
}

/** `-v`: per declared object, the fields the configuration leaves unset and what the backend has. */
function renderUnmanaged(plan: Plan, style: TextStyle): string[] {
  const entries = plan.backends.flatMap((b) => b.unmanaged.map((u) => ({ backend: backendLabel(b), u })));
  if (entries.length === 0) return [];
  const lines = [style.bold('Left alone (not set in the configuration, so not managed; as observed):')];
  for (const { backend, u } of entries) {
    const label = u.resource === 'globalQuota' ? resourceLabel(u.resource) : `${resourceLabel(u.resource)} ${u.key}`;
    lines.push(`  ${label} ${style.dim(`[${backend}]`)}: ${u.fields.map((f) => `${f.field} ${showObserved(f.value)}`).join(', ')}`);
  }
  lines.push('');
  return lines;
}

function showObserved(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(' ');
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).map(([k, v]) => `${k}=${showObserved(v)}`).join(' ');
  }
  return show(value);
}

// ------------------------------------------------------------------ apply

export function renderResultLine(result: ChangeResult, style: TextStyle = PLAIN): string {
  const { change } = result;
  const what = `${SYMBOL[change.action]} ${resourceLabel(change.resource)}${change.resource === 'globalQuota' ? '' : ` ${change.key}`}`;
  const where = style.dim(`[${backendLabel(result)}]`);
  switch (result.outcome) {
    case 'applied':
      return `${style.create('✓')} ${what} ${where} ${style.dim(`${result.durationMs} ms`)}`;
    case 'failed':
      return `${style.delete('✗')} ${what} ${where}: ${result.error}`;
    case 'skipped':
      return `${style.update('○')} ${what} ${where}: ${result.error}`;
    case 'pending':
      return `${style.update('…')} ${what} ${where}: ${result.error}`;
  }
}

export interface ApplyCounts {
  applied: number;
  failed: number;
  skipped: number;
  pending: number;
}

export function countResults(report: ApplyReport): ApplyCounts {
  const counts = { applied: 0, failed: 0, skipped: 0, pending: 0 };
  for (const result of report.results) counts[result.outcome] += 1;
  return counts;
}

export function renderApplySummary(report: ApplyReport, backendErrors: string[], style: TextStyle = PLAIN): string {
  const counts = countResults(report);
  const parts = [`${counts.applied} applied`, `${counts.failed} failed`, `${counts.skipped} skipped`, ...(counts.pending ? [`${counts.pending} still running`] : [])];
  const problems = counts.failed + counts.skipped + counts.pending + backendErrors.length;
  const line = `Apply ${problems === 0 ? 'complete' : 'incomplete'}: ${parts.join(', ')}${backendErrors.length ? `; ${backendErrors.length} backend${backendErrors.length === 1 ? '' : 's'} unreachable` : ''}.`;
  return `${problems === 0 ? style.bold(line) : style.delete(line)}\n`;
}
