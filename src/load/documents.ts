// YAML text → documents that remember where each of their fields was written.
import { isUtf8 } from 'node:buffer';
import { CST, Composer, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser, visit, type Document, type Node } from 'yaml';
import { formatFieldPath, type ConfigError, type FieldPath, type SourcePosition } from './errors.ts';
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

/**
 * What one run may still read: shared by the files of a run, so that the limits hold for all of
 * them together, and checked while the text is read, before a document is built from it.
 */
export interface ReadBudget {
  tokens: number;
  documents: number;
}

export function newReadBudget(): ReadBudget {
  return { tokens: INPUT_LIMITS.tokens, documents: INPUT_LIMITS.documents };
}

export function parseYamlFile(file: string, text: string, budget: ReadBudget = newReadBudget()): ParsedFile {
  const lineCounter = new LineCounter();
  const documents: SourceDocument[] = [];
  const errors: ConfigError[] = [];
  const positionAt = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const long = firstLongLine(text, INPUT_LIMITS.scalarBytes);
  if (long) {
    errors.push({ position: { file, line: long, column: 1 }, message: `line ${long} is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}; no field of a mailops object is that long` });
    return { documents, errors };
  }
  const control = firstControlCharacter(text);
  if (control) {
    errors.push({ position: positionInText(file, text, control.offset), message: `${describeCharacter(control.char)} is not allowed in YAML; the file is not text (save it as UTF-8 without control characters)` });
    return { documents, errors };
  }

  const report = (error: ConfigError): boolean => {
    errors.push(error);
    if (errors.length < INPUT_LIMITS.errorsPerFile) return true;
    errors.push({ position: error.position, message: `more than ${INPUT_LIMITS.errorsPerFile} errors; the rest of the file is not read` });
    return false;
  };

  const consider = (doc: Document, index: number): boolean => {
    const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'DUPLICATE_KEY')];
    if (problems.length > 0) {
      for (const problem of problems) {
        // The parser reports a nesting deeper than the call stack as a stack overflow: say what it means.
        const message = problem.message.includes('Maximum call stack size exceeded')
          ? `mappings and sequences are nested more than ${INPUT_LIMITS.depth} deep; no mailops object is`
          : `YAML: ${firstLine(problem.message)}`;
        if (!report({ position: positionAt(problem.pos[0]), message })) return false;
      }
      return true;
    }
    const base = positionAt(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0);
    const unfit = unfitNode(doc);
    if (unfit) {
      return report({ position: unfit.node.range ? positionAt(unfit.node.range[0]) : base, ...(unfit.field ? { field: unfit.field } : {}), message: unfit.message });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: INPUT_LIMITS.aliases });
    } catch (error) {
      // yaml refuses alias bombs ("Excessive alias count…") while building the value.
      return report({ position: base, message: `YAML: ${firstLine((error as Error).message)} (at most ${INPUT_LIMITS.aliases} aliases are resolved per document)` });
    }
    // Like kubectl: an empty document (a trailing `---`, only comments, `null`) is no object.
    if (value === null || value === undefined) return true;
    budget.documents -= 1;
    if (budget.documents < 0) {
      report({ position: base, message: `with this document the configuration passes ${INPUT_LIMITS.documents.toLocaleString('en')} documents, the most mailops reads in one run` });
      return false;
    }
    documents.push({
      file,
      index,
      value,
      locate: (path, options) => locateIn(doc, path, options?.key ?? false, positionAt) ?? base,
    });
    return true;
  };

  // parseAllDocuments, one token at a time: the limits are checked as the text is read, so a
  // document of millions of nodes (or millions of documents) is refused before it fills memory.
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ uniqueKeys: true, prettyErrors: false });
  let index = 0;
  let depth = 0;
  let documentTokens = 0;
  const composed = function* (tokens: Iterable<CST.Token>) {
    for (const token of tokens) yield* composer.next(token);
  };
  lineCounter.addNewLine(0);
  const read = (): void => {
    for (const lexeme of new Lexer().lex(text)) {
      budget.tokens -= 1;
      if (budget.tokens < 0) {
        report({ position: positionAt(parser.offset), message: `with this file the configuration passes ${INPUT_LIMITS.tokens.toLocaleString('en')} YAML tokens, the most mailops reads in one run (100,000 users take about 11 million)` });
        return;
      }
      // A plain or block scalar spans lines, so the line limit does not bound it: its token does.
      // The text of a value holds its indentation and escapes too, hence twice the value limit here;
      // the value itself is measured once it is built.
      if (lexeme.length > 2 * INPUT_LIMITS.scalarBytes) {
        report({ position: positionAt(parser.offset), message: `a value is written over ${formatBytes(lexeme.length)} of text; no field of a mailops object is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}` });
        return;
      }
      const type = CST.tokenType(lexeme);
      if (type === 'doc-start' || type === 'doc-end') documentTokens = 0;
      documentTokens += 1;
      if (documentTokens > INPUT_LIMITS.documentTokens) {
        report({ position: positionAt(parser.offset), message: `this document passes ${INPUT_LIMITS.documentTokens.toLocaleString('en')} YAML tokens, the most mailops reads in one document; write one document per object` });
        return;
      }
      // Flow collections nest without indentation, so a line within the line limit can still nest
      // deeper than the parser's call stack: count them here, before the parser recurses.
      if (type === 'flow-map-start' || type === 'flow-seq-start') depth += 1;
      else if (type === 'flow-map-end' || type === 'flow-seq-end') depth = Math.max(0, depth - 1);
      else if (type === 'doc-start') depth = 0;
      if (depth > INPUT_LIMITS.depth) {
        report({ position: positionAt(parser.offset), message: `mappings and sequences are nested more than ${INPUT_LIMITS.depth} deep; no mailops object is` });
        return;
      }
      for (const doc of composed(parser.next(lexeme))) if (!consider(doc, index++)) return;
    }
    for (const doc of composed(parser.end())) if (!consider(doc, index++)) return;
    for (const doc of composer.end(false, text.length)) if (!consider(doc, index++)) return;
  };
  read();
  return { documents, errors };
}

/**
 * The text of a manifest file, or why it is not one. kubectl reads every .yaml/.yml/.json file of a
 * directory and fails on one that is not YAML; so does mailops, with one error that says what the
 * file is instead of a page of YAML errors about its bytes.
 */
export function decodeManifest(file: string, bytes: Uint8Array): { text: string } | { error: ConfigError } {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { error: { position: { file, line: 1, column: 1 }, message: 'the file is UTF-16 text; mailops reads UTF-8 (as kubectl does): save it as UTF-8' } };
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    const before = new TextDecoder().decode(bytes.subarray(0, nul));
    return { error: { position: positionInText(file, before, before.length), message: 'the file holds NUL bytes: it is a binary file, not YAML' } };
  }
  const text = new TextDecoder().decode(bytes);
  if (!isUtf8(bytes)) {
    // The decoder put U+FFFD where the bytes were not UTF-8; the first one is the place to look.
    return { error: { position: positionInText(file, text, Math.max(0, text.indexOf('\uFFFD'))), message: 'the file is not valid UTF-8 (a binary file, or text in another encoding such as Latin-1): save it as UTF-8' } };
  }
  return { text };
}

/** The first character a YAML stream may not hold (YAML 1.2 §5.1: C0 and C1 controls but tab, line breaks and NEL; DEL). */
function firstControlCharacter(text: string): { offset: number; char: string } | undefined {
  const match = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F]/.exec(text);
  return match ? { offset: match.index, char: match[0] } : undefined;
}

/** Characters no field of a mailops object takes: control characters other than tab and line breaks. */
const CONTROL_IN_VALUE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]/;

function describeCharacter(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}${code === 0 ? ' (NUL)' : ''}`;
}

/** The line and column of an offset, counted without a LineCounter (for text that is refused before parsing). */
function positionInText(file: string, text: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) {
    line += 1;
    lineStart = at + 1;
  }
  return { file, line, column: offset - lineStart + 1 };
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

/** A scalar longer than the limit or holding control characters, or collections nested deeper than the limit. */
function unfitNode(doc: Document): { node: Node; field: string | undefined; message: string } | undefined {
  let found: { node: Node; field: string | undefined; message: string } | undefined;
  visit(doc, (_key, node, path) => {
    if (isScalar(node) && typeof node.value === 'string') {
      const problem =
        node.value.length > INPUT_LIMITS.scalarBytes
          ? `a value of ${formatBytes(node.value.length)} is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}; no field of a mailops object is that long`
          : CONTROL_IN_VALUE.test(node.value)
            ? `holds ${describeCharacter(CONTROL_IN_VALUE.exec(node.value)![0])}; no field of a mailops object takes control characters`
            : undefined;
      if (problem) {
        found = { node, field: fieldOf(path, node), message: problem };
        return visit.BREAK;
      }
    }
    if ((isMap(node) || isSeq(node)) && path.filter((p) => isMap(p) || isSeq(p)).length >= INPUT_LIMITS.depth) {
      found = { node, field: undefined, message: `mappings and sequences are nested more than ${INPUT_LIMITS.depth} deep; no mailops object is` };
      return visit.BREAK;
    }
    return undefined;
  });
  return found;
}

/** `spec.forwarding.to[1]` for a node reached along `path` (keys and sequence positions). */
function fieldOf(path: readonly unknown[], node: Node): string | undefined {
  const steps: Array<string | number> = [];
  const chain = [...path, node];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    const child = chain[i];
    if (isPair(parent)) {
      // A key names itself by its own text; a value by its pair's key.
      if (parent.key === child) return steps.length > 0 ? `${formatFieldPath(steps)} (a key)` : '(a key)';
      if (isScalar(parent.key)) steps.push(String(parent.key.value));
    } else if (isSeq(parent)) {
      steps.push(parent.items.indexOf(child as never));
    }
  }
  return steps.length > 0 ? formatFieldPath(steps) : undefined;
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
