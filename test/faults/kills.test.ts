// `mailops apply` killed with SIGKILL at seeded points of a large first apply, 20 times in a row on
// one state directory, then run to the end: nothing is created twice, no password is set again
// without need, the state directory stays readable after every kill, and the end state is what the
// configuration declares (`plan --detailed-exitcode` says No changes.). Then the lock: a dead
// holder's lock is taken over, a live one makes a second apply refuse at once.
//
// The seed is MAILOPS_FAULT_SEED (a fixed default otherwise); it is in the test names, so that a
// failure can be repeated with the same kill points.
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/backends/emulator/faults.ts';
import type { RequestLogEntry, RunningEmulator } from '../../src/backends/emulator/server.ts';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { mailops, tempDir } from '../support/cli.ts';
import { backend } from '../support/manifests.ts';
import { mailstoreBackend } from '../backends/mailstore/support.ts';
import {
  DOMAIN,
  faultSeed,
  largeConfig,
  onRequestLogged,
  passwordOf,
  readStateDir,
  startApply,
  userAddress,
  writeConfig,
  type ApplyRun,
} from './kill-support.ts';

const SEED = faultSeed();
const KILLS = 20;
const JAMES_USERS = 2_000;
const MAILSTORE_USERS = 200;
const MAILSTORE_KILLS = 10;
// The request rate is the emulator's to bear, not the subject here; concurrency stays at its default.
const LIMITS = '  limits: {concurrency: 8, requestsPerSecond: 20000}\n';

const running: Array<{ close(): Promise<void> }> = [];
const runs: ApplyRun[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) run.kill();
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

/** Where a kill is meant to land. `n`: the n-th request of that kind in the run (or the n-th records write). */
type KillKind = 'observe' | 'users' | 'quota' | 'alias' | 'groups' | 'flush' | 'task';
interface KillPoint {
  kind: KillKind;
  n: number;
}

/**
 * Starts `mailops apply`, kills its process group at the kill point and waits for it to end.
 * `matches` tells whether a logged request is one of that kind; `flush` kills at the n-th records
 * write the run starts (its temporary file appearing in the state directory).
 */
async function applyKilledAt(
  emulator: RunningEmulator,
  point: KillPoint,
  matches: (entry: RequestLogEntry) => boolean,
  dir: string,
  stateDir: string,
  env: Record<string, string>,
): Promise<{ run: ApplyRun; signal: NodeJS.Signals | null; trigger: RequestLogEntry | undefined }> {
  let seen = 0;
  let last: RequestLogEntry | undefined;
  let trigger: RequestLogEntry | undefined;
  let run: ApplyRun | undefined;
  const kill = () => {
    trigger = last;
    run?.kill();
  };
  const unhook = onRequestLogged(emulator, (entry) => {
    if (trigger) return; // requests already on their way when the kill fell
    last = entry;
    if (point.kind !== 'flush' && matches(entry) && ++seen === point.n) kill();
  });
  const watcher = watch(stateDir, (_event, file) => {
    if (point.kind !== 'flush' || !file || !/^records\.json\.\d+\.tmp$/.test(file)) return;
    if (++seen === point.n) kill();
  });
  try {
    run = startApply(dir, env);
    runs.push(run);
    const { signal } = await run.exited;
    return { run, signal, trigger };
  } finally {
    unhook();
    watcher.close();
  }
}

/**
 * After a kill, the state directory is what the next run can read: records.json (once there is one)
 * is a whole record file, and the only temporary file is the one the killed writer was writing —
 * those of earlier kills were cleared by the runs after them.
 */
async function expectStateReadable(stateDir: string, killed: number): Promise<{ leftTmp: boolean }> {
  const { files } = await readStateDir(stateDir);
  const temporaries = files.filter((f) => f.endsWith('.tmp'));
  expect(temporaries.filter((f) => f !== `records.json.${killed}.tmp` && f !== `fingerprint.key.${killed}.tmp`)).toEqual([]);
  // The lock names the killed run: the next one must take it over.
  expect((await readFile(path.join(stateDir, 'apply.lock'), 'utf8')).split(' ')[0]).toBe(String(killed));
  return { leftTmp: temporaries.length > 0 };
}

/** The last apply, without a kill, converges; a plan then shows no changes; the state directory is clean. */
async function expectConverges(dir: string, stateDir: string, env: Record<string, string>): Promise<void> {
  const final = startApply(dir, env);
  runs.push(final);
  const { code } = await final.exited;
  expect(final.output().stderr).toBe('');
  expect(code).toBe(0);
  const plan = await mailops(['plan', '-f', dir, '--detailed-exitcode'], { env });
  expect(plan.stdout.trimEnd().split('\n').at(-1)).toBe('No changes.');
  expect(plan.code).toBe(0);
  expect((await readdir(stateDir)).sort()).toEqual(['fingerprint.key', 'records.json']);
}

/** A count of n in 1..span, never more than what is left to do. */
function pick(random: () => number, span: number, left: number): number {
  return Math.max(1, Math.min(left, 1 + Math.floor(random() * Math.max(1, span))));
}

const decodedUser = (entry: RequestLogEntry) => decodeURIComponent(decodeURIComponent(entry.path.split('/')[2] ?? ''));

describe(`SIGKILL at ${KILLS} seeded points of a ${JAMES_USERS}-user apply on James (seed ${SEED})`, () => {
  it('each next apply takes over, nothing is created twice, no password is set twice, and the last one converges', async () => {
    const started = Date.now();
    const james: JamesEmulator = await startJamesEmulator({});
    running.push(james);
    const config = largeConfig(JAMES_USERS, backend('james', james.url, LIMITS), 'james');
    const dir = await writeConfig(config.yaml);
    const stateDir = await tempDir('mailops-kills-state-');
    // The fingerprint key is the state directory's own (made by the first run, which may be killed too).
    const env = { MAILOPS_STATE_DIR: stateDir, ...config.secrets };

    const isUserPut = (e: RequestLogEntry) => e.method === 'PUT' && /^\/users\/[^/]+$/.test(e.path);
    const kinds: Record<KillKind, (e: RequestLogEntry) => boolean> = {
      observe: () => true,
      users: isUserPut,
      quota: (e) => e.method === 'PUT' && e.path.startsWith('/quota/users/'),
      alias: (e) => e.method === 'PUT' && e.path.startsWith('/address/aliases/'),
      groups: (e) => e.method === 'PUT' && e.path.startsWith('/address/groups/'),
      flush: () => false,
      task: () => false,
    };
    // The kinds in order: the kills walk through the apply (users, with their quotas and extra
    // addresses, then the aliases), with kills in observation and in records writes among them.
    const schedule: KillKind[] = [
      'observe', 'users', 'users', 'flush', 'quota', 'users', 'alias', 'users', 'flush', 'users',
      'observe', 'users', 'quota', 'flush', 'users', 'alias', 'users', 'flush', 'groups', 'groups',
    ];
    const random = seededRandom(SEED);
    const declared = (i: number) => userAddress(i);
    const missing = (test: (i: number) => boolean) => {
      const present = new Set(james.state.users);
      let count = 0;
      for (let i = 0; i < JAMES_USERS; i++) if (test(i) && !present.has(declared(i))) count++;
      return count;
    };
    const landed: string[] = [];
    let temporariesLeft = 0;
    for (const [index, scheduled] of schedule.entries()) {
      const usersLeft = missing(() => true);
      // Runs killed elsewhere create users too: once none is left to create, that kill goes to the observation.
      const kind: KillKind = scheduled === 'users' && usersLeft === 0 ? 'observe' : scheduled;
      const groupWritesLeft = [...config.aliases].reduce((n, [address, members]) => n + members.length - (james.state.mappings[address]?.length ?? 0), 0);
      const usersKillsLeft = schedule.slice(index).filter((k) => k === 'users').length;
      const n = {
        observe: () => pick(random, 4, 4),
        users: () => pick(random, (2 * usersLeft) / (usersKillsLeft + 1), usersLeft),
        quota: () => pick(random, 20, missing((i) => i % 7 === 5 || i % 25 === 11)),
        alias: () => pick(random, 20, missing((i) => i % 10 === 3)),
        groups: () => pick(random, groupWritesLeft / 2, groupWritesLeft - 1),
        flush: () => pick(random, 3, 3),
        task: () => 1,
      }[kind]();
      const { run, signal, trigger } = await applyKilledAt(james, { kind, n }, kinds[kind], dir, stateDir, env);
      expect(signal, `kill ${index + 1} (${kind} #${n}) did not land: the run ended first`).toBe('SIGKILL');
      landed.push(`${kind}#${n}:${trigger ? `${trigger.method} ${trigger.path.split('/')[1]}` : 'before any request'}`);
      if ((await expectStateReadable(stateDir, run.pid)).leftTmp) temporariesLeft++;
    }
    // The kills landed in every part of the apply: observation, creating users, their quotas and
    // addresses, the aliases, and records writes (where the last request may be any).
    const parts = new Set(landed.map((l) => l.split(':')[1]!.replace(/^GET .*/, 'GET')));
    expect([...parts]).toEqual(expect.arrayContaining(['GET', 'PUT users', 'PUT quota', 'PUT address']));
    expect(landed.filter((l) => l.startsWith('flush'))).toHaveLength(4);
    await expectConverges(dir, stateDir, env);

    // From the server's side, over all 21 runs.
    const log = james.requestLog;
    const creates = new Map<string, number>();
    const passwordWrites = new Map<string, number>();
    for (const entry of log.filter(isUserPut)) {
      const address = decodedUser(entry);
      passwordWrites.set(address, (passwordWrites.get(address) ?? 0) + 1);
      // A create is a PUT without ?force (with it, the password of an existing user is set).
      if (!entry.query.includes('force')) creates.set(address, (creates.get(address) ?? 0) + 1);
    }
    const everyone = Array.from({ length: JAMES_USERS }, (_, i) => declared(i));
    expect(log.filter((e) => e.method === 'DELETE')).toEqual([]);
    expect(log.filter((e) => isUserPut(e) && e.status !== 204)).toEqual([]);
    expect([...creates.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    expect([...creates.keys()].sort()).toEqual(everyone);
    // Exactly one password write per user. A user a killed run created but did not record is asked
    // about (POST …/verify, James can tell), and the answer is always yes: nothing is set again.
    expect([...passwordWrites.entries()].filter(([, count]) => count !== 1)).toEqual([]);
    expect(log.filter((e) => e.path.endsWith('/verify') && e.status !== 204)).toEqual([]);
    expect(james.state.users.filter((u) => u !== DOMAIN).sort()).toEqual(everyone);
    for (const [address, members] of config.aliases) {
      expect(james.state.mappings[address]?.map((m) => m.mapping).sort()).toEqual(members);
    }
    const { records } = await readStateDir(stateDir);
    const recorded = Object.values(records!.backends)[0]!;
    expect(Object.keys(recorded)).toHaveLength(JAMES_USERS);
    expect(Object.values(recorded).every((r) => r.passwordFingerprint !== null)).toBe(true);

    console.log(
      `[kills] James, seed ${SEED}: ${KILLS} kills survived, ${JAMES_USERS} users, ${log.length} requests, ` +
        `${temporariesLeft} kills left a records write half done, ${Math.round((Date.now() - started) / 1000)} s; ` +
        `landed: ${landed.join(', ')}`,
    );
  }, 240_000);
});

describe(`SIGKILL at ${MAILSTORE_KILLS} seeded points of a ${MAILSTORE_USERS}-user apply on MailStore, with asynchronous calls (seed ${SEED})`, () => {
  it('each next apply takes over, nothing is created twice, and CreateUser is each user’s only password write', async () => {
    const started = Date.now();
    // Every extra address takes MailStore long enough to answer with a status token to poll.
    const mailstore: MailStoreEmulator = await startMailStoreEmulator({ password: 'Archive-Adm1n', invokeWaitMs: 20, slow: { SetUserEmailAddresses: { durationMs: 60, steps: 2 } } });
    running.push(mailstore);
    const forms: Array<{ path: string; userName: string }> = [];
    // A watcher that never matches sees every request, with its form, before it is handled.
    void mailstore.nextRequest((request) => {
      forms.push({ path: request.path, userName: (request.form.get('userName') ?? '').toLowerCase() });
      return false;
    });
    const config = largeConfig(MAILSTORE_USERS, mailstoreBackend(mailstore.url).replace('spec:\n', `spec:\n${LIMITS}`), 'archive', { quotas: false, aliases: false });
    const dir = await writeConfig(config.yaml);
    const stateDir = await tempDir('mailops-kills-state-');
    const env = { MAILOPS_STATE_DIR: stateDir, MAILOPS_SECRET_MAILSTORE_ADMIN_PASSWORD: 'Archive-Adm1n', ...config.secrets };

    const invoked = (fn: string) => (e: RequestLogEntry) => e.path === `/api/invoke/${fn}`;
    const kinds: Record<KillKind, (e: RequestLogEntry) => boolean> = {
      observe: () => true,
      users: invoked('CreateUser'),
      quota: () => false,
      alias: invoked('SetUserEmailAddresses'),
      groups: () => false,
      flush: () => false,
      task: (e) => e.path === '/api/get-status',
    };
    const schedule: KillKind[] = ['observe', 'users', 'task', 'flush', 'users', 'alias', 'observe', 'users', 'task', 'flush'];
    const random = seededRandom(SEED);
    const existing = () => new Set(mailstore.users.map((u) => u.userName.toLowerCase()));
    const missing = (test: (i: number) => boolean) => {
      const present = existing();
      return Array.from({ length: MAILSTORE_USERS }, (_, i) => i).filter((i) => test(i) && !present.has(userAddress(i))).length;
    };
    const landed: string[] = [];
    for (const [index, scheduled] of schedule.entries()) {
      const usersLeft = missing(() => true);
      // Runs killed elsewhere create users too: once none is left to create, that kill goes to the observation.
      const kind: KillKind = scheduled === 'users' && usersLeft === 0 ? 'observe' : scheduled;
      const usersKillsLeft = schedule.slice(index).filter((k) => k === 'users').length;
      const n = {
        observe: () => pick(random, existing().size + 1, existing().size + 1),
        users: () => pick(random, (2 * usersLeft) / (usersKillsLeft + 1), usersLeft),
        alias: () => pick(random, 8, missing((i) => i % 10 === 3)),
        task: () => pick(random, 6, missing((i) => i % 10 === 3)),
        flush: () => pick(random, 3, 3),
        quota: () => 1,
        groups: () => 1,
      }[kind]();
      const { run, signal, trigger } = await applyKilledAt(mailstore, { kind, n }, kinds[kind], dir, stateDir, env);
      expect(signal, `kill ${index + 1} (${kind} #${n}) did not land: the run ended first`).toBe('SIGKILL');
      landed.push(`${kind}#${n}:${trigger ? trigger.path : 'before any request'}`);
      await expectStateReadable(stateDir, run.pid);
    }
    await expectConverges(dir, stateDir, env);

    const count = (fn: string) => {
      const counts = new Map<string, number>();
      for (const form of forms.filter((f) => f.path === `/api/invoke/${fn}`)) counts.set(form.userName, (counts.get(form.userName) ?? 0) + 1);
      return counts;
    };
    const everyone = Array.from({ length: MAILSTORE_USERS }, (_, i) => userAddress(i));
    const creates = count('CreateUser');
    expect([...creates.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...creates.keys()].sort()).toEqual(everyone);
    expect(forms.filter((f) => f.path === '/api/invoke/DeleteUser')).toEqual([]);
    // MailStore cannot check a password, so a user that a killed run created but did not record
    // would be, for the next run, a user mailops never set a password for. It is not: the creates
    // of a phase are recorded with their password fingerprints before the phase starts, and a user
    // found created was created with that password. CreateUser is each user's only password write.
    expect(forms.filter((f) => f.path === '/api/invoke/SetUserPassword')).toEqual([]);
    for (const [i, address] of everyone.entries()) expect(mailstore.passwordMatches(address, passwordOf(i)), address).toBe(true);
    for (const i of [3, 13, 193]) expect(mailstore.users.find((u) => u.userName.toLowerCase() === userAddress(i))?.emailAddresses).toContain(`u${String(i).padStart(4, '0')}.extra@${DOMAIN}`);

    console.log(
      `[kills] MailStore, seed ${SEED}: ${MAILSTORE_KILLS} kills survived, ${MAILSTORE_USERS} users, ${mailstore.requestLog.length} requests, ` +
        `${Math.round((Date.now() - started) / 1000)} s; landed: ${landed.join(', ')}`,
    );
  }, 180_000);
});

describe('the state directory: its lock and what killed writers leave', () => {
  const small = async (users: number) => {
    const james = await startJamesEmulator({});
    running.push(james);
    const config = largeConfig(users, backend('james', james.url, LIMITS), 'james');
    const stateDir = await tempDir('mailops-kills-state-');
    return { james, dir: await writeConfig(config.yaml), stateDir, env: { MAILOPS_STATE_DIR: stateDir, ...config.secrets } };
  };
  const writes = (emulator: RunningEmulator) => emulator.requestLog.filter((e) => e.method !== 'GET' && !e.path.endsWith('/verify')).length;

  it('a second apply while one runs refuses at once, naming the pid and the directory, and sends nothing', async () => {
    const { james, dir, stateDir, env } = await small(20);
    const first = startApply(dir, env);
    runs.push(first);
    // The first run holds the lock once it talks to the server; it is then frozen, so that every
    // request the emulator sees from now on would be the second run's.
    await new Promise<void>((resolve) => {
      const unhook = onRequestLogged(james, () => {
        unhook();
        process.kill(-first.pid, 'SIGSTOP');
        resolve();
      });
    });
    const written = writes(james);
    const startedAt = Date.now();
    const second = await mailops(['apply', '-f', dir], { env });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another mailops apply (pid ${first.pid}) is using ${stateDir}`);
    expect(second.stderr).toContain(path.join(stateDir, 'apply.lock'));
    expect(Date.now() - startedAt).toBeLessThan(10_000); // refused, not waited
    // The first run was frozen observing: its requests already on their way may still arrive, but
    // a write could only be the second run's.
    expect(writes(james)).toBe(written);
    expect(written).toBe(0);

    process.kill(-first.pid, 'SIGCONT');
    expect((await first.exited).code).toBe(0);
    await expectConverges(dir, stateDir, env);
  });

  it('a lock left by a killed apply is taken over by the next one, which leaves none', async () => {
    const { james, dir, stateDir, env } = await small(40);
    const { run, signal } = await applyKilledAt(james, { kind: 'users', n: 10 }, (e) => e.method === 'PUT' && e.path.startsWith('/users/'), dir, stateDir, env);
    expect(signal).toBe('SIGKILL');
    expect(await readFile(path.join(stateDir, 'apply.lock'), 'utf8')).toMatch(new RegExp(`^${run.pid} mailops apply\\n`));
    await expectConverges(dir, stateDir, env);
    expect(james.state.users).toHaveLength(40);
    expect(james.requestLog.filter((e) => e.method === 'PUT' && /^\/users\/[^/]+$/.test(e.path))).toHaveLength(40);
  });

  it('a lock naming a live process that started after the holder did (a reused pid) is taken over', async () => {
    const { dir, stateDir, env } = await small(5);
    // This test's own process stands in for whatever now has the dead holder's pid.
    await writeFile(path.join(stateDir, 'apply.lock'), `${process.pid} mailops apply\nstarted 1\n`);
    await expectConverges(dir, stateDir, env);
  });

  it('a lock naming a live process without a start time is respected (the holder cannot be told from another process)', async () => {
    const { james, dir, stateDir, env } = await small(5);
    await writeFile(path.join(stateDir, 'apply.lock'), `${process.pid} mailops apply\n`);
    const apply = await mailops(['apply', '-f', dir], { env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(`another mailops apply (pid ${process.pid}) is using ${stateDir}; wait for it or remove ${path.join(stateDir, 'apply.lock')}`);
    expect(writes(james)).toBe(0);
  });

  it('records and key writes a killed writer abandoned are never read, and the next apply removes them', async () => {
    const { dir, stateDir, env } = await small(5);
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((resolve) => gone.on('exit', resolve)); // a pid that is no longer running
    await writeFile(path.join(stateDir, `records.json.${gone.pid}.tmp`), '{"version": 1, "backends": {"half');
    await writeFile(path.join(stateDir, `fingerprint.key.${gone.pid}.tmp`), 'aGFsZg');
    await expectConverges(dir, stateDir, env);
  });

  it('an empty fingerprint.key (a key creation killed by an older mailops) is refused with what to do, and nothing is applied', async () => {
    const { james, dir, stateDir, env } = await small(5);
    await writeFile(path.join(stateDir, 'fingerprint.key'), '');
    const apply = await mailops(['apply', '-f', dir], { env });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(`${path.join(stateDir, 'fingerprint.key')} holds no usable fingerprint key (0 bytes`);
    expect(apply.stderr).toContain('Remove it');
    expect(writes(james)).toBe(0);
  });
});
