// Input as a new user (or an attacker) gives it: mounted ConfigMaps, empty documents, URLs that do
// not parse, alias bombs, huge files, members that nothing declares. Every case names where.
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadConfigFromPaths } from '../../src/load/index.ts';
import { INPUT_LIMITS } from '../../src/load/limits.ts';
import { tree } from '../support/files.ts';
import { alias, backend, docs, domain, errorsOf, user } from '../support/manifests.ts';

const valid = docs(backend(), domain('example.com'), user('alice@example.com'));

describe('directories', () => {
  it('reads a ConfigMap mounted as a volume: links into a hidden ..data folder, each file once', async () => {
    const dir = await tree({ '..2026_11_23_10_00_00.1/mail.yaml': valid, '..2026_11_23_10_00_00.1/more.yaml': alias('team@example.com', ['alice@example.com']) });
    await symlink('..2026_11_23_10_00_00.1', path.join(dir, '..data'));
    await symlink('..data/mail.yaml', path.join(dir, 'mail.yaml'));
    await symlink('..data/more.yaml', path.join(dir, 'more.yaml'));
    const config = await loadConfigFromPaths([dir]);
    expect([config.backends.length, config.users.length, config.aliases.length]).toEqual([1, 1, 1]);
  });

  it('follows links to directories and stops at a link cycle', async () => {
    const dir = await tree({ 'real/mail.yaml': valid });
    await symlink('real', path.join(dir, 'linked'));
    await symlink('..', path.join(dir, 'real', 'up'));
    const config = await loadConfigFromPaths([dir]);
    expect(config.users.map((u) => u.address)).toEqual(['alice@example.com']);
  });

  it('refuses a run that found no mailops object, saying what it read', async () => {
    const dir = await tree({ 'deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n', 'empty.yaml': '' });
    expect(await errorsOf([dir], dir)).toEqual(['.: no mailops.dev object found (read 2 files and skipped 1 document of other API groups); nothing to plan']);
  });

  it('warns about a path that added nothing while others did', async () => {
    const good = await tree({ 'mail.yaml': valid });
    const empty = await tree({ 'README.yaml': '# nothing here\n' });
    const config = await loadConfigFromPaths([good, empty]);
    expect(config.warnings.map(formatConfigError)).toEqual([`${empty}: holds no mailops.dev object (1 manifest files read)`]);
  });
});

describe('documents', () => {
  it('skips empty documents as kubectl does: a trailing ---, a comment-only document, an explicit null', async () => {
    const dir = await tree({ 'mail.yaml': `${valid}\n---\n# only a comment\n---\nnull\n---\n` });
    expect((await loadConfigFromPaths([dir])).users).toHaveLength(1);
  });

  it('refuses a YAML alias bomb at the document that holds it', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    const dir = await tree({ 'mail.yaml': `${valid}\n---\n${bomb}\n` });
    expect(await errorsOf([dir], dir)).toEqual([expect.stringMatching(/^\.\/mail\.yaml:25:1: YAML: Excessive alias count .* \(at most 1000 aliases are resolved per document\)$/)]);
  });

  it('loads a file of very many documents without exhausting the call stack', async () => {
    const many = Array.from({ length: 130_000 }, (_, i) => `{apiVersion: v1, kind: ConfigMap, metadata: {name: c${i}}}`).join('\n---\n');
    const dir = await tree({ 'mail.yaml': valid, 'many.yaml': many });
    expect((await loadConfigFromPaths([dir])).skippedDocuments).toBe(130_000);
  }, 120_000);
});

describe('limits', () => {
  it('refuses a file larger than the limit before reading it', async () => {
    const dir = await tree({ 'mail.yaml': valid });
    await writeFile(path.join(dir, 'huge.yaml'), Buffer.alloc(INPUT_LIMITS.fileBytes + 1, 0x20));
    expect(await errorsOf([dir], dir)).toEqual(['./huge.yaml: the file is 64.0 MiB; mailops reads files of at most 64 MiB (100,000 users take about 30 MiB)']);
  });

  it('refuses a line or a value longer than any field', async () => {
    const line = await tree({ 'mail.yaml': `${valid}  displayName: ${'x'.repeat(INPUT_LIMITS.scalarBytes + 1)}\n` });
    expect(await errorsOf([line], line)).toEqual(['./mail.yaml:23:1: line 23 is longer than 64 KiB; no field of a mailops object is that long']);
    const block = await tree({ 'mail.yaml': `${valid}  displayName: |\n${'    xxxxxxxxxxxxxxx\n'.repeat(5000)}` });
    expect(await errorsOf([block], block)).toEqual(['./mail.yaml:23:16: spec.displayName: a value of 79 KiB is longer than 64 KiB; no field of a mailops object is that long']);
  });

  it('refuses collections nested deeper than any kind', async () => {
    const dir = await tree({ 'mail.yaml': `${valid}  deep: ${'['.repeat(40)}${']'.repeat(40)}\n` });
    expect(await errorsOf([dir], dir)).toEqual([expect.stringMatching(/^\.\/mail\.yaml:23:\d+: mappings and sequences are nested more than 32 deep; no mailops object is$/)]);
    // Deeper than the parser's own call stack, on one line within the line limit.
    const deeper = await tree({ 'mail.yaml': `${valid}  deep: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n` });
    expect(await errorsOf([deeper], deeper)).toEqual([expect.stringMatching(/^\.\/mail\.yaml:23:\d+: mappings and sequences are nested more than 32 deep; no mailops object is$/)]);
  });
});

describe('backend URLs', () => {
  it('refuses a URL the HTTP client could not use, where it is written', async () => {
    const dir = await tree({ 'mail.yaml': docs(backend('james', 'http://127.0.0.1:80a'), domain('example.com')) });
    expect(await errorsOf([dir], dir)).toEqual(['./mail.yaml:6:8: MailBackend "james" spec.url: is not a URL the HTTP client can use (check the host name and the port)']);
  });

  it('refuses credentials in a URL without repeating them', async () => {
    const dir = await tree({ 'mail.yaml': docs(backend('james', 'https://admin:s3cret@james.example'), domain('example.com')) });
    const errors = await errorsOf([dir], dir);
    expect(errors).toEqual(['./mail.yaml:6:8: MailBackend "james" spec.url: carries credentials; put them in spec.credentials (a secret reference), never in the URL']);
    expect(errors.join()).not.toContain('s3cret');
  });
});

describe('warnings and notes', () => {
  it('flags an alias member and a forwarding target in a managed domain that nothing declares (a renamed user)', async () => {
    const dir = await tree({
      'mail.yaml': docs(
        backend(),
        domain('example.com', '  aliasDomains: [example.net]'),
        user('alice.l@example.com', '  forwarding: {to: [bob@example.com, carol@elsewhere.example]}', 'alice'),
        alias('team@example.com', ['alice@example.com', 'alice.l@example.net', 'partner@elsewhere.example']),
      ),
    });
    const config = await loadConfigFromPaths([dir]);
    expect(config.warnings.map((w) => formatConfigError(w).replace(dir, '.'))).toEqual([
      './mail.yaml:30:13: Alias "alias-team" spec.members[0]: member alice@example.com is in managed domain example.com, but no MailUser, extra address or Alias declares it (renamed or removed?)',
      './mail.yaml:23:21: MailUser "alice" spec.forwarding.to[0]: forwarding target bob@example.com is in managed domain example.com, but no MailUser, extra address or Alias declares it (renamed or removed?)',
    ]);
  });

  it('says once that addresses written in upper case are planned in lower case', async () => {
    const dir = await tree({ 'mail.yaml': docs(backend(), domain('example.com'), user('Alice@Example.com', '', 'alice'), user('BOB@example.com', '', 'bob')) });
    const config = await loadConfigFromPaths([dir]);
    expect(config.notes).toEqual([
      `2 addresses were written with upper-case letters; mailops plans them in lower case, as the servers store addresses (first: Alice@Example.com, ${dir}/mail.yaml:21:12).`,
    ]);
  });
});
