// The plan as a pull-request comment: the summary first, a table per backend, and the full text
// plan folded away in a diff block.
import { summarize, resourceLabel, type Plan } from '../plan/index.ts';
import { backendLabel, renderPlanText, SYMBOL } from './text.ts';

export function renderPlanMarkdown(plan: Plan): string {
  const summary = summarize(plan);
  const total = summary.create + summary.update + summary.delete;
  const out: string[] = ['### mailops plan', ''];
  out.push(total === 0 ? '**No changes.**' : `**Plan: ${summary.create} to create, ${summary.update} to update, ${summary.delete} to delete.**`, '');
  for (const backend of plan.backends) {
    if (backend.error) {
      out.push(`> [!CAUTION]`, `> ${escape(backend.error)}`, '');
      continue;
    }
    for (const refusal of backend.refusals) out.push('> [!WARNING]', `> Refused: ${escape(refusal.message)}`, '');
    if (backend.changes.length === 0) continue;
    out.push(`#### \`${backendLabel(backend)}\` (${backend.backendType}, ${backend.url})`, '');
    out.push('| | resource | key | fields |', '|---|---|---|---|');
    for (const change of backend.changes) {
      const fields = change.fields.map((f) => f.field).join(', ') || (change.reason ?? '');
      out.push(`| \`${SYMBOL[change.action]}\` | ${resourceLabel(change.resource)} | \`${change.key}\` | ${escape(fields)} |`);
    }
    out.push('');
  }
  const notApplicable = plan.backends.reduce((n, b) => n + b.notApplicable.length, 0);
  if (notApplicable > 0) out.push(`${notApplicable} declared field${notApplicable === 1 ? '' : 's'} cannot be represented by ${notApplicable === 1 ? 'its backend' : 'their backends'} (details below).`, '');
  out.push('<details><summary>Full plan</summary>', '', '```diff', renderPlanText(plan).trimEnd().replace(/^ {2}([+~±-])/gm, '$1 '), '```', '', '</details>', '');
  return out.join('\n');
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
