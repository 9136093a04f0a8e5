// YAML text → documents that remember where each of their fields was written.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';
import type { ConfigError, FieldPath, SourcePosition } from './errors.ts';
import { INPUT_LIMITS, formatBytes } from './limits.ts';

/** One YAML document (or one item of a `kind: List`) with a way back to its source text. */
export interface SourceDocument {
  file: string;
  /** 0-based index of the document in its file. */
  index: number;
  value: unknown;
  /** Position of the field at `path` (or of its closest existing parent). */
  locate(path: FieldPath, options?: { key?: boolean }): SourcePosition;
}

export interface ParsedFile {
  documents: SourceDocument[];
  errors: ConfigError[];
}

export function parseYamlFile(file: string, text: string): ParsedFile {
  const lineCounter = new LineCounter();
  const documents: SourceDocument[] = [];
  const errors: ConfigError[] = [];
  const long = firstLongLine(text, INPUT_LIMITS.scalarBytes);
  if (long) {
    errors.push({ position: { file, line: long, column: 1 }, message: `line ${long} is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}; no field of a mailops object is that long` });
    return { documents, errors };
  }
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  // parseAllDocuments returns an EmptyStream (not an array) for a file with no documents.
  if (!Array.isArray(docs)) return { documents, errors };

  const positionAt = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };

  docs.forEach((doc, index) => {
    const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'DUPLICATE_KEY')];
    if (problems.length > 0) {
      for (const problem of problems) {
        // The parser reports a nesting deeper than the call stack as a stack overflow: say what it means.
        const message = problem.message.includes('Maximum call stack size exceeded')
          ? `mappings and sequences are nested more than ${INPUT_LIMITS.depth} deep; no mailops object is`
          : `YAML: ${firstLine(problem.message)}`;
        errors.push({ position: positionAt(problem.pos[0]), message });
      }
      return;
    }
    const base = positionAt(doc.contents?.range?.[0] ?? doc.range[0]);
    const oversized = oversizedNode(doc);
    if (oversized) {
      errors.push({ position: oversized.node.range ? positionAt(oversized.node.range[0]) : base, message: oversized.message });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: INPUT_LIMITS.aliases });
    } catch (error) {
      // yaml refuses alias bombs ("Excessive alias count…") while building the value.
      errors.push({ position: base, message: `YAML: ${firstLine((error as Error).message)} (at most ${INPUT_LIMITS.aliases} aliases are resolved per document)` });
      return;
    }
    // Like kubectl: an empty document (a trailing `---`, only comments, `null`) is no object.
    if (value === null || value === undefined) return;
    documents.push({
      file,
      index,
      value,
      locate: (path, options) => locateIn(doc, path, options?.key ?? false, positionAt) ?? base,
    });
  });
  return { documents, errors };
}

/** The 1-based number of the first line longer than `limit` characters, if any. */
function firstLongLine(text: string, limit: number): number | undefined {
  if (text.length <= limit) return undefined;
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    const end = text.indexOf('\n', start);
    const stop = end === -1 ? text.length : end;
    if (stop - start > limit) return line;
    if (end === -1) return undefined;
    start = end + 1;
  }
  return undefined;
}

/** A scalar longer, or collections nested deeper, than the limits allow. */
function oversizedNode(doc: Document): { node: Node; message: string } | undefined {
  let found: { node: Node; message: string } | undefined;
  visit(doc, (_key, node, path) => {
    if (isScalar(node) && typeof node.value === 'string' && node.value.length > INPUT_LIMITS.scalarBytes) {
      found = { node, message: `a value of ${formatBytes(node.value.length)} is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}; no field of a mailops object is that long` };
      return visit.BREAK;
    }
    if ((isMap(node) || isSeq(node)) && path.filter((p) => isMap(p) || isSeq(p)).length >= INPUT_LIMITS.depth) {
      found = { node, message: `mappings and sequences are nested more than ${INPUT_LIMITS.depth} deep; no mailops object is` };
      return visit.BREAK;
    }
    return undefined;
  });
  return found;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Walks the YAML tree along `path`; returns the deepest node found on the way. */
function locateIn(
  doc: Document,
  path: FieldPath,
  wantKey: boolean,
  positionAt: (offset: number) => SourcePosition,
): SourcePosition | undefined {
  let node: Node | null | undefined = doc.contents as Node | null;
  let found: SourcePosition | undefined = node?.range ? positionAt(node.range[0]) : undefined;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) return found;
      const keyNode = pair.key as Node;
      const valueNode = pair.value as Node | null;
      if (last && (wantKey || !valueNode?.range)) {
        return keyNode.range ? positionAt(keyNode.range[0]) : found;
      }
      node = valueNode;
    } else if (isSeq(node) && typeof step === 'number') {
      node = node.items[step] as Node | undefined;
    } else {
      return found;
    }
    if (node?.range) found = positionAt(node.range[0]);
  }
  return found;
}
