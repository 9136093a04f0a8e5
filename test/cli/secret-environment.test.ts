// Secrets given in the environment stay in mailops: the git that `plan --git-base` and `watch` start
// (and through it ssh, credential helpers and hooks) gets an environment without them. A `git` on
// PATH that writes down its environment before it runs the real one shows what it was given.
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';
import { backend, docs, domain, user } from '../support/manifests.ts';
import { TestRepository, startWatch } from '../support/watch.ts';

const CANARY = 'canary-5b1d0c7e';
const secretEnv = { MAILOPS_SECRET_ALICE_PASSWORD: `${CANARY}-alice`, MAILOPS_FINGERPRINT_KEY: `${CANARY}-key` };

let james: JamesEmulator;
let recordingPath: string;
let environmentLog: string;

beforeAll(async () => {
  james = await startJamesEmulator({});
  const dir = await tempDir('mailops-git-env-');
  environmentLog = path.join(dir, 'environments.log');
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
  await mkdir(path.join(dir, 'bin'));
  await writeFile(path.join(dir, 'bin', 'git'), `#!/bin/sh\nenv >> '${environmentLog}'\nexec '${realGit}' "$@"\n`);
  await chmod(path.join(dir, 'bin', 'git'), 0o755);
  recordingPath = `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}`;
});
afterAll(async () => {
  await james.close();
});

async function repositoryWithAlice(): Promise<{ repo: TestRepository; revision: string }> {
  const repo = await TestRepository.create();
  await repo.write('mail/config.yaml', docs(backend('james', james.url), domain('example.com'), user('alice@example.com')));
  return { repo, revision: await repo.commit('alice') };
}

describe('the git mailops starts', () => {
  it('gets no secret from plan --git-base', async () => {
    const { repo } = await repositoryWithAlice();
    const result = await mailops(['plan', '-f', 'mail/', '--git-base', 'HEAD'], { cwd: repo.dir, env: { ...secretEnv, PATH: recordingPath, MAILOPS_STATE_DIR: await tempDir('mailops-state-') } });
    expect(result.code).toBe(0);
    const environments = await readFile(environmentLog, 'utf8');
    expect(environments).toContain('GIT_TERMINAL_PROMPT=0'); // git ran, through the recording wrapper
    expect(environments).not.toContain(CANARY);
  });

  it('gets no secret from mailops watch', async () => {
    const { repo, revision } = await repositoryWithAlice();
    await writeFile(environmentLog, '');
    const watch = await startWatch(['--repo', repo.dir, '--path', 'mail/', '--interval', '1s', '--state-dir', await tempDir('mailops-state-')], { ...secretEnv, PATH: recordingPath });
    try {
      await watch.until('the commit applied', (s) => s.lastAppliedRevision === revision);
    } finally {
      await watch.stop();
    }
    expect(james.state.users).toContain('alice@example.com'); // the secret reached mailops itself
    const environments = await readFile(environmentLog, 'utf8');
    expect(environments).toContain('GCM_INTERACTIVE=never');
    expect(environments).not.toContain(CANARY);
  }, 60_000);
});
