// What the file-mode commands share: reading -f paths, the state directory, secrets, the logger,
// colours, and turning failures into one readable line and an exit code.
import { styleText } from 'node:util';
import { InvalidConfigError, loadConfigFromPaths } from '../load/index.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Config } from '../model/config.ts';
import type { TextStyle } from '../render/text.ts';
import { FileSecretResolver } from '../secrets/file-secrets.ts';
import { loadFingerprintKey } from '../state/fingerprint.ts';
import { FileRecordStore, defaultStateDir } from '../state/records.ts';
import { createAdapter } from '../backends/registry.ts';
import { Session } from '../engine/session.ts';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
/** plan --detailed-exitcode: the plan has changes (Terraform's convention). */
export const EXIT_CHANGES = 2;

export interface CommonOptions {
  filename: string[];
  verbose?: boolean;
  secretsDir?: string;
  stateDir?: string;
  backendUrl?: string[];
  allowMassDeletion?: boolean;
}

export function logger(options: { verbose?: boolean }): Logger {
  return createLogger(options.verbose ? 'debug' : (process.env.MAILOPS_LOG_LEVEL ?? 'warn'));
}

export function styleFor(stream: NodeJS.WriteStream): TextStyle {
  const paint = (format: Parameters<typeof styleText>[0]) => (text: string) => styleText(format, text, { stream });
  return { create: paint('green'), update: paint('yellow'), delete: paint('red'), dim: paint('dim'), bold: paint('bold') };
}

export async function loadConfig(options: CommonOptions): Promise<Config> {
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
    if (!match) throw new UsageError(`--backend-url ${override}: write it as NAME=http://host:port`);
    const [, name, url] = match as unknown as [string, string, string];
    const backends = config.backends.filter((b) => b.name === name || b.id === name);
    if (backends.length === 0) throw new UsageError(`--backend-url ${override}: no MailBackend named "${name}"`);
    for (const backend of backends) backend.url = url.replace(/\/+$/, '');
  }
  return config;
}

/**
 * The file front door's session: records and the fingerprint key from the state directory,
 * secrets from the environment or a secrets directory — every one of them, or nothing runs.
 * `writes`: apply may write the state directory; plan never does.
 */
export async function openSession(config: Config, options: CommonOptions, log: Logger, access: { writes: boolean }): Promise<Session> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const records = await FileRecordStore.open(stateDir, { readOnly: !access.writes });
  return Session.resolveAndOpen({
    config,
    resolver: new FileSecretResolver({ secretsDir: options.secretsDir }),
    records,
    fingerprintKey: await loadFingerprintKey(stateDir, { create: access.writes }),
    adapterFactory: createAdapter,
    log,
    allowMassDeletion: options.allowMassDeletion ?? false,
  });
}

/** A mistake in how the command was called. */
export class UsageError extends Error {}

/** Prints a failure as a person wants to read it and returns the exit code. */
export function reportFailure(error: unknown, verbose: boolean): number {
  if (error instanceof InvalidConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else if (error instanceof UsageError) {
    process.stderr.write(`mailops: ${error.message}\n`);
  } else if (error instanceof Error) {
    process.stderr.write(`mailops: ${error.message}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
  } else {
    process.stderr.write(`mailops: ${String(error)}\n`);
  }
  return EXIT_ERROR;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
