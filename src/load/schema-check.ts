// Checks a document against its kind's JSON Schema (the same schema the CRDs carry) and turns
// ajv's findings into errors a person can act on.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { KINDS } from '../model/kinds.ts';
import { ADDRESS_PATTERN, DOMAIN_PATTERN, OBJECT_NAME_PATTERN, addressProblem, domainProblem } from '../model/names.ts';
import { MESSAGES_PATTERN, STORAGE_PATTERN } from '../model/quantity.ts';
import { CEL_RULES, INT_OR_STRING, LIST_MAP_KEYS, LIST_TYPE, type KindName } from '../model/schema.ts';
import type { FieldPath } from './errors.ts';

export interface SchemaFinding {
  path: FieldPath;
  /** Point at the key rather than the value (unknown fields). */
  atKey: boolean;
  message: string;
}

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, formats: { 'date-time': true } });
// Kubernetes annotations in the schema: meaningful to the API server, not to ajv. The CEL rules
// are enforced for files in load/config.ts.
for (const keyword of [INT_OR_STRING, CEL_RULES, LIST_TYPE, LIST_MAP_KEYS]) ajv.addKeyword(keyword);

const addressFields = new Map<KindName, AddressStep[][]>(KINDS.map((info) => [info.kind, [...addressPaths(info.schema).values()]]));
const validators = new Map<KindName, ValidateFunction>(
  KINDS.map((info) => [info.kind, ajv.compile(info.schema)]),
);

const PATTERN_MESSAGES: Record<string, string> = {
  [ADDRESS_PATTERN]: 'is not a valid mail address (ASCII, like user@example.com)',
  [DOMAIN_PATTERN]: 'is not a valid domain name (like example.com)',
  [OBJECT_NAME_PATTERN]: "is not a valid object name (lowercase letters, digits, '-' and '.')",
  [STORAGE_PATTERN]: 'is not a storage size (write it like 500Mi, 2Gi, 10G or unlimited)',
  [MESSAGES_PATTERN]: 'is not a message count (a whole number or unlimited)',
};

export function checkAgainstSchema(kind: KindName, value: unknown): SchemaFinding[] {
  const validate = validators.get(kind);
  if (!validate) throw new Error(`no schema for kind ${kind}`);
  if (validate(value)) return nameFindings(addressFields.get(kind)!, value);
  return describe(validate.errors ?? [], value);
}

/** A step to an address field: a mapping's key, or `*` for every item of a sequence. */
type AddressStep = string | { items: true };

/** Where a kind's schema has address fields (its anyOf/allOf branches followed), found once per kind. */
function addressPaths(schema: unknown, path: AddressStep[] = [], found = new Map<string, AddressStep[]>()): Map<string, AddressStep[]> {
  const node = schema as { pattern?: string; properties?: Record<string, unknown>; items?: unknown; anyOf?: unknown[]; allOf?: unknown[] };
  if (node.pattern === ADDRESS_PATTERN) found.set(JSON.stringify(path), path);
  for (const branch of [...(node.anyOf ?? []), ...(node.allOf ?? [])]) addressPaths(branch, path, found);
  if (node.items) addressPaths(node.items, [...path, { items: true }], found);
  for (const [key, child] of Object.entries(node.properties ?? {})) addressPaths(child, [...path, key], found);
  return found;
}

/**
 * What a names pattern lets through and RFC 5321 does not: a local part over 64 characters. Only the
 * address fields of a kind are visited, so that the check costs little for 100,000 valid users.
 */
function nameFindings(paths: readonly AddressStep[][], value: unknown): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const at: Array<string | number> = [];
  const visit = (current: unknown, steps: readonly AddressStep[], i: number): void => {
    if (i === steps.length) {
      const problem = typeof current === 'string' ? addressProblem(current) : undefined;
      if (problem) findings.push({ path: [...at], atKey: false, message: `${JSON.stringify(current)} ${problem}` });
      return;
    }
    const step = steps[i]!;
    if (typeof step !== 'string') {
      if (!Array.isArray(current)) return;
      current.forEach((item, index) => {
        at.push(index);
        visit(item, steps, i + 1);
        at.pop();
      });
    } else if (current !== null && typeof current === 'object' && !Array.isArray(current) && Object.hasOwn(current, step)) {
      at.push(step);
      visit((current as Record<string, unknown>)[step], steps, i + 1);
      at.pop();
    }
  };
  for (const steps of paths) visit(value, steps, 0);
  return findings;
}

/** A names pattern's finding in the words of what is wrong with the value (an IDN, a length), where the value says. */
function nameProblem(pattern: string | undefined, value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (pattern === ADDRESS_PATTERN) return addressProblem(value);
  if (pattern === DOMAIN_PATTERN) return domainProblem(value);
  return undefined;
}

function describe(errors: ErrorObject[], root: unknown): SchemaFinding[] {
  // An int-or-string field that matches neither branch yields one error per branch plus the anyOf:
  // report it once, in the words of the string branch.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const findings: SchemaFinding[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (anyOfPaths.has(error.instancePath) && error.keyword !== 'anyOf') continue;
    const finding = toFinding(error, root);
    const key = `${finding.path.join('/')}|${finding.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      findings.push(finding);
    }
  }
  return findings;
}

function toFinding(error: ErrorObject, root: unknown): SchemaFinding {
  const path = pointerToPath(error.instancePath);
  const value = valueAt(root, path);
  const shown = JSON.stringify(value);
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { path: [...path, missing], atKey: false, message: 'is required' };
    }
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
      const hint = closest(extra, known);
      return {
        path: [...path, extra],
        atKey: true,
        message: `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields: ${known.join(', ')}`,
      };
    }
    case 'pattern': {
      const pattern = (error.params as { pattern: string }).pattern;
      return { path, atKey: false, message: `${shown} ${nameProblem(pattern, value) ?? PATTERN_MESSAGES[pattern] ?? `does not match ${pattern}`}` };
    }
    case 'anyOf': {
      const schema = error.schema as Array<{ pattern?: string }>;
      const pattern = schema.find((branch) => branch.pattern)?.pattern ?? '';
      return { path, atKey: false, message: `${shown} ${PATTERN_MESSAGES[pattern] ?? 'has the wrong form'}` };
    }
    case 'type':
      return { path, atKey: false, message: `expected ${article(String(error.params.type))}, got ${typeName(value)}` };
    case 'enum':
      return {
        path,
        atKey: false,
        message: `${shown} is not one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`,
      };
    case 'const':
      return { path, atKey: false, message: `must be ${JSON.stringify(error.params.allowedValue)}` };
    case 'minItems':
      return { path, atKey: false, message: `needs at least ${error.params.limit} item${error.params.limit === 1 ? '' : 's'}` };
    case 'maxItems':
      return { path, atKey: false, message: `has more than ${error.params.limit} items` };
    case 'maxLength': {
      const problem = nameProblem((error.parentSchema as { pattern?: string }).pattern, value);
      return { path, atKey: false, message: problem ? `${shown} ${problem}` : `is longer than ${error.params.limit} characters` };
    }
    case 'minimum':
    case 'maximum':
      return { path, atKey: false, message: `${shown} ${error.message ?? 'is out of range'}` };
    default:
      return { path, atKey: false, message: error.message ?? 'is invalid' };
  }
}

function pointerToPath(pointer: string): FieldPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((step) => (/^\d+$/.test(step) ? Number(step) : step));
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let value = root;
  for (const step of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[step];
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${article(typeof value)} (${JSON.stringify(value)})`;
}

function article(type: string): string {
  const words: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    integer: 'a whole number',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
  };
  return words[type] ?? type;
}

/** The known name nearest to a misspelt one, if it is near enough to be a typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
