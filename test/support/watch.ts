// `mailops watch` as a user runs it: a git repository made with the real git client in a temporary
// folder, and the watcher as a child process in a process group of its own (every one started is
// killed, with its group, after the tests).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { WatchStatus } from '../../src/watch/status.ts';
import { ROOT, tempDir, withUmask } from './cli.ts';
import { eventually } from './kube-cluster.ts';
import { waitExit } from './processes.ts';

export { eventually };

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Mail Admin',
  GIT_AUTHOR_EMAIL: 'admin@example.com',
  GIT_COMMITTER_NAME: 'Mail Admin',
  GIT_COMMITTER_EMAIL: 'admin@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env: { ...process.env, ...GIT_ENV } }, (error, stdout, stderr) =>
      error ? reject(new Error(`git ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout.trim()),
    );
  });
}

/** A repository of manifests, changed and committed as an administrator would. */
export class TestRepository {
  readonly dir: string;
  readonly branch: string;

  private constructor(dir: string, branch: string) {
    this.dir = dir;
    this.branch = branch;
  }

  static async create(branch = 'main'): Promise<TestRepository> {
    const dir = await tempDir('mailops-watch-repo-');
    await git(dir, ['init', '--quiet', `--initial-branch=${branch}`]);
    return new TestRepository(dir, branch);
  }

  get fileUrl(): string {
    return `file://${this.dir}`;
  }

  async write(file: string, text: string): Promise<void> {
    await mkdir(path.dirname(path.join(this.dir, file)), { recursive: true });
    await writeFile(path.join(this.dir, file), text);
  }

  async remove(...files: string[]): Promise<void> {
    for (const file of files) await rm(path.join(this.dir, file));
  }

  /** Commits everything and returns the commit id. */
  async commit(message: string): Promise<string> {
    await git(this.dir, ['add', '--all']);
    await git(this.dir, ['commit', '--quiet', '--allow-empty', '-m', message]);
    return git(this.dir, ['rev-parse', 'HEAD']);
  }
}

export interface WatchProcess {
  child: ChildProcess;
  url: string;
  statusFile: string;
  /** Everything it logged so far (JSON lines). */
  log(): string;
  status(): Promise<WatchStatus>;
  /** Waits until the status satisfies `check`. */
  until(what: string, check: (status: WatchStatus) => boolean, timeoutMs?: number): Promise<WatchStatus>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  signal(name: NodeJS.Signals): void;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const started = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    await waitExit(child, 5_000);
  }
  started.clear();
});

export async function startWatch(args: string[], env: Record<string, string>, options: { umask?: string } = {}): Promise<WatchProcess> {
  const command = withUmask(options.umask, [process.execPath, `${ROOT}/src/cli/main.ts`, 'watch', '--listen', '127.0.0.1:0', ...args]);
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MAILOPS_LOG_LEVEL: 'info', ...GIT_ENV, ...env },
  });
  started.add(child);
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const line = await eventually('the watcher to start', async () => {
    if (child.exitCode !== null) throw new Error(`the watcher exited (${child.exitCode}):\n${output}`);
    return output.split('\n').find((l) => l.includes('"watch started"'));
  }, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${output}`);
  });
  const { url, statusFile } = JSON.parse(line) as { url: string; statusFile: string };
  const status = async () => (await (await fetch(`${url}/status`)).json()) as WatchStatus;
  return {
    child,
    url,
    statusFile,
    log: () => output,
    status,
    until: (what, check, timeoutMs = 30_000) =>
      eventually(what, async () => {
        if (child.exitCode !== null) throw new Error(`the watcher exited (${child.exitCode})`);
        const current = await status();
        return check(current) ? current : undefined;
      }, timeoutMs).catch((error: Error) => {
        throw new Error(`${error.message}\n--- watcher log:\n${output.split('\n').slice(-15).join('\n')}`);
      }),
    metric: async (name, labels = {}) => {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const metricLine of text.split('\n')) {
        if (!metricLine.startsWith(`${name}{`) && !metricLine.startsWith(`${name} `)) continue;
        if (Object.entries(labels).every(([k, v]) => metricLine.includes(`${k}="${v}"`))) sum += Number(metricLine.slice(metricLine.lastIndexOf(' ') + 1));
      }
      return sum;
    },
    signal: (name) => child.kill(name),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      if (!(await waitExit(child, 30_000))) process.kill(-child.pid!, 'SIGKILL');
      await waitExit(child, 5_000);
      started.delete(child);
      return child.exitCode;
    },
  };
}
