// Hostile and broken input, given to the command line as a user (or an attacker) would: each is
// refused with its file and line, within bounded time and memory, and nothing reaches a backend.
// The CLI runs as a child process with the heap capped at the README's bound (a crash past it
// fails the test), under /usr/bin/time where the machine has it to measure the peak memory.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, open as openFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFromPaths } from '../../src/load/index.ts';
import { ROOT } from '../support/cli.ts';
import { tree } from '../support/files.ts';
import { backend, docs, domain, errorsOf, user } from '../support/manifests.ts';

/** README: reading any input, however hostile, takes at most this much heap. */
const HEAP_LIMIT_MB = 1536;
const TIME = '/usr/bin/time';
const BIN = path.join(ROOT, 'bin', 'mailops.js');
const MiB = 1024 * 1024;

interface Run {
  code: number | null;
  output: string;
  ms: number;
  /** Peak resident memory in MiB, where /usr/bin/time could tell. */
  peakMiB: number | undefined;
}

function runCli(args: string[], timeoutMs: number): Promise<Run> {
  const node = [process.execPath, `--max-old-space-size=${HEAP_LIMIT_MB}`, BIN, ...args];
  const [command, ...rest] = existsSync(TIME) ? [TIME, '-f', 'peak-rss-kb %M', ...node] : node;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command!, rest, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), TMPDIR: os.tmpdir(), NO_COLOR: '1', MAILOPS_SECRET_ALICE_PASSWORD: 'a-password' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so that a run past its time is stopped with its children
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const peak = /peak-rss-kb (\d+)/.exec(output);
      resolve({ code, output: output.replace(/peak-rss-kb \d+\n?/, ''), ms: performance.now() - started, peakMiB: peak ? Number(peak[1]) / 1024 : undefined });
    });
  });
}

/** A backend that records every request it gets: the proof that nothing was applied, or even read. */
let recorder: { server: Server; url: string; requests: number };
beforeAll(async () => {
  const server = createServer((_request, response) => {
    recorder.requests += 1;
    response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  recorder = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: 0 };
});
afterAll(async () => {
  await new Promise((resolve) => recorder.server.close(resolve));
});

const manifests = () => docs(backend('james', recorder.url), domain('example.com'), user('alice@example.com'));

/** `validate` and `plan` on `dir`: both refuse it naming `where`, in bounded time and memory, and no request is sent. */
async function expectRefused(dir: string, where: RegExp, bounds: { seconds: number } = { seconds: 20 }): Promise<Run[]> {
  const stateDir = path.join(dir, '.state');
  const runs = await Promise.all([
    runCli(['validate', '-f', dir], bounds.seconds * 1000 * 3),
    runCli(['plan', '-f', dir, '--state-dir', stateDir], bounds.seconds * 1000 * 3),
  ]);
  for (const run of runs) {
    expect(run.output.replaceAll(dir, '.')).toMatch(where);
    expect(run.output).toContain('nothing was applied');
    expect(run.output).not.toMatch(/heap out of memory|Maximum call stack|at .*\.ts:\d+/);
    expect(run.code).toBe(1);
    expect(run.ms).toBeLessThan(bounds.seconds * 1000);
    if (run.peakMiB !== undefined) expect(run.peakMiB).toBeLessThan(HEAP_LIMIT_MB);
  }
  expect(recorder.requests).toBe(0);
  return runs;
}

async function hostileDir(extra: Record<string, string | Buffer>): Promise<string> {
  const dir = await tree({ 'mail.yaml': manifests() });
  for (const [name, content] of Object.entries(extra)) await writeFile(path.join(dir, name), content);
  return dir;
}

const cleanup: string[] = [];
afterAll(async () => {
  await Promise.all(cleanup.map((dir) => rm(dir, { recursive: true, force: true })));
});
async function big(extra: Record<string, string | Buffer>): Promise<string> {
  const dir = await hostileDir(extra);
  cleanup.push(dir);
  return dir;
}

describe('the recorder sees what a valid configuration sends', () => {
  it('plan of the valid manifests reaches the backend (so zero requests below means something)', async () => {
    const dir = await hostileDir({});
    const run = await runCli(['plan', '-f', dir, '--state-dir', path.join(dir, '.state')], 60_000);
    expect(run.output).not.toContain('configuration error');
    expect(recorder.requests).toBeGreaterThan(0);
    recorder.requests = 0;
  }, 90_000);
});

describe('YAML bombs', () => {
  const level = (i: number) => String.fromCharCode(97 + i);
  it('nested anchors and aliases', async () => {
    const bomb = [`a: &a [${Array(10).fill('lol').join(', ')}]`, ...Array.from({ length: 9 }, (_, i) => `${level(i + 1)}: &${level(i + 1)} [${Array(10).fill(`*${level(i)}`).join(', ')}]`)].join('\n');
    await expectRefused(await hostileDir({ 'bomb.yaml': bomb }), /\.\/bomb\.yaml:1:1: YAML: Excessive alias count .*at most 1000 aliases/);
  }, 90_000);

  it('merge keys that double at every level', async () => {
    const bomb = ['a: &a {k: lol}', ...Array.from({ length: 24 }, (_, i) => `${level(i + 1)}: &${level(i + 1)} {<<: [*${level(i)}, *${level(i)}], k${i}: lol}`)].join('\n');
    await expectRefused(await hostileDir({ 'bomb.yaml': bomb }), /\.\/bomb\.yaml:1:1: YAML: Excessive alias count/);
  }, 90_000);
});

describe('size', () => {
  it('a file over the file limit is refused before it is read', async () => {
    const dir = await big({});
    const file = await openFile(path.join(dir, 'huge.yaml'), 'w');
    await file.truncate(80 * MiB); // sparse: the test does not write 80 MiB
    await file.close();
    const [run] = await expectRefused(dir, /\.\/huge\.yaml: the file is 80 MiB; mailops reads files of at most 64 MiB/, { seconds: 15 });
    if (run!.peakMiB !== undefined) expect(run!.peakMiB).toBeLessThan(300);
  }, 90_000);

  it('50 MB of one-item lines, under the file limit, is refused by the token limit of a document', async () => {
    const dir = await big({ 'list.yaml': `items:\n${'- x\n'.repeat(50 * 250_000)}` });
    await expectRefused(dir, /\.\/list\.yaml:\d+:\d+: this document passes 2,000,000 YAML tokens, the most mailops reads in one document/, { seconds: 60 });
  }, 200_000);

  it('50 MB of tiny documents is refused at the document limit of a run', async () => {
    const dir = await big({ 'many.yaml': '---\na: b\n'.repeat(50 * 110_000) });
    await expectRefused(dir, /\.\/many\.yaml:\d+:\d+: with this document the configuration passes 250,000 documents/, { seconds: 60 });
  }, 200_000);

  it('a file just under the limit that is one huge scalar', async () => {
    const line = `    ${'y'.repeat(1000)}\n`;
    const dir = await big({ 'mail.yaml': `${manifests()}  displayName: |\n${line.repeat(Math.floor((60 * MiB) / line.length))}` });
    await expectRefused(dir, /\.\/mail\.yaml:2\d:\d+: a value is written over 60\.0 MiB of text; no field of a mailops object is longer than 64 KiB/, { seconds: 30 });
  }, 120_000);
});

describe('nesting', () => {
  it('100,000 flow sequences, one per line (past the parser’s call stack)', async () => {
    await expectRefused(await hostileDir({ 'deep.yaml': `${'[\n'.repeat(100_000)}${']\n'.repeat(100_000)}` }), /\.\/deep\.yaml:33:1: mappings and sequences are nested more than 32 deep/);
  }, 90_000);

  it('100,000 flow mappings, one per line', async () => {
    await expectRefused(await hostileDir({ 'deep.yaml': `${'{a:\n'.repeat(100_000)}1${'}\n'.repeat(100_000)}` }), /\.\/deep\.yaml:33:1: mappings and sequences are nested more than 32 deep/);
  }, 90_000);

  it('block sequences nested 30,000 deep on one line, within the line limit', async () => {
    await expectRefused(await hostileDir({ 'deep.yaml': `${'- '.repeat(30_000)}x\n` }), /\.\/deep\.yaml:1:\d+: mappings and sequences are nested more than 32 deep/);
  }, 90_000);

  it('block mappings indented 2,000 deep', async () => {
    const deep = Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
    await expectRefused(await hostileDir({ 'deep.yaml': `${deep} x\n` }), /\.\/deep\.yaml:\d+:\d+: mappings and sequences are nested more than 32 deep/);
  }, 90_000);
});

describe('not YAML text', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x01, 0x00]);

  it('a PNG named .yaml', async () => {
    await expectRefused(await hostileDir({ 'logo.yaml': png }), /\.\/logo\.yaml:3:1: the file holds NUL bytes: it is a binary file, not YAML/);
  }, 90_000);

  it('an executable named .yaml, next to the manifests (kubectl, too, fails on it)', async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]), Buffer.alloc(56), Buffer.from('\n/lib64/ld-linux-x86-64.so.2\n')]);
    const dir = await hostileDir({ 'tool.yaml': elf });
    await expectRefused(dir, /\.\/tool\.yaml:1:\d+: the file holds NUL bytes: it is a binary file, not YAML/);
  }, 90_000);

  it('invalid UTF-8 (Latin-1 text)', async () => {
    const dir = await hostileDir({ 'mail.yaml': Buffer.concat([Buffer.from(`${manifests()}  displayName: "Ren`), Buffer.from([0xe9]), Buffer.from('e"\n')]) });
    await expectRefused(dir, /\.\/mail\.yaml:23:20: the file is not valid UTF-8/);
  }, 90_000);

  it('UTF-16 text', async () => {
    await expectRefused(await hostileDir({ 'mail.yaml': Buffer.from(`\uFEFF${manifests()}`, 'utf16le') }), /\.\/mail\.yaml:1:1: the file is UTF-16 text; mailops reads UTF-8/);
  }, 90_000);

  it('a NUL byte in a string', async () => {
    await expectRefused(await hostileDir({ 'mail.yaml': `${manifests()}  displayName: Al\0ice\n` }), /\.\/mail\.yaml:23:18: the file holds NUL bytes/);
  }, 90_000);

  it('an escaped NUL, and an escaped ESC, in a quoted string: the field is named', async () => {
    await expectRefused(await hostileDir({ 'mail.yaml': `${manifests()}  displayName: "Al\\0ice"\n` }), /\.\/mail\.yaml:23:16: spec\.displayName: holds the control character U\+0000 \(NUL\)/);
    await expectRefused(await hostileDir({ 'mail.yaml': `${manifests()}  displayName: "\\e[31mAlice"\n` }), /\.\/mail\.yaml:23:16: spec\.displayName: holds the control character U\+001B/);
  }, 90_000);

  it('a raw control character (a terminal escape)', async () => {
    await expectRefused(await hostileDir({ 'mail.yaml': `${manifests()}  displayName: \x1b[31mAlice\n` }), /\.\/mail\.yaml:23:16: the control character U\+001B is not allowed in YAML/);
  }, 90_000);

  it('duplicate keys', async () => {
    await expectRefused(await hostileDir({ 'mail.yaml': `${manifests()}  address: bob@example.com\n` }), /\.\/mail\.yaml:23:3: YAML: Map keys must be unique/);
  }, 90_000);

  it('a file of thousands of errors stops at 20 per file', async () => {
    const [run] = await expectRefused(await hostileDir({ 'junk.yaml': '{]\n'.repeat(10_000) }), /\.\/junk\.yaml:1:\d+: YAML: /);
    expect(run!.output).toMatch(/more than 20 errors; the rest of the file is not read/);
    expect(run!.output.split('\n').length).toBeLessThan(40);
  }, 90_000);
});

describe('accepted as kubectl accepts them, with the right lines', () => {
  const valid = docs(backend(), domain('example.com'), user('alice@example.com'));

  it('a UTF-8 byte order mark and CRLF line ends', async () => {
    const dir = await tree({ 'bom.yaml': `\uFEFF${valid}`, 'crlf.yaml': valid.replaceAll('\n', '\r\n').replaceAll('alice', 'bob') });
    expect((await loadConfigFromPaths([path.join(dir, 'bom.yaml')])).users).toHaveLength(1);
    expect((await loadConfigFromPaths([path.join(dir, 'crlf.yaml')])).users.map((u) => u.address)).toEqual(['bob@example.com']);
    const broken = await tree({ 'bom.yaml': `\uFEFF${valid}  bogus: 1\n`, 'crlf.yaml': `${valid}  bogus: 1\n`.replaceAll('\n', '\r\n') });
    expect(await errorsOf([path.join(broken, 'bom.yaml')], broken)).toEqual([expect.stringMatching(/^\.\/bom\.yaml:23:3: MailUser "alice" spec\.bogus: unknown field/)]);
    expect(await errorsOf([path.join(broken, 'crlf.yaml')], broken)).toEqual([expect.stringMatching(/^\.\/crlf\.yaml:23:3: MailUser "alice" spec\.bogus: unknown field/)]);
  });

  it('a binary file that is not named as a manifest is not read, as kubectl skips it', async () => {
    const dir = await tree({ 'mail.yaml': valid });
    await copyFile(process.execPath, path.join(dir, 'logo.png'));
    expect((await loadConfigFromPaths([dir])).users).toHaveLength(1);
  });

  it('a directory with symbolic link loops ends, each file read once', async () => {
    const dir = await tree({ 'mail.yaml': valid });
    await symlink('.', path.join(dir, 'self'));
    await symlink('loop.yaml', path.join(dir, 'loop.yaml'));
    expect((await loadConfigFromPaths([dir])).users).toHaveLength(1);
    expect(await errorsOf([path.join(dir, 'loop.yaml')], dir)).toEqual(['./loop.yaml:1:1: a loop of symbolic links']);
  });
});
