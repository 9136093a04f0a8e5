// Starts a real Apache James (james-server-memory-app 3.8.1) for the test suite.
//
// The server's classpath is fetched once from Maven Central with `mvn` and cached outside the repository in
// ${XDG_CACHE_HOME:-~/.cache}/mailops/james-3.8.1/lib. Every start gets a fresh working directory under the OS
// tmpdir with its own configuration, WebAdmin port and RSA key pair (JWT on by default). WebAdmin listens on
// 127.0.0.1 only; no SMTP/IMAP/POP3/LMTP server is configured, so none starts.
//
// The server never outlives the test run (processes.ts).

import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import { freePort, startServerProcess, tail } from './processes.ts';

export const JAMES_VERSION = '3.8.1';
const JAMES_MAIN = 'org.apache.james.MemoryJamesServerMain';
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 5_000;
const DOWNLOAD_LOCK_TIMEOUT_MS = 20 * 60_000;

export type RealJames = {
  /** WebAdmin base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** RS256 JWT with {"sub":"admin@mailops.test","admin":true}; absent when started with `jwt: false`. */
  token?: string;
  workDir: string;
  /** James's stdout, stderr and logback output (root level WARN). Removed by `stop()` with the working dir. */
  logFile: string;
  stop(): Promise<void>;
};

export type StartRealJamesOptions = { jwt?: boolean };

// ---------------------------------------------------------------------------------------------------------------
// Classpath: download once, cache by version.

function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache');
  return join(base, 'mailops', `james-${JAMES_VERSION}`);
}

const POM = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Throw-away project used by mailops's test harness to fetch the James memory server's classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mailops.test</groupId>
  <artifactId>james-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.james</groupId>
      <artifactId>james-server-memory-app</artifactId>
      <version>${JAMES_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Exclusive lock by atomic mkdir; a lock left by a dead process is taken over. */
async function withLock<T>(lockDir: string, markerFile: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + DOWNLOAD_LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (existsSync(markerFile)) return fn(); // someone else finished meanwhile; fn re-checks the marker
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
    } catch {
      // the owner may not have written its pid yet
    }
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
      rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`real James: timed out waiting for the download lock ${lockDir}`);
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string, logPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logPath, 'w');
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.once('error', (err) => reject(new Error(`real James: cannot run ${cmd}: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`real James: \`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`}):\n${tail(logPath, 40)}`));
    });
  });
}

/** Returns the folder with James's jars, downloading them with Maven on first use. */
export async function ensureJamesClasspath(): Promise<string> {
  const root = cacheRoot();
  const lib = join(root, 'lib');
  const marker = join(lib, '.complete');
  if (existsSync(marker)) return lib;
  mkdirSync(root, { recursive: true });
  return withLock(join(root, '.lock'), marker, async () => {
    if (existsSync(marker)) return lib;
    const staging = join(root, 'lib.partial');
    rmSync(staging, { recursive: true, force: true });
    writeFileSync(join(root, 'pom.xml'), POM);
    const mvn = process.env.MAILOPS_MVN ?? 'mvn';
    await run(
      mvn,
      ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
      root,
      join(root, 'mvn.log'),
    );
    const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
    if (!jars.some((f) => f.startsWith('james-server-memory-app-'))) {
      throw new Error(`real James: Maven finished but ${staging} has no james-server-memory-app jar (${jars.length} jars)`);
    }
    rmSync(lib, { recursive: true, force: true });
    renameSync(staging, lib);
    writeFileSync(marker, `${jars.length} jars, ${new Date().toISOString()}\n`);
    return lib;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Working directory and configuration.

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function writeConfig(workDir: string, port: number, jwt: boolean, logFile: string): void {
  const conf = join(workDir, 'conf');
  mkdirSync(conf, { recursive: true });
  writeFileSync(
    join(conf, 'webadmin.properties'),
    [
      'enabled=true',
      `port=${port}`,
      'host=127.0.0.1',
      'https.enabled=false',
      `jwt.enabled=${jwt}`,
      ...(jwt ? ['jwt.publickeypem.url=file://conf/jwt_publickey'] : []),
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(conf, 'domainlist.xml'),
    `<?xml version="1.0"?>
<domainlist>
  <autodetect>false</autodetect>
  <autodetectIP>false</autodetectIP>
  <defaultDomain>localhost</defaultDomain>
</domainlist>
`,
  );
  writeFileSync(
    join(conf, 'usersrepository.xml'),
    `<?xml version="1.0"?>
<usersrepository name="LocalUsers">
  <enableVirtualHosting>true</enableVirtualHosting>
</usersrepository>
`,
  );
  writeFileSync(join(conf, 'jmx.properties'), 'jmx.enabled=false\n');
  writeFileSync(
    join(conf, 'logback.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${xmlEscape(logFile)}</file>
    <append>true</append>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="FILE"/></root>
</configuration>
`,
  );
}

async function makeJwt(workDir: string): Promise<string> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(workDir, 'conf', 'jwt_publickey'), publicKey.export({ type: 'spki', format: 'pem' }));
  return new SignJWT({ admin: true }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setSubject('admin@mailops.test').sign(privateKey);
}

// ---------------------------------------------------------------------------------------------------------------
// Process lifecycle: see processes.ts.

export async function startRealJames(opts: StartRealJamesOptions = {}): Promise<RealJames> {
  const jwt = opts.jwt ?? true;
  const lib = await ensureJamesClasspath();
  const workDir = mkdtempSync(join(tmpdir(), 'mailops-james-'));
  const logFile = join(workDir, 'james.log');
  let port: number;
  let token: string | undefined;
  try {
    port = await freePort();
    writeConfig(workDir, port, jwt, logFile);
    token = jwt ? await makeJwt(workDir) : undefined;
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;

  const java = process.env.MAILOPS_JAVA !== undefined && process.env.MAILOPS_JAVA !== '' ? process.env.MAILOPS_JAVA : 'java';
  const server = startServerProcess(
    java,
    [
      '-Xmx512m',
      `-Dworking.directory=${workDir}`,
      `-Dlogback.configurationFile=${join(workDir, 'conf', 'logback.xml')}`,
      '-cp',
      join(lib, '*'),
      JAMES_MAIN,
    ],
    { cwd: workDir, logFile, workDir, graceMs: STOP_GRACE_MS },
  );
  const stop = server.stop;

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const exited = server.ended();
    if (exited !== undefined) {
      const why = exited.startsWith('could not run') ? exited : `exited early (${exited})`;
      const log = tail(logFile, 60);
      await stop();
      throw new Error(`real James ${why}; James log (last 60 lines):\n${log}`);
    }
    try {
      const res = await fetch(`${url}/healthcheck`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const log = tail(logFile, 60);
      await stop();
      throw new Error(`real James did not answer 200 on ${url}/healthcheck within ${START_TIMEOUT_MS / 1000} s; James log (last 60 lines):\n${log}`);
    }
    await sleep(250);
  }

  return token !== undefined ? { url, token, workDir, logFile, stop } : { url, workDir, logFile, stop };
}
