// The plan as a pull-request comment: the summary line first, then the changes per mail domain —
// folded away per domain (<details>) when the plan is long — and the full text plan folded at the
// end. With --git-base, per object instead: the lines changed in git beside the backend changes
// they cause. Passwords are never shown (sensitive fields print as "(sensitive)"), and text from
// manifests is escaped, so a pull request cannot put markup of its own into the comment.
import { describeUnmanagedPasswords, summarize, resourceLabel, type Change, type Plan } from '../plan/index.ts';
import type { ObjectReview, Review } from '../review/review.ts';
import { domainOfChange } from '../review/review.ts';
import { backendLabel, PLAIN, renderField, renderPlanText, SYMBOL } from './text.ts';

/** GitHub refuses a comment over 65,536 characters; GitLab's limit is larger. Room is left for a wrapper. */
export const COMMENT_LIMIT = 60_000;
/** Above this many rows, every domain's section is folded away. */
export const LONG_PLAN_ROWS = 20;

const SERVER_WIDE = '(server-wide)';

export function renderPlanMarkdown(plan: Plan, options: { limit?: number } = {}): string {
  const head = ['### mailops plan', '', `**${summaryLine(plan)}**`, '', ...problems(plan)];
  const groups = new Map<string, Array<{ backend: string; change: Change }>>();
  for (const backend of plan.backends) {
    for (const change of backend.changes) {
      const domain = domainOfChange(change) ?? SERVER_WIDE;
      groups.set(domain, [...(groups.get(domain) ?? []), { backend: backendLabel(backend), change }]);
    }
  }
  const rows = [...groups.values()].reduce((n, g) => n + g.length, 0);
  const sections = sortedDomains(groups.keys()).map((domain) => {
    const changes = groups.get(domain)!;
    const table = ['| | resource | key | backend | fields |', '|---|---|---|---|---|'];
    for (const { backend, change } of changes) {
      const fields = change.fields.map((f) => f.field).join(', ') || (change.reason ?? '');
      table.push(`| \`${SYMBOL[change.action]}\` | ${resourceLabel(change.resource)} | ${code(change.key)} | ${cell(backend)} | ${cell(fields)} |`);
    }
    return section(domain, counts(changes.map((c) => c.change)), table, rows > LONG_PLAN_ROWS);
  });
  const tail = [...notes(plan), '<details><summary>Full plan</summary>', '', ...fence(diffText(renderPlanText(plan)), 'diff'), '', '</details>', ''];
  return fit(head, sections, tail, options.limit ?? COMMENT_LIMIT);
}

export function renderReviewMarkdown(review: Review, options: { limit?: number } = {}): string {
  const offline = review.plan === undefined;
  const summary = offline ? offlineSummary(review) : summaryLine(review.plan!);
  const head = [
    '### mailops plan',
    '',
    `**${summary}**`,
    '',
    `Compared with ${code(review.base.ref)} (${code(review.base.commit)})${offline ? ': declared state only, no backend was contacted; passwords are not compared offline.' : ', object by object: the lines changed in git and the backend changes they cause.'}`,
    '',
    ...(review.plan ? problems(review.plan) : []),
  ];
  const groups = new Map<string, ObjectReview[]>();
  for (const object of review.objects) {
    const domain = object.domain ?? 'Backends and quota policies';
    groups.set(domain, [...(groups.get(domain) ?? []), object]);
  }
  const rows = review.objects.reduce((n, o) => n + Math.max(1, o.changes.length), 0);
  const sections = [...groups].map(([domain, objects]) => {
    const body: string[] = [];
    for (const object of objects) body.push(...reviewObject(object, offline), '');
    const what = `${objects.length} object${objects.length === 1 ? '' : 's'}${offline ? '' : `, ${counts(objects.flatMap((o) => o.changes.map((c) => c.change)))}`}`;
    return section(domain, what, body, rows > LONG_PLAN_ROWS);
  });
  const tail = [
    ...review.otherLines.map((o) => `${o.count} changed line${o.count === 1 ? '' : 's'} of ${code(o.file)} ${o.count === 1 ? 'is' : 'are'} outside every mailops object (not shown).`),
    ...(review.otherLines.length > 0 ? [''] : []),
    ...(review.plan ? notes(review.plan, '`mailops plan` lists them all; those of the objects above are shown with them') : []),
  ];
  return fit(head, sections, tail, options.limit ?? COMMENT_LIMIT);
}

function reviewObject(object: ObjectReview, offline: boolean): string[] {
  const symbol = { added: '+', changed: '~', removed: '-', unchanged: '·' }[object.status];
  const where = `${object.ref.source.file}:${object.ref.source.line}${object.status === 'removed' ? ' (at the base)' : ''}`;
  const out = [`**\`${symbol}\` ${object.kind} ${code(object.namespace === 'default' ? object.name : `${object.namespace}/${object.name}`)}** — ${code(where)}`, ''];
  if (object.lines.length > 0) {
    const lines = object.lines.flatMap((file) => [`@@ ${file.file} @@`, ...file.lines.map((l) => `${l.sign}${l.text}`)]);
    out.push(...fence(lines, 'diff'), '');
  }
  if (offline) {
    if (object.status === 'removed') out.push('_Removed: on the backends it is deleted only where its MailDomain prunes._');
    for (const field of object.fields) out.push(`- ${code(field.field)}: ${text(renderField(field, object.status === 'added' ? 'create' : 'update', PLAIN))}`);
    return out;
  }
  for (const na of object.notApplicable) out.push(`_Not applicable on ${text(backendLabel(na))}: ${code(na.field)} (${text(na.reason)})._`, '');
  if (object.changes.length === 0) {
    out.push(object.status === 'removed' ? '_No change on any backend: a removed object is deleted only where its MailDomain prunes._' : '_No change on any backend._');
    return out;
  }
  if (object.lines.length === 0 && object.status === 'unchanged') out.push('_Not changed in git: the backends differ from what is declared (drift)._', '');
  out.push('| | backend | change |', '|---|---|---|');
  for (const { backendId, backendName, change } of object.changes) {
    const label = backendLabel({ backendId, backendName });
    const what = `${resourceLabel(change.resource)}${change.resource === 'globalQuota' ? '' : ` ${code(change.key)}`}`;
    const fields = change.fields.map((f) => `${f.field}: ${renderField(f, change.action, PLAIN)}`).join('; ');
    const reason = change.action === 'replace' && change.resource === 'user' ? `was ${change.renameFrom}` : change.reason;
    out.push(`| \`${SYMBOL[change.action]}\` | ${cell(label)} | ${what}${fields ? ` — ${cell(fields)}` : ''}${reason ? ` (${cell(reason)})` : ''} |`);
  }
  return out;
}

function summaryLine(plan: Plan): string {
  const summary = summarize(plan);
  const total = summary.create + summary.update + summary.delete;
  if (plan.backends.every((b) => b.error)) return plan.backends.length === 0 ? 'No changes.' : 'No backend could be observed.';
  return total === 0 ? 'No changes.' : `Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete.`;
}

function offlineSummary(review: Review): string {
  const count = (status: ObjectReview['status']) => review.objects.filter((o) => o.status === status).length;
  const [added, changed, removed] = [count('added'), count('changed'), count('removed')];
  if (added + changed + removed === 0) return 'Offline: no change to the declared state.';
  return `Offline: ${added} object${added === 1 ? '' : 's'} added, ${changed} changed, ${removed} removed.`;
}

function problems(plan: Plan): string[] {
  const out: string[] = [];
  for (const backend of plan.backends) {
    if (backend.error) out.push('> [!CAUTION]', `> ${text(backend.error)}`, '');
    for (const refusal of backend.refusals) out.push('> [!WARNING]', `> Refused: ${text(refusal.message)}`, '');
  }
  return out;
}

function notes(plan: Plan, where = 'see the full plan'): string[] {
  const out: string[] = [];
  const notApplicable = plan.backends.reduce((n, b) => n + b.notApplicable.length, 0);
  if (notApplicable > 0) out.push(`${notApplicable} declared field${notApplicable === 1 ? '' : 's'} cannot be represented by ${notApplicable === 1 ? 'its backend' : 'their backends'} (${where}).`, '');
  const passwords = describeUnmanagedPasswords(plan);
  if (passwords) out.push(`Note: ${text(passwords)}.`, '');
  return out;
}

function counts(changes: Change[]): string {
  const n = { create: 0, update: 0, delete: 0 };
  for (const change of changes) n[change.action === 'replace' ? 'update' : change.action] += 1;
  const parts = [n.create && `${n.create} to create`, n.update && `${n.update} to update`, n.delete && `${n.delete} to delete`].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'no backend change';
}

/** A domain's section: a heading, or, when the plan is long, a <details> that opens on a click. */
function section(domain: string, summary: string, body: string[], folded: boolean): string[] {
  if (!folded) return [`#### ${code(domain)}`, '', ...body, ''];
  return [`<details><summary><code>${html(domain)}</code>: ${html(summary)}</summary>`, '', ...body, '', '</details>', ''];
}

function sortedDomains(domains: Iterable<string>): string[] {
  return [...domains].sort((a, b) => (a === SERVER_WIDE ? 1 : 0) - (b === SERVER_WIDE ? 1 : 0) || a.localeCompare(b));
}

/** The head, as many sections as fit, and the tail; what does not fit is said, never cut mid-way. */
function fit(head: string[], sections: string[][], tail: string[], limit: number): string {
  const join = (parts: string[]) => `${parts.join('\n').trimEnd()}\n`;
  const whole = join([...head, ...sections.flat(), ...tail]);
  if (whole.length <= limit) return whole;
  const fullPlanAt = tail.indexOf('<details><summary>Full plan</summary>');
  const withoutFullPlan = fullPlanAt >= 0 ? tail.slice(0, fullPlanAt) : tail;
  const shown: string[][] = [];
  let size = join([...head, ...withoutFullPlan]).length + 200;
  for (const section of sections) {
    const length = join(section).length;
    if (size + length > limit) break;
    shown.push(section);
    size += length;
  }
  const left = sections.length - shown.length;
  const note = left > 0
    ? `_${left} more section${left === 1 ? '' : 's'} do not fit in a comment; run \`mailops plan\` to see everything._`
    : '_The full plan does not fit in a comment; run `mailops plan` to see it._';
  return join([...head, ...shown.flat(), note, '', ...withoutFullPlan]);
}

/** The text plan as a diff block: its `+`/`-`/`~` markers at the start of the line, where diff colours them. */
function diffText(plan: string): string[] {
  return plan.trimEnd().replace(/^ {2}([+~±-])/gm, '$1 ').split('\n');
}

/** A fenced code block whose fence no line of the content can close. */
function fence(lines: string[], language: string): string[] {
  const longest = Math.max(0, ...lines.map((l) => Math.max(0, ...[...l.matchAll(/`+/g)].map((m) => m[0].length))));
  const marks = '`'.repeat(Math.max(3, longest + 1));
  return [`${marks}${language}`, ...lines, marks];
}

/** Inline code that no backtick in the value can end early. */
function code(value: string): string {
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  return longest > 0 ? `${ticks} ${value} ${ticks}` : `${ticks}${value}${ticks}`;
}

/** Text from manifests or backends, safe in a paragraph: no HTML, no markdown that could mislead. */
function text(value: string): string {
  return html(value).replace(/([\\`*_[\]|])/g, '\\$1').replace(/\n/g, ' ');
}

function cell(value: string): string {
  return text(value);
}

function html(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
