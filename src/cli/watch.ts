// mailops watch --repo …: a git repository of manifests applied without Kubernetes (see
// src/watch/). Logs are JSON lines on stderr (info and up by default). SIGTERM or SIGINT: the run
// in flight finishes, the status is written, exit 0. SIGHUP: fetch and reconcile now.
import { parseDuration } from '../backends/emulator/duration.ts';
import { createLogger } from '../log.ts';
import { defaultStateDir } from '../state/records.ts';
import { checkBranch, checkRepositoryPath, normaliseRepository } from '../watch/git.ts';
import { EXIT_OK, UsageError, applyBackendUrlOverrides, reportFailure } from './common.ts';

export interface WatchCommandOptions {
  repo: string;
  branch: string;
  path: string;
  interval: string;
  fetchInterval?: string;
  listen: string;
  statusFile?: string;
  suspendFile?: string;
  secretsDir?: string;
  stateDir?: string;
  backendUrl?: string[];
  allowMassDeletion?: boolean;
  gitTimeout: string;
  verbose?: boolean;
}

export async function watchCommand(options: WatchCommandOptions): Promise<number> {
  const log = createLogger(options.verbose ? 'debug' : (process.env.MAILOPS_LOG_LEVEL ?? 'info'));
  try {
    const intervalMs = duration(options.interval, '--interval');
    if (intervalMs < 1000) throw new UsageError('--interval: give at least 1s');
    // A new commit should not wait for a long drift interval: fetching is cheap.
    const fetchIntervalMs = options.fetchInterval !== undefined ? duration(options.fetchInterval, '--fetch-interval') : Math.min(intervalMs, 60_000);
    if (fetchIntervalMs < 1000) throw new UsageError('--fetch-interval: give at least 1s');
    const overrides = options.backendUrl ?? [];
    const { startWatcher } = await import('../watch/watcher.ts');
    const watcher = await startWatcher({
      repository: usage(() => normaliseRepository(options.repo, process.cwd())),
      branch: usage(() => checkBranch(options.branch)),
      path: usage(() => checkRepositoryPath(options.path)),
      intervalMs,
      fetchIntervalMs,
      stateDir: options.stateDir ?? defaultStateDir(),
      ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}),
      ...(options.statusFile ? { statusFile: options.statusFile } : {}),
      ...(options.suspendFile ? { suspendFile: options.suspendFile } : {}),
      listen: options.listen,
      ...(overrides.length > 0 ? { adjustConfig: (config) => applyBackendUrlOverrides(config, overrides) } : {}),
      allowMassDeletion: options.allowMassDeletion ?? false,
      gitTimeoutMs: duration(options.gitTimeout, '--git-timeout'),
      log,
    });
    const status = watcher.status();
    log.info({ url: watcher.url, statusFile: watcher.statusFile, suspendFile: status.suspendFile, repository: status.repository, branch: status.branch, path: status.path }, 'watch started');
    const onSignal = (signal: string) => {
      log.info({ signal }, 'shutting down');
      void watcher.stop();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGHUP', () => watcher.poke());
    await watcher.done;
    return process.exitCode === 1 ? 1 : EXIT_OK;
  } catch (error) {
    return reportFailure(error, options.verbose ?? false);
  }
}

function duration(text: string, flag: string): number {
  return usage(() => parseDuration(text, 's'), flag, text);
}

function usage<T>(check: () => T, flag?: string, text?: string): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError(flag ? `${flag} ${text}: ${(error as Error).message}` : (error as Error).message);
  }
}
