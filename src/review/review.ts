// Cause and effect for a reviewer: per object, what its manifest declares differently from the
// base revision, the lines of it that changed in git, and (unless offline) the backend changes it
// causes. Lines are given to objects by the loader's source positions: a line belongs to the object
// written above it in the same YAML document, or, before an object's first line (its comments), to
// that object. Lines outside every mailops object are counted, never shown: they may be anything,
// a Secret's data included.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expandPaths } from '../load/index.ts';
import { objectKey, type Config, type ObjectRef } from '../model/config.ts';
import { domainOf } from '../model/names.ts';
import type { KindName } from '../model/schema.ts';
import type { Change, FieldChange, Plan } from '../plan/index.ts';
import { declaredObjects, diffDeclared, type ObjectStatus } from './declared.ts';
import { changedLines, type BaseTree, type ChangedLine } from './git.ts';

export interface FileLines {
  file: string;
  lines: ChangedLine[];
}

export interface BackendChange {
  backendId: string;
  backendName: string;
  backendType: string;
  change: Change;
}

export interface ObjectReview {
  key: string;
  kind: KindName;
  namespace: string;
  name: string;
  /** `unchanged`: declared the same, but it has changed lines (a comment) or backend changes (drift). */
  status: ObjectStatus | 'unchanged';
  /** Where it is written (at the base, for a removed object). */
  ref: ObjectRef;
  /** The mail domain it belongs to; null for backends and quota policies. */
  domain: string | null;
  /** The address of a user or alias, the domain of a MailDomain. */
  address?: string;
  /** The desired-state difference, field by field. */
  fields: FieldChange[];
  lines: FileLines[];
  /** Empty offline. */
  changes: BackendChange[];
  /** Declared fields a backend cannot represent (shown, never an error); empty offline. */
  notApplicable: Array<{ backendId: string; backendName: string; field: string; reason: string }>;
}

export interface Review {
  base: { ref: string; commit: string };
  objects: ObjectReview[];
  /** Changed lines outside every mailops object, per file: counted, not shown. */
  otherLines: Array<{ file: string; count: number }>;
  /** The real plan (backends observed); absent offline. */
  plan?: Plan;
}

const KIND_ORDER: KindName[] = ['MailDomain', 'MailUser', 'Alias', 'QuotaPolicy', 'MailBackend'];

/**
 * `base` must be loaded from `tree` (its positions are rewritten here to the working tree's paths).
 */
export async function buildReview(options: { inputs: string[]; tree: BaseTree; base: Config; work: Config; plan?: Plan }): Promise<Review> {
  const { inputs, tree, base, work } = options;
  const display = displayPaths(tree);
  relocate(base, display);

  const objects = new Map<string, ObjectReview>();
  const baseDeclared = declaredObjects(base);
  const workDeclared = declaredObjects(work);
  const entry = (ref: ObjectRef, domain: string | null): ObjectReview => {
    const key = objectKey(ref);
    let review = objects.get(key);
    if (!review) {
      const declared = workDeclared.get(key) ?? baseDeclared.get(key);
      const address = declared?.fields.address ?? declared?.fields.domain;
      review = { key, kind: ref.kind, namespace: ref.namespace, name: ref.name, status: 'unchanged', ref, domain, ...(typeof address === 'string' ? { address } : {}), fields: [], lines: [], changes: [], notApplicable: [] };
      objects.set(key, review);
    }
    return review;
  };
  for (const diff of diffDeclared(base, work)) Object.assign(entry(diff.ref, diff.domain), { status: diff.status, fields: diff.fields });

  // --- changed lines, file by file
  const workFiles = (await expandPaths(inputs)).map((f) => f.file);
  const baseFiles = new Map<string, string>();
  for (const { base: dir } of tree.inputs) {
    if (dir) for (const { file } of await expandPaths([dir])) baseFiles.set(display(file), file);
  }
  const otherLines: Review['otherLines'] = [];
  for (const file of [...new Set([...workFiles, ...baseFiles.keys()])].sort()) {
    const lines = await changedLines(baseFiles.get(file) ?? null, workFiles.includes(file) ? file : null);
    if (lines.length === 0) continue;
    const owners = {
      '-': await lineOwners(baseFiles.get(file) ?? null, [...baseDeclared.values()].filter((o) => o.ref.source.file === file).map((o) => o.ref)),
      '+': await lineOwners(workFiles.includes(file) ? file : null, [...workDeclared.values()].filter((o) => o.ref.source.file === file).map((o) => o.ref)),
    };
    let outside = 0;
    for (const line of lines) {
      const ref = owners[line.sign](line.line);
      if (!ref) {
        // A document marker or a blank line belongs to nobody and says nothing.
        if (!/^(---|\.\.\.)?\s*$/.test(line.text)) outside += 1;
        continue;
      }
      const declared = workDeclared.get(objectKey(ref)) ?? baseDeclared.get(objectKey(ref))!;
      const review = entry(workDeclared.get(objectKey(ref))?.ref ?? ref, declared.domain);
      let group = review.lines.find((l) => l.file === file);
      if (!group) review.lines.push((group = { file, lines: [] }));
      group.lines.push(line);
    }
    if (outside > 0) otherLines.push({ file, count: outside });
  }

  // --- the backend changes each object causes
  for (const backend of options.plan?.backends ?? []) {
    for (const change of backend.changes) {
      const item = { backendId: backend.backendId, backendName: backend.backendName, backendType: backend.backendType, change };
      // A prune delete is owned by its MailDomain; when the object it deletes was removed in git, it is that object's effect.
      const removed = change.action === 'delete' ? removedObjectFor(change, objects) : undefined;
      const owner = removed ?? entry(change.owner, domainOfChange(change));
      owner.changes.push(item);
    }
  }

  for (const backend of options.plan?.backends ?? []) {
    for (const na of backend.notApplicable) {
      const review = objects.get(objectKey(na.owner));
      // Only beside objects a reviewer looks at anyway: the full list is in the plan's notes.
      review?.notApplicable.push({ backendId: backend.backendId, backendName: backend.backendName, field: na.field, reason: na.reason });
    }
  }

  const ordered = [...objects.values()].sort(
    (a, b) =>
      (a.domain === null ? 1 : 0) - (b.domain === null ? 1 : 0) ||
      (a.domain ?? '').localeCompare(b.domain ?? '') ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name),
  );
  return { base: { ref: tree.ref, commit: tree.commit }, objects: ordered, otherLines, ...(options.plan ? { plan: options.plan } : {}) };
}

/** The domain a backend change is about: the domain itself, or the one of the address. */
export function domainOfChange(change: Change): string | null {
  if (change.resource === 'globalQuota') return null;
  return change.resource === 'domain' ? change.key : domainOf(change.key);
}

function removedObjectFor(change: Change, objects: Map<string, ObjectReview>): ObjectReview | undefined {
  const kind = change.resource === 'user' ? 'MailUser' : change.resource === 'group' ? 'Alias' : change.resource === 'domain' ? 'MailDomain' : null;
  return [...objects.values()].find((o) => o.status === 'removed' && o.kind === kind && o.address === change.key);
}

/**
 * Which object each line of a file belongs to: the one that starts above it in the same YAML
 * document, or, for the lines before an object's start (its comments), the one below.
 */
async function lineOwners(file: string | null, refs: ObjectRef[]): Promise<(line: number) => ObjectRef | undefined> {
  if (!file || refs.length === 0) return () => undefined;
  const text = await readFile(file, 'utf8');
  const separators = text.split('\n').flatMap((line, i) => (/^---(\s|$)/.test(line) ? [i + 1] : []));
  const starts = [...refs].sort((a, b) => a.source.line - b.source.line);
  const separated = (from: number, to: number) => separators.some((s) => s > from && s <= to);
  return (line) => {
    const above = starts.filter((r) => r.source.line <= line).at(-1);
    if (above && !separated(above.source.line, line)) return above;
    const below = starts.find((r) => r.source.line > line);
    if (below && !separators.some((s) => s >= line && s < below.source.line)) return below;
    return undefined;
  };
}

/** Base files → the paths the working tree shows for them (the -f inputs as given). */
export function displayPaths(tree: BaseTree): (file: string) => string {
  return (file) => {
    for (const { input, base } of tree.inputs) {
      if (!base) continue;
      if (file === base) return input;
      const rest = path.relative(base, file);
      if (!rest.startsWith('..') && !path.isAbsolute(rest)) return path.join(input, rest);
    }
    return file;
  };
}

/** Rewrites the source positions of a configuration loaded from the base copy. */
function relocate(config: Config, display: (file: string) => string): void {
  const refs = [
    ...config.backends.map((b) => b.ref),
    ...config.domains.map((d) => d.ref),
    ...config.users.flatMap((u) => [u.ref, u.password]),
    ...config.aliases.map((a) => a.ref),
    ...config.quotaPolicies,
    ...config.globalQuotas.map((g) => g.ref),
  ];
  for (const ref of new Set(refs)) ref.source = { ...ref.source, file: display(ref.source.file) };
}
