// mailops emulate <backend> : a local stand-in for a backend's administration API. Prints one line
// `<backend> <url>` once it accepts requests; stops cleanly on SIGINT/SIGTERM.
import { readFile } from 'node:fs/promises';
import { startBackendEmulator, type EmulatorCommandOptions } from '../backends/registry.ts';
import { parseDuration } from '../backends/emulator/duration.ts';
import { FAILURE_MODES } from '../backends/emulator/faults.ts';
import { runUntilSignal, type FailureMode } from '../backends/emulator/server.ts';
import { EXIT_OK, UsageError, reportFailure } from './common.ts';

export interface EmulateOptions {
  listen?: string;
  user?: string;
  password?: string;
  jwtPublicKey?: string;
  latency?: string;
  failRate?: string;
  failMode?: string;
  faultDelay?: string;
  seed?: string;
  taskDuration?: string;
  sessionTtl?: string;
  apiClients?: string;
  legacyEnvelope?: boolean;
  slow?: string[];
  fail?: string[];
  healthDown?: string[];
  verbose?: boolean;
}

export async function emulateCommand(backend: string, options: EmulateOptions): Promise<number> {
  try {
    const emulatorOptions: EmulatorCommandOptions = {
      listen: options.listen ?? '127.0.0.1:0',
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.jwtPublicKey !== undefined ? { jwtPublicKey: await readFile(options.jwtPublicKey, 'utf8') } : {}),
      ...(options.latency !== undefined ? { latencyMs: parseDuration(options.latency) } : {}),
      ...(options.failRate !== undefined ? { failureRate: shareOf(options.failRate) } : {}),
      ...(options.failMode !== undefined ? { failureMode: failMode(options.failMode) } : {}),
      ...(options.faultDelay !== undefined ? { faultDelayMs: parseDuration(options.faultDelay) } : {}),
      ...(options.seed !== undefined ? { seed: Number(options.seed) } : {}),
      ...(options.taskDuration !== undefined ? { taskDurationMs: parseDuration(options.taskDuration) } : {}),
      ...(options.sessionTtl !== undefined ? { sessionTtlMs: parseDuration(options.sessionTtl, 's') } : {}),
      ...(options.apiClients !== undefined ? { apiClients: options.apiClients.split(',').map((client) => client.trim()).filter(Boolean) } : {}),
      ...(options.legacyEnvelope ? { legacyEnvelope: true } : {}),
      ...(options.slow !== undefined ? { slow: options.slow } : {}),
      ...(options.fail !== undefined ? { fail: options.fail } : {}),
      ...(options.healthDown !== undefined ? { healthDown: options.healthDown } : {}),
    };
    const emulator = await startBackendEmulator(backend, emulatorOptions);
    await runUntilSignal(emulator);
    return EXIT_OK;
  } catch (error) {
    return reportFailure(error, options.verbose ?? false);
  }
}

function shareOf(text: string): number {
  const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (!(value >= 0 && value <= 1)) throw new UsageError(`--fail-rate ${text}: give a share between 0 and 1 (or 0%–100%)`);
  return value;
}

function failMode(text: string): FailureMode {
  const mode = FAILURE_MODES.find((known) => known === text);
  if (mode !== undefined) return mode;
  throw new UsageError(`--fail-mode ${text}: choose status (5xx answers), reset (dropped before the change), lost (dropped after it), slow (made, then answered too late: see --fault-delay) or mixed (any of the four)`);
}
