// An emulator in a process of its own (`mailops emulate <type>`), as a real backend is: the load generator or
// mailops on one side, the server on the other, each with its own event loop. In the benchmark's own process the
// emulator would share one thread with the client, and the "ceiling" would measure the client's cost as much as
// the server's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const START_TIMEOUT_MS = 30_000;

export interface EmulatorProcess {
  url: string;
  /** CPU time the emulator process has used so far (user + system), from /proc. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Starts `mailops emulate <type> --latency <latencyMs>ms` on a free loopback port, in a process group of its own. */
export async function startEmulatorProcess(type: string, latencyMs: number, extraArgs: string[] = []): Promise<EmulatorProcess> {
  const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'node'), [path.join(ROOT, 'src', 'cli', 'main.ts'), 'emulate', type, '--listen', '127.0.0.1:0', '--latency', `${latencyMs}ms`, ...extraArgs], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return; // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  const lines = createInterface({ input: child.stdout });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mailops emulate ${type} did not start within ${START_TIMEOUT_MS / 1000} s: ${stderr}`)), START_TIMEOUT_MS);
      lines.on('line', (line) => {
        const match = new RegExp(`^${type} (http://127\\.0\\.0\\.1:\\d+)$`).exec(line.trim());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`mailops emulate ${type} exited: ${stderr}`));
      });
    });
    return { url, stop, cpuMs: () => processCpuMs(child.pid!) };
  } catch (error) {
    await stop();
    throw error;
  }
}

const CLOCK_TICKS_PER_SECOND = 100;

function processCpuMs(pid: number): number {
  try {
    // /proc/<pid>/stat: fields 14 and 15 (after the command in parentheses) are user and system time in clock ticks.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
