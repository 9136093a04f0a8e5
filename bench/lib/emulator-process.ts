// A backend emulator in a process of its own (`mailops emulate <type>`), as a real server is: its work does
// not share an event loop with mailops or the load generator, so that a ceiling measures the server and not
// the client, and backends compared side by side run beside mailops. Each runs in its own process group,
// stopped with it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { waitExit } from '../../test/support/processes.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface EmulatorProcess {
  url: string;
  stop(): Promise<void>;
}

/** Starts `mailops emulate <type> <args>` on a free loopback port (e.g. args `--latency 2ms`). */
export async function startEmulatorProcess(type: string, args: string[] = []): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), 'emulate', type, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // A benchmark that ends early (an error, Ctrl-C: run.ts exits) takes its emulators with it.
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.once('exit', killGroup);
  const stop = async () => {
    process.off('exit', killGroup);
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return; // gone
    }
    if (!(await waitExit(child, 5_000))) {
      process.kill(-child.pid!, 'SIGKILL');
      await waitExit(child, 5_000);
    }
  };
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let lines = '';
      const timer = setTimeout(() => reject(new Error(`mailops emulate ${type} did not start in 30 s: ${output}`)), 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        lines += chunk.toString();
        // The ready line: `<backend> <url>`.
        const ready = new RegExp(`^${type} (http\\S+)$`, 'm').exec(lines);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mailops emulate ${type} ended (${code}) before it was ready: ${output}`));
      });
    });
    child.stdout!.resume(); // keep reading, so that its writes never block
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
