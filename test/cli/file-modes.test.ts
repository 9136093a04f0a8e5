// The state directory keeps the fingerprint key and the records (password fingerprints, checkpoints of
// address changes): its files are 0600 and its directories 0700 after apply, watch and export — with a
// umask of 000 too, and when they existed before with laxer modes (files of mailops's own are narrowed;
// a directory is left as it is and a warning says so).
import { chmod, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';
import { configDir } from '../support/files.ts';
import { backend, docs, domain, user } from '../support/manifests.ts';
import { TestRepository, startWatch } from '../support/watch.ts';

let james: JamesEmulator;
beforeAll(async () => {
  james = await startJamesEmulator({});
});
afterAll(async () => {
  await james.close();
});

const secrets = { MAILOPS_SECRET_ALICE_PASSWORD: 'alice-1', MAILOPS_SECRET_BOB_PASSWORD: 'bob-1' };
const manifests = (...users: string[]) => docs(backend('james', james.url), domain('example.com'), ...users.map((address) => user(address)));
const modeOf = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

/** Every entry under the state directory with its mode; the watcher's git clone and checkouts (git writes them) only as directories. */
async function stateModes(stateDir: string): Promise<Record<string, string>> {
  const modes: Record<string, string> = { '.': await modeOf(stateDir) };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(stateDir, full);
      modes[relative] = await modeOf(full);
      if (entry.isDirectory() && entry.name !== 'repo.git' && entry.name !== 'trees') await walk(full);
    }
  };
  await walk(stateDir);
  return modes;
}

describe('file modes in the state directory', () => {
  it('after apply with umask 000: a new state directory 0700, the key and the records 0600, nothing else left', async () => {
    const stateDir = path.join(await tempDir('mailops-modes-'), 'nested', 'state');
    const result = await mailops(['apply', '-f', await configDir(manifests('alice@example.com'))], { env: { ...secrets, MAILOPS_STATE_DIR: stateDir }, umask: '000' });
    expect(result.code).toBe(0);
    expect(await stateModes(stateDir)).toEqual({ '.': '700', 'fingerprint.key': '600', 'records.json': '600' });
    expect(await modeOf(path.dirname(stateDir))).toBe('700'); // made by mailops on the way
  });

  it('narrows its own files that were left open to others, and warns about a directory open to others', async () => {
    const stateDir = await tempDir('mailops-modes-');
    await chmod(stateDir, 0o755);
    await writeFile(path.join(stateDir, 'fingerprint.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o644 });
    await writeFile(path.join(stateDir, 'records.json'), '{"version": 1, "backends": {}}\n', { mode: 0o666 });
    await chmod(path.join(stateDir, 'records.json'), 0o666);
    const result = await mailops(['apply', '-f', await configDir(manifests('alice@example.com'))], { env: { ...secrets, MAILOPS_STATE_DIR: stateDir } });
    expect(result.code).toBe(0);
    expect(await stateModes(stateDir)).toEqual({ '.': '755', 'fingerprint.key': '600', 'records.json': '600' });
    expect(result.stderr).toContain(`the state directory ${stateDir} is open to other users (mode 0755)`);
    expect(result.stderr).toContain(`chmod 700 ${stateDir}`);
    expect(result.stderr).toContain(`${path.join(stateDir, 'fingerprint.key')} was open to other users (mode 0644); mailops made it 0600`);
    expect(result.stderr).toContain(`${path.join(stateDir, 'records.json')} was open to other users (mode 0666)`);
  });

  it('plan neither warns nor changes anything (it writes nothing)', async () => {
    const stateDir = await tempDir('mailops-modes-');
    await chmod(stateDir, 0o755);
    await writeFile(path.join(stateDir, 'records.json'), '{"version": 1, "backends": {}}\n');
    await chmod(path.join(stateDir, 'records.json'), 0o644);
    const result = await mailops(['plan', '-f', await configDir(manifests('alice@example.com'))], { env: { ...secrets, MAILOPS_STATE_DIR: stateDir } });
    expect(result.code).toBe(0);
    expect(await stateModes(stateDir)).toEqual({ '.': '755', 'records.json': '644' });
  });

  it('after mailops watch runs and an export, with umask 000: every directory 0700, every key and record 0600', async () => {
    const stateDir = path.join(await tempDir('mailops-modes-'), 'state');
    const repo = await TestRepository.create();
    await repo.write('config/mail.yaml', manifests('alice@example.com', 'bob@example.com'));
    const revision = await repo.commit('Two users');
    const watch = await startWatch(['--repo', repo.dir, '--path', 'config/', '--interval', '1s', '--state-dir', stateDir], secrets, { umask: '000' });
    try {
      await watch.until('the commit applied', (s) => s.lastAppliedRevision === revision);
    } finally {
      expect(await watch.stop()).toBe(0);
    }
    const exported = path.join(await tempDir('mailops-modes-'), 'exported');
    const result = await mailops(['export', '-f', await configDir(backend('james', james.url)), '-o', exported], { env: { MAILOPS_STATE_DIR: stateDir }, umask: '000' });
    expect(result.code).toBe(0);

    const modes = await stateModes(stateDir);
    const watchDir = Object.keys(modes).find((name) => /^watch\/[0-9a-f]{16}$/.test(name))!;
    expect(modes).toMatchObject({
      '.': '700', 'fingerprint.key': '600', 'records.json': '600',
      watch: '700', [watchDir]: '700', [`${watchDir}/repo.git`]: '700', [`${watchDir}/trees`]: '700',
    });
    // What else is there holds no key, fingerprint or checkpoint: the status a monitor reads (in the 0700 directory).
    expect(Object.keys(modes).sort()).toEqual(['.', 'fingerprint.key', 'records.json', 'watch', watchDir, `${watchDir}/repo.git`, `${watchDir}/trees`, `${watchDir}/status.json`].sort());
  }, 60_000);
});
