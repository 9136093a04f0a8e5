// The manifests at a base revision and the lines changed since, read with the real `git` binary
// (execFile, never a shell): the base tree is copied out of the object database into a temporary
// directory (ls-tree + cat-file, no checkout, nothing in the repository is touched), and changed
// files are compared with `git diff --no-index -U0`, which works for untracked files too.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { environmentWithoutSecrets } from '../secrets/file-secrets.ts';

/** A mistake with the repository or the revision, said in words. */
export class GitError extends Error {}

const MAX_OUTPUT = 256 * 1024 * 1024;

/** Runs git; exit codes in `ok` count as success (git diff answers 1 when files differ). */
function git(args: string[], options: { cwd: string; input?: string; ok?: number[]; encoding?: 'buffer' }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      args,
      { cwd: options.cwd, maxBuffer: MAX_OUTPUT, encoding: 'buffer', env: { ...environmentWithoutSecrets(), GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        const code = error && typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : error ? -1 : 0;
        if (!error || (options.ok ?? []).includes(code)) resolve(stdout);
        else if ((error as NodeJS.ErrnoException).code === 'ENOENT') reject(new GitError('git is not installed (or not on PATH); --git-base needs it'));
        else reject(new GitError(`git ${args[0]}: ${stderr.toString().trim().split('\n')[0] || error.message}`));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export interface BaseTree {
  /** The revision as given, and the commit it names (abbreviated, for people). */
  ref: string;
  commit: string;
  /** The temporary directory that holds the base's copy of the inputs. */
  dir: string;
  /** Per -f input: where its base copy is (null: it did not exist at the base) and how it is shown. */
  inputs: Array<{ input: string; base: string | null }>;
  /** Removes the temporary directory. */
  remove(): Promise<void>;
}

/**
 * Copies what the -f inputs held at `ref` into a temporary directory, keeping their paths inside
 * the repository. Every input must be inside one git repository.
 */
export async function checkoutBase(ref: string, inputs: string[]): Promise<BaseTree> {
  if (ref.startsWith('-') || ref.trim() === '') throw new GitError(`--git-base ${ref}: not a revision`);
  const first = await stat(inputs[0]!).catch(() => undefined);
  const anchor = first?.isDirectory() ? inputs[0]! : path.dirname(inputs[0]!);
  const root = (await git(['rev-parse', '--show-toplevel'], { cwd: anchor }).catch(() => {
    throw new GitError(`${inputs[0]} is not inside a git repository; --git-base compares with a revision of one`);
  })).toString().trim();
  const realRoot = await realpath(root);
  const commit = (await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root }).catch(() => {
    throw new GitError(`--git-base ${ref}: no such revision in ${root} (in CI, fetch it first: git fetch origin <branch>, or a checkout with fetch-depth: 0)`);
  })).toString().trim();

  const relative = await Promise.all(
    inputs.map(async (input) => {
      const real = await realpath(input);
      const rel = path.relative(realRoot, real);
      if (rel.startsWith('..') || path.isAbsolute(rel)) throw new GitError(`${input} is outside the git repository ${root}`);
      return rel;
    }),
  );
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailops-base-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    const listing = await git(['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...relative.map((r) => r || '.')], { cwd: root });
    const entries = listing
      .toString('utf8')
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const [meta, file] = [line.slice(0, line.indexOf('\t')), line.slice(line.indexOf('\t') + 1)];
        const [mode, type, object] = meta.split(' ') as [string, string, string];
        return { mode, type, object, file };
      })
      .filter((e) => e.type === 'blob');
    const contents = await readBlobs(root, entries.map((e) => e.object));
    for (const entry of entries) {
      const target = path.join(dir, entry.file);
      await mkdir(path.dirname(target), { recursive: true });
      // A link is a link at the base too (the loader follows links, as in the working tree).
      if (entry.mode === '120000') await symlink(contents.get(entry.object)!.toString('utf8'), target);
      else await writeFile(target, contents.get(entry.object)!);
    }
    const based = await Promise.all(
      inputs.map(async (input, i) => {
        const base = path.join(dir, relative[i]!);
        return { input, base: (await stat(base).catch(() => undefined)) ? base : null };
      }),
    );
    return { ref, commit: commit.slice(0, 12), dir, inputs: based, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The contents of blobs, all in one `git cat-file --batch`. */
async function readBlobs(root: string, objects: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(objects)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const out = await git(['cat-file', '--batch'], { cwd: root, input: `${unique.join('\n')}\n` });
  let at = 0;
  while (at < out.length) {
    const end = out.indexOf(0x0a, at);
    const [object, , size] = out.subarray(at, end).toString('utf8').split(' ') as [string, string, string];
    const length = Number(size);
    blobs.set(object, out.subarray(end + 1, end + 1 + length));
    at = end + 1 + length + 1; // the content, then a newline
  }
  return blobs;
}

/** One changed line: `-` from the base file (its line number there), `+` in the working file. */
export interface ChangedLine {
  sign: '-' | '+';
  line: number;
  text: string;
}

/**
 * The lines that differ between two versions of a file (either may be missing), as git sees them
 * (--no-index needs no repository).
 */
export async function changedLines(baseFile: string | null, workFile: string | null): Promise<ChangedLine[]> {
  const [before, after] = await Promise.all([baseFile ? readFile(baseFile, 'utf8') : null, workFile ? readFile(workFile, 'utf8') : null]);
  if (before === after) return [];
  if (before === null) return allLines('+', after!);
  if (after === null) return allLines('-', before);
  const diff = await git(['diff', '--no-index', '--no-color', '--no-ext-diff', '--no-textconv', '--diff-algorithm=histogram', '-U0', '--', path.resolve(baseFile!), path.resolve(workFile!)], { cwd: os.tmpdir(), ok: [1] });
  return parseHunks(diff.toString('utf8'));
}

function allLines(sign: '-' | '+', text: string): ChangedLine[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, i) => ({ sign, line: i + 1, text: line }));
}

/** `@@ -a,b +c,d @@` hunks of a unified diff with no context → numbered lines. */
export function parseHunks(diff: string): ChangedLine[] {
  const lines: ChangedLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  let inHunk = false;
  for (const raw of diff.split('\n')) {
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(raw);
    if (hunk) {
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      inHunk = true;
      continue;
    }
    if (!inHunk) continue;
    if (raw.startsWith('-')) lines.push({ sign: '-', line: oldLine++, text: raw.slice(1) });
    else if (raw.startsWith('+')) lines.push({ sign: '+', line: newLine++, text: raw.slice(1) });
  }
  return lines;
}
