// Secrets in file mode. A SecretKeySelector {name, key} is read from, in this order:
//   1. the environment variable MAILOPS_SECRET_<NAME>_<KEY> (upper case, other characters → _);
//   2. the file <secrets dir>/<name>/<key> — the layout of a Kubernetes Secret mounted as a volume.
// One trailing line end (LF or CRLF) is dropped from files (editors add it).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecretRef, SourceLocation } from '../model/config.ts';
import { Sensitive } from '../model/sensitive.ts';

export interface SecretResolver {
  resolve(ref: SecretRef): Promise<Sensitive>;
  /**
   * A file a manifest names (a MailBackend's caFile), read afresh each time so that edits reach the next run.
   * Default: readFileBesideManifest.
   */
  readFile?(file: string, declaredIn: SourceLocation): Promise<string>;
}

export class SecretNotFound extends Error {}

/** Nothing is there at all (no variable, no file; no Secret, or no such key): what `optional: true` forgives. */
export class SecretMissing extends SecretNotFound {}

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
      let text: string | undefined;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') throw new SecretNotFound(`secret ${ref.name}/${ref.key} cannot be read from ${file} (${code ?? (error as Error).message})`);
      }
      if (text !== undefined) {
        const value = text.replace(/\r?\n$/, '');
        if (value === '') throw new SecretNotFound(`secret ${ref.name}/${ref.key} is empty (${file})`);
        return new Sensitive(value);
      }
    }
    const where = this.#dir ? ` or the file ${path.join(this.#dir, ref.name, ref.key)}` : ' (or use --secrets-dir)';
    throw new SecretMissing(`secret ${ref.name}/${ref.key} not found: set ${variable}${where}`);
  }
}

/** Reads a file a manifest names; a relative path is relative to the manifest, as kubeconfig's paths are to the kubeconfig. */
export async function readFileBesideManifest(file: string, declaredIn: SourceLocation): Promise<string> {
  const full = path.resolve(path.dirname(declaredIn.file), file);
  try {
    return await readFile(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SecretNotFound(`cannot read ${full}${file !== full ? ` (${file}, relative to the manifest)` : ''}: ${code ?? (error as Error).message}`);
  }
}

/**
 * The environment without mailops's secrets (MAILOPS_SECRET_*, MAILOPS_FINGERPRINT_KEY), for the programs
 * mailops starts (git, and through it ssh, credential helpers and hooks): they need none of them.
 */
export function environmentWithoutSecrets(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('MAILOPS_SECRET_') && name !== 'MAILOPS_FINGERPRINT_KEY'));
}
