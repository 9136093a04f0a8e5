// plan --git-base for a person at a terminal: object by object, what its manifest declares
// differently from the base revision, the lines that changed in git, and (unless offline) the
// backend changes it causes; then what the plan says besides (not applicable, refusals, notes) and
// its summary line.
import type { ObjectReview, Review } from '../review/review.ts';
import { backendLabel, PLAIN, renderChange, renderField, renderPlanText, type TextOptions } from './text.ts';

const SYMBOL = { added: '+', changed: '~', removed: '-', unchanged: '·' } as const;

export function renderReviewText(review: Review, options: TextOptions = {}): string {
  const style = options.style ?? PLAIN;
  const offline = review.plan === undefined;
  const lines = [
    style.bold(`Changes since ${review.base.ref} (${review.base.commit}), object by object${offline ? ' — offline: the declared state only, no backend was contacted' : ''}:`),
    '',
  ];
  if (review.objects.length === 0) lines.push('  (no object changed)', '');
  for (const object of review.objects) lines.push(...renderObject(object, offline, options), '');
  for (const other of review.otherLines) {
    lines.push(style.dim(`${other.count} changed line${other.count === 1 ? '' : 's'} of ${other.file} ${other.count === 1 ? 'is' : 'are'} outside every mailops object (not shown).`));
  }
  if (offline) {
    const count = (status: ObjectReview['status']) => review.objects.filter((o) => o.status === status).length;
    const [added, changed, removed] = [count('added'), count('changed'), count('removed')];
    lines.push(style.dim('Passwords are not compared offline: a secret reference is, by name and key.'));
    lines.push(added + changed + removed === 0 ? 'Offline: no change to the declared state.' : style.bold(`Offline: ${added} object${added === 1 ? '' : 's'} added, ${changed} changed, ${removed} removed.`));
    return `${lines.join('\n')}\n`;
  }
  return `${lines.join('\n')}\n${renderPlanText(review.plan!, { ...options, changes: false })}`;
}

function renderObject(object: ObjectReview, offline: boolean, options: TextOptions): string[] {
  const style = options.style ?? PLAIN;
  const paint = object.status === 'added' ? style.create : object.status === 'removed' ? style.delete : style.update;
  const name = object.namespace === 'default' ? object.name : `${object.namespace}/${object.name}`;
  const where = `${object.ref.source.file}:${object.ref.source.line}${object.status === 'removed' ? ' at the base' : ''}`;
  const out = [`${paint(SYMBOL[object.status])} ${object.kind} ${style.bold(`"${name}"`)}  ${style.dim(`# ${where}`)}`];
  if (object.fields.length > 0) {
    out.push('    declared:');
    const width = Math.max(...object.fields.map((f) => f.field.length)) + 1;
    for (const field of object.fields) out.push(`      ${`${field.field}:`.padEnd(width + 1)} ${renderField(field, object.status === 'added' ? 'create' : 'update', style)}`);
  } else if (object.status === 'removed') {
    out.push('    removed from the manifests');
  }
  if (object.lines.length > 0) {
    out.push('    changed in git:');
    for (const file of object.lines) {
      out.push(`      ${file.file}`);
      const width = String(Math.max(...file.lines.map((l) => l.line))).length;
      for (const line of file.lines) {
        const paintLine = line.sign === '+' ? style.create : style.delete;
        out.push(paintLine(`      ${line.sign}${String(line.line).padStart(width)} ${line.text}`));
      }
    }
  }
  if (offline) return out;
  for (const na of object.notApplicable) {
    out.push(style.dim(`    not applicable on "${backendLabel(na)}": ${na.field} (${na.reason})`));
  }
  if (object.changes.length === 0) {
    out.push(style.dim(object.status === 'removed'
      ? '    no change on any backend: a removed object is deleted only where its MailDomain prunes'
      : '    no change on any backend'));
    return out;
  }
  out.push(object.lines.length === 0 && object.status === 'unchanged' ? '    on the backends (not changed in git: drift):' : '    on the backends:');
  for (const { backendId, backendName, change } of object.changes) {
    // The object is named above: its position is not repeated; the backend is said instead.
    const [head = '', ...fields] = renderChange(change, style, { owner: false });
    out.push(`    ${head} ${style.dim(`[${backendLabel({ backendId, backendName })}]`)}`, ...fields.map((f) => `    ${f}`));
  }
  return out;
}
