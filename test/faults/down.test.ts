// A backend that stays down: nothing listening on its port, or a server that accepts connections and never
// answers. The run must end within the time its limits allow (no hang), name each backend it could not reach, and
// still apply everything else: here one backend of each type is down while a James serving another domain is up.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator } from '../../src/backends/james/emulator.ts';
import { domain, user } from '../support/manifests.ts';
import { BACKENDS, DOMAIN, james, passwordOf, USERS, Workspace } from './support.ts';

/** The limits of support.ts's LIMITS: timeoutSeconds 1, retries 2. */
const TIMEOUT_SECONDS = 1;
const RETRIES = 2;
/** The client's backoff between attempts: 200 ms doubling, up to twice that with jitter. */
const BACKOFF_SECONDS = Array.from({ length: RETRIES }, (_, attempt) => 0.2 * 2 ** attempt * 2).reduce((a, b) => a + b, 0);
/**
 * A backend is given up on at the first request that fails for good: every attempt waits at most the time limit.
 * Twice that (an observation may make a login and a read in turn), plus the process's own start and the up
 * backend's work, bounds the whole run.
 */
const WALL_SECONDS = 2 * (TIMEOUT_SECONDS * (RETRIES + 1) + BACKOFF_SECONDS) + 10;

/** Accepts connections and never answers, as a hung server does. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: one a server had, then closed. */
async function closedPort(): Promise<string> {
  const server = await silentServer();
  await server.close();
  return server.url;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()));
});
afterAll(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()));
});

describe.each([
  ['with nothing listening', closedPort],
  ['that accepts connections and never answers', async () => {
    const server = await silentServer();
    cleanup.push(() => server.close());
    return server.url;
  }],
] as const)('a backend %s', (_, downUrl) => {
  it('ends the run within its time limits, names every backend it could not reach, and applies the rest', async () => {
    const up: JamesEmulator = await startJamesEmulator({});
    cleanup.push(() => up.close());
    const workspace = await Workspace.create();
    const down = await Promise.all(BACKENDS.map(async (target) => ({ name: `down-${target.type}`, target, url: await downUrl() })));
    await workspace.write(
      james.backendManifest(up.url, 'up'),
      ...james.objects(['up']),
      ...down.flatMap(({ name, target, url }) => [
        target.backendManifest(url, name),
        domain(`${name}.example`, '', [name]),
        user(`zoe@${name}.example`, '', `zoe-${name}`),
      ]),
    );

    for (const { name } of down) workspace.env[`MAILOPS_SECRET_ZOE_${name.toUpperCase().replace(/-/g, '_')}_PASSWORD`] = passwordOf('zoe');

    const started = performance.now();
    const result = await workspace.run('apply');
    const seconds = (performance.now() - started) / 1000;
    const output = result.stdout + result.stderr;

    expect(seconds, output).toBeLessThan(WALL_SECONDS);
    expect(result.code, output).toBe(1);
    for (const { name, url } of down) {
      expect(output).toContain(`backend "${name}"`);
      expect(output).toContain(url);
    }
    expect(result.stdout).toContain(`${down.length} backends unreachable`);
    // The backend that is up got all of its changes.
    expect(up.state.users).toEqual(expect.arrayContaining(USERS.map((name) => `${name}@${DOMAIN}`)));
    expect(up.state.mappings[`team@${DOMAIN}`]).toHaveLength(2);
    expect(await james.passwordsWork(up)).toBe(true);
  });
});
