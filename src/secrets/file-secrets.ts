// Secrets in file mode. A SecretKeySelector {name, key} is read from, in this order:
//   1. the environment variable MAILOPS_SECRET_<NAME>_<KEY> (upper case, other characters → _);
//   2. the file <secrets dir>/<name>/<key> — the layout of a Kubernetes Secret mounted as a volume.
// One trailing newline is dropped from files (editors add it).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ConfigError } from '../load/errors.ts';
import type { SecretRef } from '../model/config.ts';
import { Sensitive } from '../model/sensitive.ts';

export interface SecretResolver {
  resolve(ref: SecretRef): Promise<Sensitive>;
}

export class SecretNotFound extends Error {}

export function secretEnvName(ref: Pick<SecretRef, 'name' | 'key'>): string {
  return `MAILOPS_SECRET_${ref.name}_${ref.key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export class FileSecretResolver implements SecretResolver {
  readonly #dir: string | undefined;
  readonly #env: NodeJS.ProcessEnv;

  constructor(options: { secretsDir?: string | undefined; env?: NodeJS.ProcessEnv } = {}) {
    this.#env = options.env ?? process.env;
    this.#dir = options.secretsDir ?? this.#env.MAILOPS_SECRETS_DIR;
  }

  async resolve(ref: SecretRef): Promise<Sensitive> {
    const variable = secretEnvName(ref);
    const fromEnv = this.#env[variable];
    if (fromEnv !== undefined && fromEnv !== '') return new Sensitive(fromEnv);
    if (this.#dir) {
      const file = path.join(this.#dir, ref.name, ref.key);
      try {
        const text = await readFile(file, 'utf8');
        const value = text.endsWith('\n') ? text.slice(0, -1) : text;
        if (value === '') throw new SecretNotFound(`secret ${ref.name}/${ref.key} is empty (${file})`);
        return new Sensitive(value);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    const where = this.#dir ? ` or the file ${path.join(this.#dir, ref.name, ref.key)}` : ' (or use --secrets-dir)';
    throw new SecretNotFound(`secret ${ref.name}/${ref.key} not found: set ${variable}${where}`);
  }
}

/** Resolves many references at once; every missing one becomes a ConfigError at its reference. */
export async function resolveAll<T>(
  resolver: SecretResolver,
  refs: Array<{ key: T; ref: SecretRef; object: string; field: string }>,
): Promise<{ values: Map<T, Sensitive>; errors: ConfigError[] }> {
  const values = new Map<T, Sensitive>();
  const errors: ConfigError[] = [];
  await Promise.all(
    refs.map(async ({ key, ref, object, field }) => {
      try {
        values.set(key, await resolver.resolve(ref));
      } catch (error) {
        if (!(error instanceof SecretNotFound)) throw error;
        errors.push({ position: ref.source, object, field, message: error.message });
      }
    }),
  );
  return { values, errors };
}
