// CustomResourceDefinitions derived from the TypeBox schemas. Pure: returns objects; the CLI
// writes them to crds/ and a test fails when the files there are stale.
import type { V1CustomResourceDefinition, V1JSONSchemaProps } from '@kubernetes/client-node';
import { CATEGORY, KINDS, type KindInfo } from './kinds.ts';
import { API_GROUP, API_VERSION, INT_OR_STRING } from './schema.ts';

type JsonSchema = Record<string, unknown>;

/**
 * Rewrites a JSON Schema node into a Kubernetes structural schema:
 * - `additionalProperties: false` goes (the API server prunes unknown fields instead, and
 *   structural schemas forbid it next to `properties`);
 * - an enum gets its `type`;
 * - an int-or-string node keeps only the two typed branches under anyOf, as the API server demands.
 */
export function toStructural(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'properties' && isRecord(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, toStructural(child as JsonSchema)]),
      );
    } else if (key === 'items' && isRecord(value)) {
      out.items = toStructural(value);
    } else if (key === 'patternProperties' && isRecord(value)) {
      // A map with free keys: Kubernetes spells it additionalProperties.
      const [valueSchema] = Object.values(value);
      out.additionalProperties = toStructural(valueSchema as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (Array.isArray(out.enum) && out.type === undefined) {
    out.type = typeof out.enum[0] === 'number' ? 'integer' : 'string';
  }
  if (out[INT_OR_STRING] === true) {
    // The API server accepts exactly anyOf [{type: integer}, {type: string}] here; the branches'
    // own checks (minimum applies to numbers only, pattern to strings only) move up to the node.
    delete out.type;
    for (const branch of (out.anyOf ?? []) as JsonSchema[]) {
      for (const [key, value] of Object.entries(branch)) if (key !== 'type') out[key] = value;
    }
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function crdFor(info: KindInfo): V1CustomResourceDefinition {
  const schema = toStructural(info.schema as unknown as JsonSchema);
  const properties = schema.properties as Record<string, JsonSchema>;
  // apiVersion, kind and metadata are the API server's own; it validates them.
  const openAPIV3Schema = {
    type: 'object',
    description: info.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: properties.spec,
      status: properties.status,
    },
  } as V1JSONSchemaProps;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: [CATEGORY],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns: info.columns,
        },
      ],
    },
  };
}

export function allCrds(): Array<{ fileName: string; crd: V1CustomResourceDefinition }> {
  return KINDS.map((info) => ({ fileName: `${API_GROUP}_${info.plural}.yaml`, crd: crdFor(info) }));
}
