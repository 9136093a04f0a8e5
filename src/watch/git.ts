// The watcher's view of a git repository, through the real `git` client (execFile, no shell): a bare
// clone kept in the state directory, fetched on every look, and one clean checkout per commit
// (`git worktree add --detach`), made before it is read — so a half-written working tree is never
// loaded. Credentials are git's business (ssh keys and known_hosts, credential helpers): they are
// never on a command line, in the URL, in a log or in the status.
import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readlink, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { environmentWithoutSecrets } from '../secrets/file-secrets.ts';
import type { ConfigError } from '../load/index.ts';

export interface GitOptions {
  /** A local path, or an https://, http://, ssh://, git:// or file:// URL, or scp-like user@host:path. */
  url: string;
  branch: string;
  /** Where the clone and the checkouts live (created). */
  dir: string;
  /** A git command that runs longer is killed (a server that hangs must not stop the loop). */
  timeoutMs: number;
}

/** git failed: its own words (the last lines of its stderr), which name no credential. */
export class GitError extends Error {}

/** A ref that keeps the last good commit from git's garbage collection after a force push. */
const LAST_GOOD_REF = 'refs/mailops/last-good';

export class GitRepository {
  readonly url: string;
  readonly branch: string;
  readonly #gitDir: string;
  readonly #treesDir: string;
  readonly #timeoutMs: number;

  constructor(options: GitOptions) {
    this.url = options.url;
    this.branch = options.branch;
    this.#gitDir = path.join(options.dir, 'repo.git');
    this.#treesDir = path.join(options.dir, 'trees');
    this.#timeoutMs = options.timeoutMs;
  }

  /** Creates the bare clone on first use (or points it at a changed URL) and clears old checkouts. */
  async prepare(): Promise<void> {
    await mkdir(this.#gitDir, { recursive: true, mode: 0o700 });
    await this.#git(['init', '--quiet', '--bare']);
    const current = await this.#git(['config', '--get', 'remote.origin.url']).catch(() => '');
    if (current.trim() !== this.url) {
      await this.#git(['config', 'remote.origin.url', this.url]);
    }
    // Checkouts of an earlier process may be half-written (it was killed): never reused.
    await rm(this.#treesDir, { recursive: true, force: true });
    await this.#git(['worktree', 'prune']);
    await mkdir(this.#treesDir, { recursive: true, mode: 0o700 });
  }

  /** Fetches the branch and returns its newest commit. */
  async fetch(): Promise<string> {
    const remoteRef = `refs/remotes/origin/${this.branch}`;
    await this.#git(['fetch', '--quiet', '--no-tags', '--prune', '--no-recurse-submodules', 'origin', `+refs/heads/${this.branch}:${remoteRef}`]);
    return (await this.#git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${remoteRef}^{commit}`])).trim();
  }

  /** The last good commit of an earlier run, if the clone still has it. */
  async lastGood(): Promise<string | undefined> {
    const out = await this.#git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${LAST_GOOD_REF}^{commit}`]).catch(() => '');
    return out.trim() || undefined;
  }

  async keepAsLastGood(revision: string): Promise<void> {
    await this.#git(['update-ref', LAST_GOOD_REF, revision]);
  }

  /** A clean checkout of one commit; the directory is complete when this returns. */
  async checkout(revision: string): Promise<string> {
    const tree = path.join(this.#treesDir, revision);
    await this.#git(['worktree', 'add', '--quiet', '--detach', '--force', tree, revision]);
    return tree;
  }

  /** Removes every checkout but these. */
  async keepOnly(revisions: ReadonlySet<string>): Promise<void> {
    for (const name of await readdir(this.#treesDir).catch(() => [] as string[])) {
      if (revisions.has(name)) continue;
      await rm(path.join(this.#treesDir, name), { recursive: true, force: true });
    }
    await this.#git(['worktree', 'prune']);
  }

  #git(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['--git-dir', this.#gitDir, ...args],
        {
          timeout: this.#timeoutMs,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
          // Never a prompt: a watcher has nobody to answer it. ssh and credential helpers do their
          // own work (GIT_SSH_COMMAND, ~/.ssh, credential.helper); a missing credential fails. No mailops
          // secret goes to git, nor through it to ssh, helpers or hooks.
          env: { ...environmentWithoutSecrets(), GIT_TERMINAL_PROMPT: '0', GCM_INTERACTIVE: 'never', LC_ALL: 'C' },
        },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          const killed = (error as { killed?: boolean }).killed;
          const words = stderr.trim().split('\n').slice(-3).join('; ') || error.message;
          reject(new GitError(killed ? `git ${args[0]} took longer than ${Math.round(this.#timeoutMs / 1000)}s and was stopped` : `git ${args[0]}: ${words}`));
        },
      ).stdin?.end();
    });
  }
}

/**
 * The repository as given: a URL git understands, or a local path (made absolute). Refused: a
 * password or token in the URL (it would end up in logs, the status and the clone's config — use a
 * credential helper), transports that run commands (`ext::`), and anything git could take for an
 * option.
 */
export function normaliseRepository(text: string, cwd: string): string {
  const refuse = (why: string) => {
    throw new RangeError(`--repo ${redactUrl(text)}: ${why}`);
  };
  if (text.trim() === '' || text.startsWith('-')) refuse('give a local path or a git URL');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (!['https', 'http', 'ssh', 'git', 'file'].includes(scheme)) refuse(`the ${scheme}:// transport is not supported (use https, ssh, git or file)`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return refuse('not a valid URL');
    }
    if (url.password !== '' || ((scheme === 'https' || scheme === 'http') && url.username !== '')) {
      refuse('credentials do not belong in the URL (they would be logged and stored); configure a git credential helper, or an ssh key, as described in the README');
    }
    return text;
  }
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*::/.test(text)) refuse('remote helpers (transport::address) are not supported');
  // scp-like ssh: [user@]host:path — a colon before any slash (a Windows drive letter is not a concern here).
  if (/^[^/:]+:/.test(text) && !text.startsWith('./')) return text;
  return path.resolve(cwd, text);
}

/** A URL as it may be shown: without a password, or a token in place of an https user name. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/@]*)@/, (all, scheme: string, userinfo: string) =>
    userinfo.includes(':') || /^https?:/i.test(scheme) ? `${scheme}(credentials)@` : all);
}

/** A branch name git accepts and nothing can take for an option. */
export function checkBranch(branch: string): string {
  if (!/^[A-Za-z0-9._/-]+$/.test(branch) || branch.startsWith('-') || branch.startsWith('/') || branch.endsWith('/') || branch.endsWith('.lock') || branch.includes('..') || branch.includes('//')) {
    throw new RangeError(`--branch ${branch}: not a branch name git accepts`);
  }
  return branch;
}

/** `--path` inside the repository: relative, normalised, never above its root. */
export function checkRepositoryPath(text: string): string {
  const normal = path.posix.normalize(text.replace(/\\/g, '/'));
  if (path.posix.isAbsolute(normal) || normal === '..' || normal.startsWith('../')) {
    throw new RangeError(`--path ${text}: give a folder inside the repository, such as config/`);
  }
  return normal === '' ? '.' : normal.replace(/\/$/, '') || '.';
}

/**
 * Symbolic links in a checkout that lead out of it (to a secrets directory, /etc) are configuration
 * errors: the loader follows links, and the repository must not make the watcher read what it
 * could not commit.
 */
export async function linksLeavingTree(tree: string, under: string): Promise<ConfigError[]> {
  const root = await realpath(tree);
  const errors: ConfigError[] = [];
  const inside = (target: string) => target === root || target.startsWith(`${root}${path.sep}`);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const target = await realpath(full).catch(() => undefined);
        if (target !== undefined && !inside(target)) {
          errors.push({ position: { file: path.relative(root, full), line: 0, column: 0 }, message: `a symbolic link to ${await readlink(full)}, outside the repository, is not read` });
        }
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
  };
  const start = path.join(tree, under);
  const info = await lstat(start).catch(() => undefined);
  if (info?.isSymbolicLink()) {
    const target = await realpath(start).catch(() => undefined);
    if (target !== undefined && !inside(target)) {
      return [{ position: { file: under, line: 0, column: 0 }, message: `a symbolic link to ${await readlink(start)}, outside the repository, is not read` }];
    }
  }
  if (info) await walk(await realpath(start).catch(() => start));
  return errors;
}
