// YAML text → documents that remember where each of their fields was written.
import { isUtf8 } from 'node:buffer';
import { CORE_SCHEMA, loadAll } from 'js-yaml';
import { CST, Composer, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser, visit, type Document, type Node } from 'yaml';
import { formatFieldPath, type ConfigError, type FieldPath, type SourcePosition } from './errors.ts';
import { INPUT_LIMITS, formatBytes } from './limits.ts';

/** One YAML document (or one item of a `kind: List`) with a way back to its source text. */
export interface SourceDocument {
  file: string;
  value: unknown;
  /** Position of the field at `path` (or of its closest existing parent). */
  locate(path: FieldPath, options?: { key?: boolean }): SourcePosition;
}

export interface ParsedFile {
  documents: SourceDocument[];
  errors: ConfigError[];
  /** How the file was read: `quick` (js-yaml, positions on demand) or `careful` (see readQuickly). */
  reader?: 'quick' | 'careful';
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

/** `quick: false` reads the careful way only (tests compare the two ways with it). */
export function parseYamlFile(file: string, text: string, budget: ReadBudget = newReadBudget(), options: { quick?: boolean } = {}): ParsedFile {
  const long = firstLongLine(text, INPUT_LIMITS.scalarBytes);
  if (long) {
    return { documents: [], errors: [{ position: { file, line: long, column: 1 }, message: `line ${long} is longer than ${formatBytes(INPUT_LIMITS.scalarBytes)}; no field of a mailops object is that long` }] };
  }
  const control = firstControlCharacter(text);
  if (control) {
    return { documents: [], errors: [{ position: positionInText(file, text, control.offset), message: `${describeCharacter(control.char)} is not allowed in YAML; the file is not text (save it as UTF-8 without control characters)` }] };
  }
  return (options.quick === false ? undefined : readQuickly(file, text, budget)) ?? { ...readCarefully(file, text, budget), reader: 'careful' };
}

/**
 * The quick way, for the files people write: each document is read on its own by js-yaml, which
 * builds plain values about fifteen times faster than the `yaml` library builds documents that
 * remember positions. Positions are needed only to report something, so a document finds them
 * when asked, by reading its own text again the careful way.
 *
 * Anything unusual (a YAML error, an alias, a directive, a value past a limit, a budget nearly
 * spent) gives `undefined`: the whole file is then read carefully, which reports it as before.
 * So both ways accept the same files and build the same values (test/load/quick-read.test.ts).
 */
function readQuickly(file: string, text: string, budget: ReadBudget): ParsedFile | undefined {
  // Directives apply across documents, and `...` ends one mid-stream: both are rare, and read carefully.
  if (/^(?:%|\.\.\.(?:[ \t\r\n]|$))/m.test(text)) return undefined;
  // Explicit tags are rare too, and the two libraries differ on some (`!!float 1`).
  if (/(?:^|[\s[{,])!/.test(text)) return undefined;
  // Tokens are estimated from the text (about three bytes each in manifests); near a limit, the
  // careful reader counts them exactly. This also bounds what js-yaml holds in memory at once.
  if (text.length / BYTES_PER_TOKEN > budget.tokens) return undefined;
  const documents: SourceDocument[] = [];
  let documentsLeft = budget.documents;
  for (const segment of documentTexts(text)) {
    if (segment.text.length / BYTES_PER_TOKEN > INPUT_LIMITS.documentTokens) return undefined;
    let values: unknown[];
    try {
      values = loadAll(segment.text, { filename: file, schema: CORE_SCHEMA, maxAliases: 0, maxDepth: INPUT_LIMITS.depth });
    } catch {
      return undefined;
    }
    if (values.length > 1) return undefined;
    const value = values[0];
    // Like kubectl: an empty document (only comments, `null`) is no object.
    if (value === null || value === undefined) continue;
    // A string can only hold a control character through an escape, and only be over the limit in a
    // document that is: most documents need no walk.
    if ((segment.text.includes('\\') || segment.text.length > INPUT_LIMITS.scalarBytes) && !fitValue(value)) return undefined;
    documentsLeft -= 1;
    if (documentsLeft < 0) return undefined;
    const start = contentStart(segment.text);
    const base: SourcePosition = { file, line: segment.line + start.line, column: start.column };
    let careful: SourceDocument | undefined;
    documents.push({
      file,
      value,
      locate: (path, options) => {
        if (path.length === 0 && !options?.key) return base;
        careful ??= readCarefully(file, segment.text, newReadBudget()).documents[0];
        const found = careful?.locate(path, options);
        return found ? { file, line: found.line + segment.line - 1, column: found.column } : base;
      },
    });
  }
  budget.documents = documentsLeft;
  budget.tokens -= Math.ceil(text.length / BYTES_PER_TOKEN);
  return { documents, errors: [], reader: 'quick' };
}

const BYTES_PER_TOKEN = 3;

/** The documents of a YAML stream as texts, split at the `---` lines that start each (a line YAML reserves for that). */
function* documentTexts(text: string): Generator<{ text: string; line: number }> {
  const marker = /^---(?=[ \t\r\n]|$)/gm;
  let start = 0;
  let line = 1;
  const next = (end: number) => {
    const piece = { text: text.slice(start, end), line };
    for (let at = text.indexOf('\n', start); at !== -1 && at < end; at = text.indexOf('\n', at + 1)) line += 1;
    start = end;
    return piece;
  };
  for (let match = marker.exec(text); match; match = marker.exec(text)) {
    if (match.index > start) yield next(match.index);
  }
  if (start < text.length) yield next(text.length);
}

/** Where a document's content starts in its text (0-based line, 1-based column), past its `---` and comments. */
function contentStart(text: string): { line: number; column: number } {
  let line = 0;
  let lineStart = 0;
  for (;;) {
    const end = text.indexOf('\n', lineStart);
    const lineText = text.slice(lineStart, end === -1 ? text.length : end);
    const skip = line === 0 && /^---(?=[ \t\r]|$)/.test(lineText) ? 3 : 0;
    const content = /[^ \t\r]/.exec(lineText.slice(skip));
    if (content && content[0] !== '#') return { line, column: skip + content.index + 1 };
    if (end === -1) return { line: 0, column: 1 };
    line += 1;
    lineStart = end + 1;
  }
}

/** True when no string (key or value) of a value is too long or holds control characters. */
function fitValue(value: unknown): boolean {
  if (typeof value === 'string') return value.length <= INPUT_LIMITS.scalarBytes && !CONTROL_IN_VALUE.test(value);
  if (Array.isArray(value)) return value.every(fitValue);
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) if (!fitValue(key) || !fitValue(item)) return false;
  }
  return true;
}

/** The careful way: token by token within the budget, every document with its positions. */
function readCarefully(file: string, text: string, budget: ReadBudget): ParsedFile {
  const lineCounter = new LineCounter();
  const documents: SourceDocument[] = [];
  const errors: ConfigError[] = [];
  const positionAt = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };

  const report = (error: ConfigError): boolean => {
    errors.push(error);
    if (errors.length < INPUT_LIMITS.errorsPerFile) return true;
    errors.push({ position: error.position, message: `more than ${INPUT_LIMITS.errorsPerFile} errors; the rest of the file is not read` });
    return false;
  };

  const consider = (doc: Document): boolean => {
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
      value,
      locate: (path, options) => locateIn(doc, path, options?.key ?? false, positionAt) ?? base,
    });
    return true;
  };

  // parseAllDocuments, one token at a time: the limits are checked as the text is read, so a
  // document of millions of nodes (or millions of documents) is refused before it fills memory.
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ uniqueKeys: true, prettyErrors: false });
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
      for (const doc of composed(parser.next(lexeme))) if (!consider(doc)) return;
    }
    for (const doc of composed(parser.end())) if (!consider(doc)) return;
    for (const doc of composer.end(false, text.length)) if (!consider(doc)) return;
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
