// What the file-mode commands share: reading -f paths, colours, and turning failures into one
// readable line and an exit code. Light on purpose: `validate` loads this and the loader only
// (the session with its HTTP client, logger and backends is in session.ts).
import { styleText } from 'node:util';
import { InvalidConfigError, formatConfigError, loadConfigFromPaths } from '../load/index.ts';
import { backendUrlProblem } from '../model/names.ts';
import type { Config } from '../model/config.ts';
import { redactSecrets } from '../model/sensitive.ts';
import type { TextStyle } from '../render/text.ts';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
/** plan --detailed-exitcode: the plan has changes (Terraform's convention). */
export const EXIT_CHANGES = 2;

export interface InputOptions {
  filename: string[];
  verbose?: boolean;
  backendUrl?: string[];
}

export interface CommonOptions extends InputOptions {
  secretsDir?: string;
  stateDir?: string;
  allowMassDeletion?: boolean;
}

export function styleFor(stream: NodeJS.WriteStream): TextStyle {
  const paint = (format: Parameters<typeof styleText>[0]) => (text: string) => styleText(format, text, { stream });
  return { create: paint('green'), update: paint('yellow'), delete: paint('red'), dim: paint('dim'), bold: paint('bold') };
}

export async function loadConfig(options: InputOptions): Promise<Config> {
  if (!options.filename || options.filename.length === 0) {
    throw new UsageError('no configuration given: pass -f with files or directories');
  }
  const config = await loadConfigFromPaths(options.filename);
  return applyBackendUrlOverrides(config, options.backendUrl ?? []);
}

/** `--backend-url NAME=URL`: point the same manifests at another server (staging, an emulator). */
export function applyBackendUrlOverrides(config: Config, overrides: string[]): Config {
  for (const override of overrides) {
    const match = /^([^=]+)=(https?:\/\/\S+)$/.exec(override);
    if (!match) throw new UsageError(`--backend-url ${override.split('=')[0]}=…: write it as NAME=http://host:port`);
    const [, name, url] = match as unknown as [string, string, string];
    const problem = backendUrlProblem(url);
    if (problem) throw new UsageError(`--backend-url ${name}=…: the URL ${problem}`);
    const backends = config.backends.filter((b) => b.name === name || b.id === name);
    if (backends.length === 0) throw new UsageError(`--backend-url ${override}: no MailBackend named "${name}"`);
    for (const backend of backends) backend.url = url.replace(/\/+$/, '');
  }
  return config;
}

/** A mistake in how the command was called. */
export class UsageError extends Error {}

/** Configuration warnings and notes, on stderr: they never block, but a person should see them. */
export function reportWarnings(config: Config): void {
  for (const warning of config.warnings) process.stderr.write(`Warning: ${formatConfigError(warning)}\n`);
}

/** Prints a failure as a person wants to read it and returns the exit code. */
export function reportFailure(error: unknown, verbose: boolean): number {
  // Whatever failed may quote a secret it was handed or sent (model/sensitive.ts).
  const print = (text: string) => process.stderr.write(`${redactSecrets(text)}\n`);
  if (error instanceof InvalidConfigError) {
    print(error.message);
  } else if (error instanceof UsageError) {
    print(`mailops: ${error.message}`);
  } else if (error instanceof Error) {
    print(`mailops: ${error.message}`);
    if (verbose && error.stack) print(error.stack);
  } else {
    print(`mailops: ${String(error)}`);
  }
  return EXIT_ERROR;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
