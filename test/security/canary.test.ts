// The secret canary (issue 13): every secret is a unique marker — the users' passwords (from the
// environment and from a secrets directory), every backend credential of the four backend types, the
// fingerprint key (variable and file) — and every command runs with -v and debug logs against healthy,
// failing, refusing, unreachable and hostile (quoting) backends. A marker found in anything mailops prints,
// writes or serves fails the test and says where. Proxies in front of the backends record what was sent:
// the positive controls show each secret really was used.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../src/backends/emulator/server.ts';
import { startIRedAdminEmulator } from '../../src/backends/iredadmin/emulator.ts';
import { startJamesEmulator } from '../../src/backends/james/emulator.ts';
import { startMailStoreEmulator } from '../../src/backends/mailstore/emulator.ts';
import { startOpenXchangeEmulator } from '../../src/backends/openxchange/emulator.ts';
import { canary, contains, filesUnder, findLeaks, sessionCanaries, startBackendProxy, type BackendProxy, type Canary, type Surface } from '../support/canary.ts';
import { ROOT, mailops, tempDir, type CliResult } from '../support/cli.ts';
import { freePort, waitExit } from '../support/processes.ts';
import { TestRepository, startWatch } from '../support/watch.ts';

const secret = {
  alice: canary('password of user alice (env)', 'alice'),
  bob: canary('password of user bob (--secrets-dir)', 'bob'),
  tina: canary('password of user tina (env)', 'tina'),
  dave: canary('password of user dave (--secrets-dir)', 'dave'),
  grace: canary('password of user grace (env)', 'grace'),
  heidi: canary('password of user heidi (--secrets-dir)', 'heidi'),
  jamesPassword: canary('James password (env)', 'james-password'),
  jamesToken: canary('James token (--secrets-dir)', 'james-token'),
  iredadmin: canary('iRedAdmin-Pro admin password (env)', 'iredadmin'),
  mailstore: canary('MailStore admin password (--secrets-dir)', 'mailstore'),
  oxMaster: canary('Open-Xchange master admin password (env)', 'ox-master'),
  oxContext: canary('Open-Xchange context admin password (--secrets-dir)', 'ox-context'),
  oxRest: canary('Open-Xchange REST password (env)', 'ox-rest'),
  fingerprintEnv: canary('MAILOPS_FINGERPRINT_KEY', 'fingerprint-env'),
  fingerprintFile: canary('fingerprint.key file', 'fingerprint-file'),
};
const ALL = Object.values(secret);
const USERS = { alice: 'alice@example.com', bob: 'bob@example.com', tina: 'tina@token.example', dave: 'dave@example.org', grace: 'grace@office.example', heidi: 'heidi@office.example' } as const;

/** Secret name/key → marker, and where the run finds it. */
const FROM_ENV: Array<[string, string, Canary]> = [
  ['alice', 'password', secret.alice], ['tina', 'password', secret.tina], ['grace', 'password', secret.grace],
  ['james-admin', 'password', secret.jamesPassword], ['iredadmin-admin', 'password', secret.iredadmin],
  ['ox-master', 'password', secret.oxMaster], ['ox-rest', 'password', secret.oxRest],
];
const FROM_DIR: Array<[string, string, Canary]> = [
  ['bob', 'password', secret.bob], ['dave', 'password', secret.dave], ['heidi', 'password', secret.heidi],
  ['james-token', 'token', secret.jamesToken], ['mailstore-admin', 'password', secret.mailstore], ['ox-context-admin', 'password', secret.oxContext],
];
const envName = (name: string, key: string) => `MAILOPS_SECRET_${name}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

const BACKENDS = ['james', 'james-jwt', 'iredadmin', 'archive', 'openxchange'] as const;
type BackendName = (typeof BACKENDS)[number];
/** Which secrets each backend must have been sent (the positive control). */
const SENT_TO: Record<BackendName, { credentials: Canary[]; passwords: Canary[] }> = {
  james: { credentials: [secret.jamesPassword], passwords: [secret.alice, secret.bob] },
  'james-jwt': { credentials: [secret.jamesToken], passwords: [secret.tina] },
  iredadmin: { credentials: [secret.iredadmin], passwords: [secret.dave] },
  archive: { credentials: [secret.mailstore], passwords: [secret.grace, secret.heidi] },
  openxchange: { credentials: [secret.oxMaster, secret.oxContext, secret.oxRest], passwords: [secret.grace, secret.heidi] },
};

const LIMITS = '  limits: {retries: 2, timeoutSeconds: 3, taskTimeoutSeconds: 10}';
function manifests(options: { restCredentials: boolean; withTina: boolean }): Record<string, string> {
  const meta = (kind: string, name: string) => `apiVersion: mailops.dev/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec:\n`;
  const userDoc = (name: keyof typeof USERS, extra = '') => `${meta('MailUser', name)}  address: ${USERS[name]}\n  passwordSecretRef: {name: ${name}, key: password}\n${extra}`;
  return {
    'backends.yaml': [
      `${meta('MailBackend', 'james')}  type: james\n  url: http://127.0.0.1:1\n  credentials: {passwordSecretRef: {name: james-admin, key: password}}\n${LIMITS}`,
      `${meta('MailBackend', 'james-jwt')}  type: james\n  url: http://127.0.0.1:1\n  credentials: {tokenSecretRef: {name: james-token, key: token}}\n${LIMITS}`,
      `${meta('MailBackend', 'iredadmin')}  type: iredadmin\n  url: http://127.0.0.1:1\n  credentials: {username: postmaster@example.org, passwordSecretRef: {name: iredadmin-admin, key: password}}\n${LIMITS}`,
      `${meta('MailBackend', 'archive')}  type: mailstore\n  url: http://127.0.0.1:1\n  credentials: {username: admin, passwordSecretRef: {name: mailstore-admin, key: password}}\n${LIMITS}`,
      `${meta('MailBackend', 'openxchange')}  type: openxchange\n  url: http://127.0.0.1:1\n  credentials: {username: oxadminmaster, passwordSecretRef: {name: ox-master, key: password}}\n${LIMITS}\n` +
        '  openxchange:\n    contextAdmin: {username: oxadmin, passwordSecretRef: {name: ox-context-admin, key: password}}\n' +
        (options.restCredentials ? '    restCredentials: {username: restadmin, passwordSecretRef: {name: ox-rest, key: password}}\n' : ''),
    ].join('\n---\n'),
    'domains.yaml': [
      `${meta('MailDomain', 'example-com')}  domain: example.com\n  backendRefs: [{name: james}]\n`,
      `${meta('MailDomain', 'token-example')}  domain: token.example\n  backendRefs: [{name: james-jwt}]\n`,
      `${meta('MailDomain', 'example-org')}  domain: example.org\n  backendRefs: [{name: iredadmin}]\n`,
      `${meta('MailDomain', 'office-example')}  domain: office.example\n  backendRefs: [{name: archive}, {name: openxchange}]\n`,
    ].join('\n---\n'),
    'users.yaml': [
      userDoc('alice', '  extraAddresses: [a.lice@example.com]\n'),
      userDoc('bob'),
      ...(options.withTina ? [userDoc('tina')] : []),
      userDoc('dave', '  displayName: Dave\n'),
      userDoc('grace', '  displayName: Grace Hopper\n'),
      userDoc('heidi'),
      `${meta('Alias', 'info')}  address: info@office.example\n  members: [grace@office.example]\n`,
    ].join('\n---\n'),
  };
}

/** The emulators that accept exactly the canaries (or, `wrong`, other credentials: every login is refused). */
async function startEmulators(options: { wrong?: boolean; failureRate?: number } = {}): Promise<Record<BackendName, RunningEmulator>> {
  const pick = (marker: Canary) => (options.wrong ? `not-${marker.core}` : marker.value);
  const faults = options.failureRate ? { failureRate: options.failureRate, failureMode: 'mixed' as const, seed: 13 } : {};
  const [james, jamesJwt, iredadmin, archive, openxchange] = await Promise.all([
    startJamesEmulator({ password: pick(secret.jamesPassword), ...faults }),
    // WebAdmin 3.9 takes `Authorization: Bearer <password>` too: the token is checked as sent.
    startJamesEmulator({ password: pick(secret.jamesToken), ...faults }),
    startIRedAdminEmulator({ user: 'postmaster@example.org', password: pick(secret.iredadmin), ...faults }),
    startMailStoreEmulator({ user: 'admin', password: pick(secret.mailstore), ...faults }),
    startOpenXchangeEmulator({ user: 'oxadminmaster', password: pick(secret.oxMaster), restUser: 'restadmin', restPassword: pick(secret.oxRest), ...faults }),
  ]);
  return { james, 'james-jwt': jamesJwt, iredadmin, archive, openxchange };
}

/** One scenario's world: manifests (in a git repository), secrets, a state directory, backends behind proxies. */
class Scenario {
  readonly surfaces: Surface[] = [];
  emulators: Partial<Record<BackendName, RunningEmulator>> = {};
  proxies: Partial<Record<BackendName, BackendProxy>> = {};
  urls = {} as Record<BackendName, string>;
  repo!: TestRepository;
  secretsDir!: string;
  stateDir!: string;
  readonly label: string;

  constructor(label: string) {
    this.label = label;
  }

  async setUp(backends: 'closed ports' | { emulators: Record<BackendName, RunningEmulator>; echo: boolean }, options: { restCredentials?: boolean } = {}): Promise<void> {
    this.repo = await TestRepository.create();
    // The commit before the last one has no tina: plan --git-base has a change to show.
    for (const withTina of [false, true]) {
      const files = manifests({ restCredentials: options.restCredentials ?? true, withTina });
      for (const [file, text] of Object.entries(files)) await this.repo.write(`config/${file}`, text);
      await this.repo.commit(withTina ? 'Tina joins' : 'Without tina');
    }
    this.secretsDir = await tempDir('mailops-canary-secrets-');
    for (const [name, key, marker] of FROM_DIR) {
      await mkdir(path.join(this.secretsDir, name), { recursive: true });
      await writeFile(path.join(this.secretsDir, name, key), `${marker.value}\n`);
    }
    this.stateDir = await tempDir('mailops-canary-state-');
    if (backends === 'closed ports') {
      for (const name of BACKENDS) this.urls[name] = `http://127.0.0.1:${await freePort()}`;
      return;
    }
    this.emulators = backends.emulators;
    for (const name of BACKENDS) {
      const proxy = await startBackendProxy(backends.emulators[name].url, { echo: backends.echo });
      this.proxies[name] = proxy;
      this.urls[name] = proxy.url;
    }
  }

  async tearDown(): Promise<void> {
    await Promise.all([...Object.values(this.proxies), ...Object.values(this.emulators)].map((s) => s.close()));
  }

  get configDir(): string {
    return path.join(this.repo.dir, 'config');
  }

  backendUrls(): string[] {
    return BACKENDS.flatMap((name) => ['--backend-url', `${name}=${this.urls[name]}`]);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...Object.fromEntries(FROM_ENV.map(([name, key, marker]) => [envName(name, key), marker.value])),
      MAILOPS_FINGERPRINT_KEY: secret.fingerprintEnv.value,
      MAILOPS_STATE_DIR: this.stateDir,
      MAILOPS_LOG_LEVEL: 'debug',
      ...extra,
    };
  }

  /** Runs `mailops <args> -v` with every secret given, records what it printed and fails on a leak in it. */
  async run(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
    const result = await mailops([...args, '-v'], { env: this.env(options.env), cwd: options.cwd ?? ROOT });
    const where = `${this.label}: mailops ${args.filter((a) => !a.startsWith('/') && !a.includes('=http')).join(' ')}`;
    const printed = [{ where: `${where} (stdout)`, text: result.stdout }, { where: `${where} (stderr)`, text: result.stderr }];
    this.surfaces.push(...printed);
    expectNoLeaks(printed);
    return result;
  }

  /** Everything written, logged or served besides what run() checked: the state directory, the emulators' request logs and answers. */
  async leftBehind(): Promise<Surface[]> {
    return [
      ...Object.entries(this.proxies).map(([name, proxy]) => ({ where: `${this.label}: ${name} emulator's answers`, text: proxy.answers() })),
      // The key file is where the fingerprint key belongs (mode 0600); everything else must be free of it.
      ...(await filesUnder(this.stateDir, `${this.label}: state dir`, ['fingerprint.key'])),
      ...Object.entries(this.emulators).map(([name, emulator]) => ({
        where: `${this.label}: ${name} emulator request log`,
        text: emulator.requestLog.map((entry) => `${entry.method} ${entry.path}?${entry.query} ${entry.status}`).join('\n'),
      })),
    ];
  }

  /** The secrets a backend must have been sent, that its proxy never saw. */
  unsent(name: BackendName, which: 'credentials' | 'passwords', except: readonly Canary[] = []): string[] {
    const traffic = this.proxies[name]!.traffic();
    return SENT_TO[name][which].filter((marker) => !except.includes(marker) && !contains(traffic, marker)).map((marker) => marker.kind);
  }

  /** Every output of the scenario searched for the session cookies its backends handed out; how many there were. */
  expectNoSessionLeaks(): number {
    const sessions = Object.entries(this.proxies).flatMap(([name, proxy]) => sessionCanaries(name, proxy.traffic()));
    expectNoLeaks(this.surfaces, sessions);
    return sessions.length;
  }

  /** The backends that were sent none of their credentials (where a run stops at the first refusal or fault). */
  unreached(): BackendName[] {
    return BACKENDS.filter((name) => this.unsent(name, 'credentials').length === SENT_TO[name].credentials.length);
  }
}

function expectNoLeaks(surfaces: readonly Surface[], markers: readonly Canary[] = ALL): void {
  const leaks = findLeaks(markers, surfaces);
  expect(leaks, `secrets leaked:\n${leaks.join('\n')}`).toEqual([]);
}

/** The records' fingerprint of a user, as made with `key`. */
function fingerprint(key: Buffer, address: string, password: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(address).update('\0').update(password).digest('base64url')}`;
}

/**
 * The commands that read manifests and talk to backends, each with -v and debug logs; what each printed.
 * The plans only read, so they run side by side; validate and the offline review contact no backend, so
 * one scenario (`offlineToo`) runs them.
 */
async function runEveryCommand(scenario: Scenario, options: { offlineToo?: boolean } = {}) {
  const f = ['-f', scenario.configDir, ...scenario.backendUrls(), '--secrets-dir', scenario.secretsDir];
  const exported = path.join(await tempDir('mailops-canary-export-'), 'out');
  const inRepo = { cwd: scenario.repo.dir };
  const [plan, planJson, planMarkdown, planGitBase] = await Promise.all([
    scenario.run(['plan', ...f]),
    scenario.run(['plan', ...f, '-o', 'json']),
    scenario.run(['plan', ...f, '-o', 'markdown', '--detailed-exitcode']),
    scenario.run(['plan', ...f, '--git-base', 'HEAD~1'], inRepo),
    ...(options.offlineToo
      ? [scenario.run(['validate', '-f', scenario.configDir]), scenario.run(['plan', ...f, '--git-base', 'HEAD~1', '--offline', '-o', 'markdown'], inRepo)]
      : []),
  ]);
  const results = {
    plan: plan!, planJson: planJson!, planMarkdown: planMarkdown!, planGitBase: planGitBase!,
    dryRun: await scenario.run(['apply', ...f, '--dry-run']),
    applyJson: await scenario.run(['apply', ...f, '-o', 'json']),
    apply: await scenario.run(['apply', ...f]),
    export: await scenario.run(['export', '-f', scenario.configDir, ...scenario.backendUrls(), '--secrets-dir', scenario.secretsDir, '-o', exported]),
  };
  scenario.surfaces.push(...(await filesUnder(exported, `${scenario.label}: export output`)));
  expectNoLeaks(scenario.surfaces);
  return results;
}

describe('the secret canary', () => {
  describe('healthy emulators of all four types', () => {
    const scenario = new Scenario('healthy');
    beforeAll(async () => scenario.setUp({ emulators: await startEmulators(), echo: false }));
    afterAll(() => scenario.tearDown());

    it('runs every command without printing or writing a secret', { timeout: 120_000 }, async () => {
      const results = await runEveryCommand(scenario, { offlineToo: true });
      expect(results.applyJson.code).toBe(0);
      expect(results.export.code).toBe(0);
      expect(results.planGitBase.stdout).toContain('tina@token.example');
      expectNoLeaks(await scenario.leftBehind());
    });

    it('used every secret: the backends were sent each credential and password, the records hold the keyed fingerprints', async () => {
      for (const name of BACKENDS) {
        expect(scenario.unsent(name, 'credentials'), `${name}: credentials never sent`).toEqual([]);
        expect(scenario.unsent(name, 'passwords'), `${name}: passwords never sent`).toEqual([]);
      }
      const records = await readFile(path.join(scenario.stateDir, 'records.json'), 'utf8');
      expect(records).toContain(fingerprint(Buffer.from(secret.fingerprintEnv.value), USERS.alice, secret.alice.value));
    });

    it('prints no session cookie a backend handed out', () => {
      expect(scenario.expectNoSessionLeaks()).toBeGreaterThan(0);
    });

    it('keeps the fingerprint key of a fingerprint.key file out of everything but that file', async () => {
      const stateDir = await tempDir('mailops-canary-state-');
      await writeFile(path.join(stateDir, 'fingerprint.key'), `${Buffer.from(secret.fingerprintFile.value).toString('base64')}\n`, { mode: 0o600 });
      const f = ['-f', scenario.configDir, ...scenario.backendUrls(), '--secrets-dir', scenario.secretsDir, '--state-dir', stateDir];
      const applied = await scenario.run(['apply', ...f], { env: { MAILOPS_FINGERPRINT_KEY: '' } });
      expect(applied.code).toBe(0);
      await scenario.run(['plan', ...f, '-o', 'json'], { env: { MAILOPS_FINGERPRINT_KEY: '' } });
      expectNoLeaks(await filesUnder(stateDir, 'healthy: state dir with fingerprint.key', ['fingerprint.key']));
      const records = await readFile(path.join(stateDir, 'records.json'), 'utf8');
      expect(records).toContain(fingerprint(Buffer.from(secret.fingerprintFile.value), USERS.dave, secret.dave.value));
    });
  });

  describe('emulators that fail half of all requests (mixed faults)', () => {
    const scenario = new Scenario('failing');
    beforeAll(async () => scenario.setUp({ emulators: await startEmulators({ failureRate: 0.5 }), echo: false }));
    afterAll(() => scenario.tearDown());

    it('runs every command without printing or writing a secret', { timeout: 180_000 }, async () => {
      await runEveryCommand(scenario);
      expectNoLeaks(await scenario.leftBehind());
      expect(scenario.unreached()).toEqual([]);
      expect(Object.values(scenario.emulators).reduce((sum, e) => sum + e.stats.faultsInjected, 0)).toBeGreaterThan(10);
    });
  });

  describe('backends that refuse the credentials (401)', () => {
    const scenario = new Scenario('refused');
    beforeAll(async () => scenario.setUp({ emulators: await startEmulators({ wrong: true }), echo: false }));
    afterAll(() => scenario.tearDown());

    it('runs every command without printing or writing a secret', { timeout: 120_000 }, async () => {
      const results = await runEveryCommand(scenario);
      expectNoLeaks(await scenario.leftBehind());
      // Each backend refused the first credentials it was sent.
      expect(scenario.unreached()).toEqual([]);
      expect(results.plan.stderr).toMatch(/backend "james".*401/);
    });
  });

  describe('backends that cannot be reached (closed ports)', () => {
    const scenario = new Scenario('unreachable');
    beforeAll(() => scenario.setUp('closed ports'));

    it('runs every command without printing or writing a secret', { timeout: 120_000 }, async () => {
      const results = await runEveryCommand(scenario);
      expectNoLeaks(await scenario.leftBehind());
      expect(results.apply.code).toBe(1);
      expect(results.apply.stderr).toContain('cannot reach');
    });
  });

  describe('a hostile server that quotes each request, headers and body, in its error answer', () => {
    const scenario = new Scenario('quoting');
    beforeAll(async () => scenario.setUp({ emulators: await startEmulators(), echo: true }));
    afterAll(() => scenario.tearDown());

    it('runs every command without printing or writing a secret it sent', { timeout: 180_000 }, async () => {
      await runEveryCommand(scenario);
      expectNoLeaks(await scenario.leftBehind());
      // The quotes held the secrets: without redaction they would have been printed.
      for (const name of BACKENDS) {
        expect(scenario.proxies[name]!.echoes, name).toBeGreaterThan(0);
        expect(scenario.unsent(name, 'credentials'), `${name}: credentials never sent`).toEqual([]);
      }
      // The quoted requests held the session cookie (iRedAdmin-Pro's) too.
      expect(scenario.expectNoSessionLeaks()).toBeGreaterThan(0);
    });

    it('serves no secret from watch: /status, /metrics, /healthz, /readyz, its log and its state directory', { timeout: 120_000 }, async () => {
      const stateDir = await tempDir('mailops-canary-watch-');
      const proxies = Object.values(scenario.proxies);
      for (const proxy of proxies) proxy.forgetSeen();
      const echoesBefore = proxies.reduce((sum, proxy) => sum + proxy.echoes, 0);
      const watch = await startWatch(
        ['--repo', scenario.repo.dir, '--path', 'config/', '--interval', '1s', '--state-dir', stateDir, '--secrets-dir', scenario.secretsDir, '-v', ...scenario.backendUrls()],
        scenario.env({ MAILOPS_STATE_DIR: stateDir }),
      );
      try {
        // A run that met quoted errors, then one that converged: both kinds of status are served.
        await watch.until('two runs', (status) => status.runs.length >= 2, 60_000);
        const served: Surface[] = [];
        for (const endpoint of ['/status', '/metrics', '/healthz', '/readyz']) {
          served.push({ where: `watch ${endpoint}`, text: await (await fetch(`${watch.url}${endpoint}`)).text() });
        }
        expectNoLeaks(served);
        expect(proxies.reduce((sum, proxy) => sum + proxy.echoes, 0)).toBeGreaterThan(echoesBefore);
      } finally {
        await watch.stop();
      }
      expectNoLeaks([{ where: 'watch log (stderr)', text: watch.log() }, ...(await filesUnder(stateDir, 'watch state dir', ['fingerprint.key']))]);
    });
  });

  describe('mailops emulate, one process per backend type, taking the canaries as admin passwords', () => {
    const scenario = new Scenario('emulate');
    const processes: Array<{ name: BackendName; child: ChildProcess; output: () => string }> = [];

    beforeAll(async () => {
      const start = async (name: BackendName, args: string[]) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'mailops.js'), 'emulate', ...args, '-v'], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MAILOPS_LOG_LEVEL: 'debug' },
        });
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
        processes.push({ name, child, output: () => output });
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout!.on('data', () => {
            const line = /^\S+ (http:\/\/\S+)$/m.exec(output);
            if (line) resolve(line[1]!);
          });
          child.once('exit', (code) => reject(new Error(`mailops emulate ${args[0]} exited (${code}): ${output}`)));
        });
        return { url, requestLog: [], stats: { requests: 0, faultsInjected: 0 }, backend: name, close: async () => {}, setFaults: () => {} } as RunningEmulator;
      };
      const emulators = {
        james: await start('james', ['james', '--password', secret.jamesPassword.value]),
        'james-jwt': await start('james-jwt', ['james', '--password', secret.jamesToken.value]),
        iredadmin: await start('iredadmin', ['iredadmin', '--user', 'postmaster@example.org', '--password', secret.iredadmin.value]),
        archive: await start('archive', ['mailstore', '--password', secret.mailstore.value]),
        openxchange: await start('openxchange', ['openxchange', '--user', 'oxadminmaster', '--password', secret.oxMaster.value]),
      };
      // `mailops emulate openxchange` has no REST login of its own: the master's serves (no restCredentials).
      await scenario.setUp({ emulators, echo: false }, { restCredentials: false });
    });
    afterAll(async () => {
      await scenario.tearDown();
      for (const { child } of processes) {
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
        await waitExit(child, 5_000);
      }
    });

    it('prints no secret, in its output or in answers, while it serves a whole run', { timeout: 120_000 }, async () => {
      const f = ['-f', scenario.configDir, ...scenario.backendUrls(), '--secrets-dir', scenario.secretsDir];
      expect((await scenario.run(['apply', ...f])).code).toBe(0);
      expect((await scenario.run(['plan', ...f, '--detailed-exitcode'])).code).toBe(0);
      for (const { child } of processes) child.kill('SIGTERM');
      for (const { child } of processes) await waitExit(child, 10_000);
      expectNoLeaks(processes.map(({ name, output }) => ({ where: `mailops emulate (${name}) stdout and stderr`, text: output() })));
      // What the emulators answered went through the proxies; the answers are searched too (a 401 that quotes a header).
      expectNoLeaks(await scenario.leftBehind());
      for (const name of BACKENDS) expect(scenario.unsent(name, 'credentials', [secret.oxRest]), `${name}: credentials never sent`).toEqual([]);
    });
  });

  describe('the commands that read no backend', () => {
    it('demo, help and validate print no secret', { timeout: 60_000 }, async () => {
      const scenario = new Scenario('offline');
      await scenario.setUp('closed ports');
      expect((await scenario.run(['demo'])).code).toBe(0);
      for (const command of ['plan', 'apply', 'export', 'emulate', 'watch', 'validate']) await scenario.run([command, '--help']);
      // A broken manifest quotes its line: a secret-looking value is no secret (secrets are never in manifests), but the error path runs.
      await writeFile(path.join(scenario.configDir, 'broken.yaml'), 'apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: x}\nspec: {address: nope}\n');
      expect((await scenario.run(['plan', '-f', scenario.configDir, '--secrets-dir', scenario.secretsDir])).code).toBe(1);
    });
  });
});
