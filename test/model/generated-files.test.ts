import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../src/cli/generate.ts';

describe('files generated from the schemas', () => {
  it.each(generatedFiles().map((f) => [f.file, f.content]))('%s is up to date (run `npm run generate` after changing src/model)', async (file, content) => {
    expect(await readFile(file, 'utf8')).toBe(content);
  });

  it('gives every CRD a structural schema: no additionalProperties:false, every node typed or int-or-string', () => {
    for (const { file, content } of generatedFiles().filter((f) => f.file.startsWith('crds'))) {
      const crd = parse(content);
      const version = crd.spec.versions[0];
      expect(version.subresources).toEqual({ status: {} });
      expect(crd.spec.names.categories).toEqual(['mail']);
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
      const walk = (node: Record<string, unknown>, path: string) => {
        expect(node.additionalProperties, `${file} ${path}`).not.toBe(false);
        if (node['x-kubernetes-int-or-string']) {
          // The one form the API server accepts (it compares the anyOf for equality).
          expect(node.type, `${file} ${path}`).toBeUndefined();
          expect(node.anyOf, `${file} ${path}`).toEqual([{ type: 'integer' }, { type: 'string' }]);
        } else if (!path.endsWith('anyOf')) {
          expect(typeof node.type, `${file} ${path} has no type`).toBe('string');
        }
        for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(child, `${path}.${name}`);
        if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
      };
      walk(version.schema.openAPIV3Schema, '');
    }
  });
});
