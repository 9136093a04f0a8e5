// Runs the mailops command line as a user would, in a child process.
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'mailops.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function tempDir(prefix = 'mailops-cli-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** `umask`: run under this umask (through `sh -c`), as a user's shell may have it. */
export function mailops(args: string[], options: { env?: Record<string, string>; cwd?: string; umask?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const command = withUmask(options.umask, [process.execPath, BIN, ...args]);
    const child = spawn(command[0]!, command.slice(1), {
      cwd: options.cwd ?? ROOT,
      // Only what the test gives: no MAILOPS_* leaking in from the developer's shell.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The command run under `umask` by a shell that then becomes it (exec: same pid, signals reach it). */
export function withUmask(umask: string | undefined, command: string[]): string[] {
  return umask === undefined ? command : ['/bin/sh', '-c', `umask ${umask} && exec "$@"`, 'sh', ...command];
}
