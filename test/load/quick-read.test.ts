// The loader reads files the quick way (js-yaml, positions found on demand) and falls back to the
// careful way (the `yaml` library, token by token, positions kept) for anything unusual. Both ways
// must accept the same files, build the same values and name the same positions.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newReadBudget, parseYamlFile, type ParsedFile } from '../../src/load/documents.ts';
import type { FieldPath } from '../../src/load/errors.ts';
import { ROOT } from '../support/cli.ts';

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    if (statSync(full).isDirectory()) return yamlFilesUnder(full);
    return /\.ya?ml$/.test(name) ? [full] : [];
  });
}

/** Every path to a value in `value` (the root, mappings' keys, sequences' items). */
function pathsIn(value: unknown, base: FieldPath = []): FieldPath[] {
  const paths: FieldPath[] = [base];
  if (Array.isArray(value)) value.forEach((item, i) => paths.push(...pathsIn(item, [...base, i])));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) paths.push(...pathsIn(item, [...base, key]));
  return paths;
}

function bothWays(file: string, text: string): { quick: ParsedFile; careful: ParsedFile } {
  return { quick: parseYamlFile(file, text, newReadBudget()), careful: parseYamlFile(file, text, newReadBudget(), { quick: false }) };
}

function expectSameReading(file: string, text: string): ParsedFile {
  const { quick, careful } = bothWays(file, text);
  expect(quick.errors).toEqual(careful.errors);
  expect(quick.documents.map((d) => d.value)).toEqual(careful.documents.map((d) => d.value));
  quick.documents.forEach((document, i) => {
    for (const at of pathsIn(document.value)) {
      for (const key of [false, true]) {
        expect(document.locate(at, { key }), `${file} document ${i} ${JSON.stringify(at)} key=${key}`).toEqual(careful.documents[i]!.locate(at, { key }));
      }
    }
  });
  return quick;
}

const MANIFEST = (spec: string) => `apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata:\n  name: a\nspec:\n${spec}`;

describe('reading YAML the quick way', () => {
  it('reads every manifest of the repository quickly, with the values and positions of the careful way', () => {
    const files = [...yamlFilesUnder(path.join(ROOT, 'examples')), ...yamlFilesUnder(path.join(ROOT, 'manifests')), ...yamlFilesUnder(path.join(ROOT, 'test'))];
    expect(files.length).toBeGreaterThan(10);
    let quickly = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      if (expectSameReading(path.relative(ROOT, file), text).reader === 'quick') quickly += 1;
    }
    // The examples are plain manifests: all of them are read the quick way.
    expect(quickly).toBeGreaterThanOrEqual(yamlFilesUnder(path.join(ROOT, 'examples')).length);
  });

  const readAlike: Array<[string, string]> = [
    ['scalars of the YAML 1.2 core schema', 'a: 0o17\nb: 0x1f\nc: 1_000\nd: .5\ne: +1\nf: 1e3\ng: True\nh: TRUE\ni: yes\nj: ~\nk: Null\nl: 012\nm: .inf\nn: -.Inf\no: .NaN\np: 2024-01-01\nq: 12:30\nr: "123"\ns: "a\\tb"\nt: 9007199254740993\nu: -0\nv: 0.\nw: on\n'],
    ['keys that are not strings', '1: x\ntrue: y\n0x10: z\n1.5: w\n'],
    ['block and folded scalars', MANIFEST('  displayName: |\n    line one\n    line two\n  x: >-\n    folded\n    text\n\n    kept\n  y: |+\n    keep\n\n')],
    ['multi-line plain and quoted scalars', MANIFEST('  displayName: a plain\n    scalar over lines\n  x: "a quoted\n    one"\n  y: \'single\n\n    quoted\'\n')],
    ['flow collections', MANIFEST('  extraAddresses: [a@example.com, "b@example.com" ,\n    c@example.com]\n  quota: {storage: 1Gi, messages: 100}\n')],
    ['comments and document markers', '# head\n\n--- # a comment\n# more\napiVersion: v1\nkind: A\n--- {apiVersion: v1, kind: B}\n---\n# only a comment\n---\n---\nnull\n---\n  apiVersion: v1\n  kind: C\n'],
    ['CRLF line ends', 'apiVersion: v1\r\nkind: A\r\n---\r\napiVersion: v1\r\nkind: B\r\nspec:\r\n  - a\r\n  - b\r\n'],
    ['tabs and trailing spaces', 'apiVersion: v1   \nkind:\tA\nspec: {a: 1}\t\n'],
    ['explicit tags', 'a: !!str 123\nb: !!int "5"\nc: !!float 1\nd: !!null ""\ne: !!bool "true"\n'],
    ['a key written as `<<`', 'a: 1\n<<: {b: 2}\n'],
    ['a list of objects', 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n- {apiVersion: v1, kind: B}\n'],
    ['document end markers', 'a: 1\n...\n---\nb: 2\n...\n'],
    ['directives', '%YAML 1.2\n---\na: 1\n'],
    ['anchors and aliases', 'a: &x [1, 2]\nb: *x\n'],
    ['a complex key', '? [a, b]\n: c\n'],
    ['duplicate keys', MANIFEST('  address: a@example.com\n  address: b@example.com\n')],
    ['a YAML error', 'a: [1, 2\nb: 3\n'],
    ['an unterminated quote across documents', 'a: "one\n---\nb: 2"\n'],
    ['an unknown tag', 'a: !custom 1\n'],
    ['an escaped control character', 'a: "\\x01"\n'],
    ['a nesting too deep for the limit', `a: ${'['.repeat(40)}${']'.repeat(40)}\n`],
  ];
  for (const [what, text] of readAlike) {
    it(`reads ${what} as the careful way does`, () => {
      expectSameReading('x.yaml', text);
    });
  }

  it('reads aliases, directives and YAML errors the careful way', () => {
    for (const text of ['a: &x 1\nb: *x\n', '%YAML 1.2\n---\na: 1\n', 'a: [1\n', 'a: 1\na: 2\n']) {
      expect(parseYamlFile('x.yaml', text).reader, text).toBe('careful');
    }
    expect(parseYamlFile('x.yaml', 'a: 1\n---\nb: [1, 2]\n').reader).toBe('quick');
  });

  it('finds the position of a field in a later document when asked', () => {
    const text = `${MANIFEST('  address: a@example.com\n')}---\n${MANIFEST('  address: b@example.com\n  quota:\n    storage: 1Gi\n')}`;
    const parsed = parseYamlFile('users.yaml', text);
    expect(parsed.reader).toBe('quick');
    expect(parsed.documents[1]!.locate([])).toEqual({ file: 'users.yaml', line: 8, column: 1 });
    expect(parsed.documents[1]!.locate(['spec', 'quota', 'storage'])).toEqual({ file: 'users.yaml', line: 15, column: 14 });
    expect(parsed.documents[1]!.locate(['spec', 'quota', 'storage'], { key: true })).toEqual({ file: 'users.yaml', line: 15, column: 5 });
    // A field that is not there: its closest parent.
    expect(parsed.documents[1]!.locate(['spec', 'forwarding', 'to'])).toEqual({ file: 'users.yaml', line: 13, column: 3 });
  });
});
