// What `mailops watch` accepts as a repository, a branch and a path, and the symbolic links it
// refuses to follow out of a checkout.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBranch, checkRepositoryPath, linksLeavingTree, normaliseRepository, redactUrl } from '../../src/watch/git.ts';
import { tempDir } from '../support/cli.ts';

describe('the repository to watch', () => {
  it('takes URLs git understands, and makes local paths absolute', () => {
    expect(normaliseRepository('https://git.example.org/mail/config.git', '/srv')).toBe('https://git.example.org/mail/config.git');
    expect(normaliseRepository('ssh://git@git.example.org/mail/config.git', '/srv')).toBe('ssh://git@git.example.org/mail/config.git');
    expect(normaliseRepository('git@git.example.org:mail/config.git', '/srv')).toBe('git@git.example.org:mail/config.git');
    expect(normaliseRepository('file:///srv/config.git', '/srv')).toBe('file:///srv/config.git');
    expect(normaliseRepository('config', '/srv')).toBe('/srv/config');
    expect(normaliseRepository('./mail:config', '/srv')).toBe('/srv/mail:config');
  });

  it('refuses credentials in the URL, without repeating them', () => {
    for (const url of ['https://deploy:s3cret-token@git.example.org/mail.git', 'https://s3cret-token@git.example.org/mail.git', 'ssh://git:s3cret-token@git.example.org/mail.git']) {
      let message = '';
      try {
        normaliseRepository(url, '/srv');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/credentials do not belong in the URL.*credential helper/);
      expect(message).not.toContain('s3cret-token');
    }
    expect(redactUrl('https://deploy:s3cret-token@git.example.org/mail.git')).toBe('https://(credentials)@git.example.org/mail.git');
    expect(redactUrl('ssh://git@git.example.org/mail.git')).toBe('ssh://git@git.example.org/mail.git');
  });

  it('refuses transports that run commands and anything git could take for an option', () => {
    expect(() => normaliseRepository('ext::sh -c touch% /tmp/pwned', '/srv')).toThrow(/remote helpers/);
    expect(() => normaliseRepository('fd::3', '/srv')).toThrow(/remote helpers/);
    expect(() => normaliseRepository('--upload-pack=touch /tmp/pwned', '/srv')).toThrow(/a local path or a git URL/);
    expect(() => normaliseRepository('ftp://git.example.org/mail.git', '/srv')).toThrow(/ftp:\/\/ transport is not supported/);
  });

  it('takes branch names git accepts, and paths inside the repository only', () => {
    expect(checkBranch('release/2025-06')).toBe('release/2025-06');
    for (const bad of ['-x', '../main', 'main.lock', 'a b', 'main/', 'a..b']) expect(() => checkBranch(bad)).toThrow(/not a branch name/);
    expect(checkRepositoryPath('config/')).toBe('config');
    expect(checkRepositoryPath('./config/mail')).toBe('config/mail');
    expect(checkRepositoryPath('.')).toBe('.');
    for (const bad of ['../other', '/etc', 'config/../../x']) expect(() => checkRepositoryPath(bad)).toThrow(/inside the repository/);
  });
});

describe('symbolic links in a checkout', () => {
  it('reports links that lead out of the repository, and allows those that stay inside', async () => {
    const tree = await tempDir('mailops-tree-');
    const outside = await tempDir('mailops-secrets-');
    await writeFile(path.join(outside, 'password'), 'not for the repository\n');
    await mkdir(path.join(tree, 'config', 'users'), { recursive: true });
    await writeFile(path.join(tree, 'config', 'users', 'alice.yaml'), 'kind: MailUser\n');
    await symlink(path.join(outside, 'password'), path.join(tree, 'config', 'users', 'leak.yaml'));
    await symlink('alice.yaml', path.join(tree, 'config', 'users', 'same.yaml'));
    const errors = await linksLeavingTree(tree, 'config');
    expect(errors).toEqual([{ position: { file: 'config/users/leak.yaml', line: 0, column: 0 }, message: `a symbolic link to ${outside}/password, outside the repository, is not read` }]);

    await symlink(outside, path.join(tree, 'linked'));
    expect(await linksLeavingTree(tree, 'linked')).toEqual([{ position: { file: 'linked', line: 0, column: 0 }, message: `a symbolic link to ${outside}, outside the repository, is not read` }]);
  });
});
