// The file front door's session: records and the fingerprint key from the state directory,
// secrets from the environment or a secrets directory, adapters from the backend registry.
import { createAdapter } from '../backends/registry.ts';
import { Session } from '../engine/session.ts';
import { createLogger, type Logger } from '../log.ts';
import type { Config } from '../model/config.ts';
import { FileSecretResolver } from '../secrets/file-secrets.ts';
import { loadFingerprintKey } from '../state/fingerprint.ts';
import { securePrivateFiles } from '../state/private-files.ts';
import { FileRecordStore, defaultStateDir } from '../state/records.ts';
import type { CommonOptions } from './common.ts';

export function logger(options: { verbose?: boolean }): Logger {
  return createLogger(options.verbose ? 'debug' : (process.env.MAILOPS_LOG_LEVEL ?? 'warn'));
}

/**
 * Every secret is read first, or nothing runs.
 * `writes`: apply may write the state directory; plan never does.
 */
export async function openSession(config: Config, options: CommonOptions, log: Logger, access: { writes: boolean }): Promise<Session> {
  const stateDir = options.stateDir ?? defaultStateDir();
  const records = await FileRecordStore.open(stateDir, { readOnly: !access.writes });
  const fingerprintKey = await loadFingerprintKey(stateDir, { create: access.writes });
  if (access.writes) for (const warning of await securePrivateFiles(stateDir)) log.warn({ stateDir }, warning);
  return Session.resolveAndOpen({
    config,
    resolver: new FileSecretResolver({ secretsDir: options.secretsDir }),
    records,
    fingerprintKey,
    adapterFactory: createAdapter,
    log,
    allowMassDeletion: options.allowMassDeletion ?? false,
  });
}

