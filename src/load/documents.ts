// YAML text → documents that remember where each of their fields was written.
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { ConfigError, FieldPath, SourcePosition } from './errors.ts';

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
        errors.push({ position: positionAt(problem.pos[0]), message: `YAML: ${firstLine(problem.message)}` });
      }
      return;
    }
    if (doc.contents === null) return; // an empty document between `---` separators
    const value = doc.toJS({ maxAliasCount: 1000 });
    const base = positionAt(doc.contents.range?.[0] ?? 0);
    documents.push({
      file,
      index,
      value,
      locate: (path, options) => locateIn(doc, path, options?.key ?? false, positionAt) ?? base,
    });
  });
  return { documents, errors };
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
