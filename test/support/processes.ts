// Server processes started by the test harnesses (real James, etcd, kube-apiserver): they never
// outlive the test run. `stop()` sends SIGTERM and then SIGKILL; a `process.on('exit')` hook kills
// whatever is left if the run ends without `stop()`; and a tiny shell watchdog kills the server if
// this Node process dies abruptly (SIGKILL), removing its working directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function spawnWatchdog(pid: number, workDir: string): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null; do kill -0 "$2" 2>/dev/null || exit 0; sleep 2; done; ' +
    'kill -KILL "$2" 2>/dev/null; rm -rf -- "$3"';
  const dog = spawn('/bin/sh', ['-c', script, 'mailops-test-watchdog', String(process.pid), String(pid), workDir], { stdio: 'ignore' });
  dog.on('error', () => {}); // best effort
  dog.unref();
  return dog;
}

export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

export interface ServerProcess {
  child: ChildProcess;
  /** Why it ended (`exit code 1`, `SIGKILL`), or undefined while it runs. */
  ended(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; removes `workDir` when `removeWorkDir`. */
  stop(): Promise<void>;
}

export function startServerProcess(
  command: string,
  args: string[],
  options: { cwd: string; logFile: string; workDir: string; graceMs: number; removeWorkDir?: boolean; env?: NodeJS.ProcessEnv },
): ServerProcess {
  const logFd = openSync(options.logFile, 'a');
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', logFd, logFd], ...(options.env ? { env: options.env } : {}) });
  closeSync(logFd);
  installExitHook();
  running.add(child);
  let ended: string | undefined;
  child.once('error', (err) => {
    ended = `could not run ${command}: ${err.message}`;
    running.delete(child);
  });
  child.once('exit', (code, signal) => {
    ended = signal ?? `exit code ${code}`;
    running.delete(child);
  });
  const dog = child.pid !== undefined ? spawnWatchdog(child.pid, options.workDir) : undefined;
  let stopped: Promise<void> | undefined;
  return {
    child,
    ended: () => ended,
    stop: () => {
      stopped ??= (async () => {
        if (ended === undefined) {
          child.kill('SIGTERM');
          if (!(await waitExit(child, options.graceMs))) {
            child.kill('SIGKILL');
            await waitExit(child, 5_000);
          }
        }
        running.delete(child);
        dog?.kill('SIGKILL');
        if (options.removeWorkDir ?? true) rmSync(options.workDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
