// Runs a benchmark program in a process of its own (its own heap, its own peak memory) and returns
// the JSON line it prints last.
import { spawn } from 'node:child_process';

export async function runJsonChild<T>(script: string, args: string[], options: { nodeArgs?: string[]; cwd?: string } = {}): Promise<T> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as T;
}

/** Wall time of a command run to its end, in milliseconds; fails when it fails. */
export async function timeCommand(command: string, args: string[], options: { cwd?: string } = {}): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return performance.now() - started;
}
