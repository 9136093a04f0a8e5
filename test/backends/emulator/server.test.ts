import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { halt } from '../../../src/backends/emulator/answers.ts';
import { parseDuration } from '../../../src/backends/emulator/duration.ts';
import { createFaultPlan, seededRandom } from '../../../src/backends/emulator/faults.ts';
import { ActionParameters, createActionTable, readForm } from '../../../src/backends/emulator/actions.ts';
import { createRouteDispatcher, createRouter, decodePath, routeTable, type RouteHandler } from '../../../src/backends/emulator/router.ts';
import { createMeteredStore } from '../../../src/backends/emulator/store.ts';
import {
  parseListen,
  startEmulator,
  type EmulatorBackend,
  type EmulatorOptions,
  type EmulatorRequest,
  type RunningEmulator,
} from '../../../src/backends/emulator/server.ts';

/** A backend that counts what reaches it: `/wait` holds until the request is aborted, anything else echoes. */
function countingBackend(): EmulatorBackend & { handled: number } {
  const backend = {
    name: 'fake',
    handled: 0,
    async handle(req: EmulatorRequest) {
      backend.handled += 1;
      if (req.rawPath === '/wait') {
        await once(req.signal, 'abort');
        return { status: 200 };
      }
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: `${req.method} ${req.rawPath} ${req.body.toString()}` };
    },
    serverError: (message: string) => ({ status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ oops: message }) }),
  };
  return backend;
}

const running: RunningEmulator[] = [];
async function start(options: EmulatorOptions = {}, backend = countingBackend()) {
  const emulator = await startEmulator(backend, options);
  running.push(emulator);
  return { emulator, backend };
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((emulator) => emulator.close()));
});

describe('emulator framework', () => {
  it('listens on a free loopback port and hands requests to the backend', async () => {
    const { emulator, backend } = await start();
    expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(emulator.backend).toBe('fake');
    const response = await fetch(`${emulator.url}/hello?x=1`, { method: 'PUT', body: 'data' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('PUT /hello data');
    expect(backend.handled).toBe(1);
    expect(emulator.requestLog).toEqual([{ method: 'PUT', path: '/hello', query: 'x=1', status: 200, fault: null }]);
    expect(emulator.stats).toEqual({ requests: 1, faultsInjected: 0 });
  });

  it('refuses to listen on a non-loopback address unless told to', async () => {
    await expect(startEmulator(countingBackend(), { listen: '0.0.0.0:0' })).rejects.toThrow(/not a loopback address/);
  });

  it('parses listen addresses', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(() => parseListen('localhost')).toThrow(/invalid listen address/);
  });

  it('adds the configured latency before every response', async () => {
    const { emulator } = await start({ latencyMs: 120 });
    const started = performance.now();
    await (await fetch(`${emulator.url}/a`)).text();
    await (await fetch(`${emulator.url}/b`)).text();
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * 120 - 5);
  });

  it('fails about the configured share of requests, the same ones again for the same seed', async () => {
    const faultsOf = async (seed: number) => {
      const { emulator } = await start({ failureRate: 0.25, seed });
      for (let i = 0; i < 200; i += 1) await (await fetch(`${emulator.url}/n${i}`)).text();
      return emulator.requestLog.map((entry) => entry.fault);
    };
    const first = await faultsOf(7);
    const share = first.filter((fault) => fault !== null).length / first.length;
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.33);
    expect(await faultsOf(7)).toEqual(first);
    expect(await faultsOf(8)).not.toEqual(first);
  });

  it("answers a status fault with the backend's own 5xx and never runs the handler", async () => {
    const { emulator, backend } = await start({ failureRate: 1, failureMode: 'status' });
    const response = await fetch(`${emulator.url}/change`, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ oops: 'fault injected by the emulator' });
    expect(backend.handled).toBe(0);
    expect(emulator.stats).toEqual({ requests: 1, faultsInjected: 1 });
    expect(emulator.requestLog[0]).toMatchObject({ status: 500, fault: 'status' });
  });

  it('drops the connection for a reset fault, so the client sees a socket error', async () => {
    const { emulator, backend } = await start({ failureRate: 1, failureMode: 'reset' });
    const error: unknown = await request(`${emulator.url}/change`, { method: 'PUT', body: 'x' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toMatch(/^(ECONNRESET|UND_ERR_SOCKET)$/);
    expect(backend.handled).toBe(0);
    expect(emulator.requestLog[0]).toMatchObject({ method: 'PUT', path: '/change', status: 0, fault: 'reset' });
  });

  it('runs the handler and then drops the connection for a lost fault: the write happened, the answer did not', async () => {
    const { emulator, backend } = await start({ failureRate: 1, failureMode: 'lost' });
    const error: unknown = await request(`${emulator.url}/change`, { method: 'PUT', body: 'x' }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect((error as { code?: string }).code).toMatch(/^(ECONNRESET|UND_ERR_SOCKET)$/);
    expect(backend.handled).toBe(1);
    expect(emulator.requestLog).toEqual([{ method: 'PUT', path: '/change', query: '', status: 0, fault: 'lost' }]);
  });

  it('answers a Halt thrown by the handler with its response', async () => {
    const backend = {
      name: 'halting',
      handle: (): never => halt({ status: 418, body: 'teapot' }),
      serverError: () => ({ status: 500 }),
    };
    const { emulator } = await start({}, { ...backend, handled: 0 });
    const response = await fetch(`${emulator.url}/x`);
    expect([response.status, await response.text()]).toEqual([418, 'teapot']);
  });

  it('runs the handler and holds the answer back for a slow fault, until the client gives up', async () => {
    const { emulator, backend } = await start({ failureRate: 1, failureMode: 'slow', faultDelayMs: 60_000 });
    const started = performance.now();
    const error: unknown = await request(`${emulator.url}/change`, { method: 'PUT', body: 'x', headersTimeout: 300 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect((error as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(backend.handled).toBe(1);
    // The emulator lets go of the request once the client has (no 60 s hold left behind).
    await vi.waitFor(() => expect(emulator.requestLog).toEqual([{ method: 'PUT', path: '/change', query: '', status: 0, fault: 'slow' }]));
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('answers a slow fault once its delay has passed, when the client waits that long', async () => {
    const { emulator, backend } = await start({ failureRate: 1, failureMode: 'slow', faultDelayMs: 150 });
    const started = performance.now();
    const response = await fetch(`${emulator.url}/change`, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    expect(backend.handled).toBe(1);
    expect(emulator.requestLog[0]).toMatchObject({ status: 200, fault: 'slow' });
  });

  it('turns faults on and off while running, aimed at the requests a rule picks and at most so many', async () => {
    const { emulator, backend } = await start({});
    emulator.setFaults({ failureRate: 1, failureMode: 'status', only: (r) => r.method === 'POST' && r.path === '/create', maxFaults: 1 });
    const statuses = [];
    for (const [method, path] of [['GET', '/read'], ['POST', '/create'], ['POST', '/create']] as const) {
      statuses.push((await fetch(`${emulator.url}${path}`, { method, body: method === 'POST' ? 'x' : null })).status);
    }
    expect(statuses).toEqual([200, 500, 200]);
    emulator.setFaults({});
    expect((await fetch(`${emulator.url}/create`, { method: 'POST', body: 'x' })).status).toBe(200);
    expect(emulator.stats).toEqual({ requests: 4, faultsInjected: 1 });
    expect(backend.handled).toBe(3);
  });

  it('logs the SOAP action of a request that names one, and a rule can aim at it', async () => {
    const { emulator } = await start({});
    emulator.setFaults({ failureRate: 1, failureMode: 'status', only: (r) => r.action === 'urn:create' });
    const call = (action: string) => fetch(`${emulator.url}/webservices/OXUserService`, { method: 'POST', headers: { soapaction: `"${action}"` }, body: '<x/>' });
    expect([(await call('urn:listAll')).status, (await call('urn:create')).status]).toEqual([200, 500]);
    expect(emulator.requestLog.map((entry) => [entry.action, entry.fault])).toEqual([['urn:listAll', null], ['urn:create', 'status']]);
  });

  it('mixes the four kinds of faults in mixed mode', () => {
    const next = createFaultPlan({ failureRate: 1, failureMode: 'mixed', seed: 1 });
    const faults = new Set(Array.from({ length: 50 }, () => next()));
    expect(faults).toEqual(new Set(['status', 'reset', 'lost', 'slow']));
    expect(() => createFaultPlan({ failureMode: 'flaky' as 'status' })).toThrow(/one of status, reset, lost, slow, mixed/);
    expect(() => createFaultPlan({ failureRate: 2 })).toThrow(/between 0 and 1/);
    const random = seededRandom(3);
    const again = seededRandom(3);
    expect([random(), random()]).toEqual([again(), again()]);
  });

  it('closes promptly with an idle keep-alive connection and a pending long poll', async () => {
    const { emulator } = await start();
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    try {
      const first = await request(`${emulator.url}/warm`, { dispatcher: agent });
      await first.body.text();
      const longPoll = request(`${emulator.url}/wait`, { dispatcher: agent }).then(
        async (response) => response.body.text(),
        (error: unknown) => error,
      );
      await expect.poll(() => emulator.stats.requests).toBe(2);
      const started = performance.now();
      await emulator.close();
      expect(performance.now() - started).toBeLessThan(1_000);
      await longPoll;
    } finally {
      await agent.close();
    }
  });

  it('prints one ready line for the CLI and exits 0 on SIGINT', async () => {
    const serverModule = fileURLToPath(new URL('../../../src/backends/emulator/server.ts', import.meta.url));
    const script = `
      const { startEmulator, runUntilSignal } = await import(${JSON.stringify(serverModule)});
      const emulator = await startEmulator({
        name: 'fake',
        handle: () => ({ status: 200, body: 'up' }),
        serverError: () => ({ status: 500 }),
      });
      await runUntilSignal(emulator);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout });
    reader.on('line', (line) => lines.push(line));
    const [readyLine] = (await once(reader, 'line')) as [string];
    expect(readyLine).toMatch(/^fake http:\/\/127\.0\.0\.1:\d+$/);
    const url = readyLine.split(' ')[1] ?? '';
    expect(await (await fetch(url, { headers: { connection: 'keep-alive' } })).text()).toBe('up');
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(lines).toEqual([readyLine]);
  });
});

describe('durations', () => {
  it('reads milliseconds, seconds and the other James units', () => {
    expect(parseDuration('20ms')).toBe(20);
    expect(parseDuration('1s')).toBe(1_000);
    expect(parseDuration(' 30 seconds ')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('5', 's')).toBe(5_000);
  });

  it('refuses what it cannot read, saying why', () => {
    expect(() => parseDuration('fast')).toThrow(/expected a whole number/);
    expect(() => parseDuration('-5s')).toThrow(/expected a whole number/);
    expect(() => parseDuration('5 lightyears')).toThrow(/unknown unit "lightyears"/);
  });
});

describe('route table', () => {
  const route = createRouter([
    { method: 'GET', path: '/quota/users', handler: 'search' },
    { method: 'GET', path: '/quota/:field(count|size)', handler: 'field' },
    { method: 'PUT', path: '/users/:user', handler: 'put user' },
  ]);

  it('matches literals before parameters and honours constrained parameters', () => {
    expect(route('GET', ['quota', 'users'])).toMatchObject({ kind: 'found', handler: 'search' });
    const field = route('GET', ['quota', 'size']);
    expect(field).toMatchObject({ kind: 'found', handler: 'field' });
    expect(field.kind === 'found' && field.params.get('field')).toBe('size');
    expect(route('GET', ['quota', 'domains'])).toEqual({ kind: 'not-found' });
  });

  it('tells a wrong method from an unknown path', () => {
    expect(route('DELETE', ['users', 'bob@example.org'])).toEqual({ kind: 'method-not-allowed', allowed: ['PUT'] });
    expect(route('PUT', ['users', ''])).toEqual({ kind: 'not-found' });
  });

  it('decodes segments, keeps an encoded slash inside its segment and flags bad encoding', () => {
    expect(decodePath('/domains/a%2Fb.org')).toEqual(['domains', 'a/b.org']);
    expect(decodePath('/users/bob%40example.org')).toEqual(['users', 'bob@example.org']);
    expect(decodePath('/domains/%zz')).toBeUndefined();
  });
});

describe('route dispatch', () => {
  const ok = (body: string): RouteHandler => () => ({ status: 200, body });
  const dispatch = createRouteDispatcher(routeTable<RouteHandler>([
    ['GET', '/items/:id', (call) => ({ status: 200, body: `item ${call.param('id')} ${call.query.get('q') ?? ''}` })],
    ['PUT', '/items/:id', ok('put')],
    ['GET', '/private/thing', ok('secret')],
  ]), {
    malformedPath: () => ({ status: 400, body: 'bad path' }),
    notFound: (request) => ({ status: 404, body: `no ${request.method} ${request.rawPath}` }),
    methodNotAllowed: (_, allowed) => ({ status: 405, body: allowed.join(',') }),
    guard: (_, segments) => (segments[0] === 'private' ? { status: 401, body: 'who are you' } : undefined),
    headAsGet: true,
  });
  const answer = async (method: string, rawPath: string, query = '') => {
    const request: EmulatorRequest = {
      method, rawPath, query: new URLSearchParams(query), headers: {}, remoteAddress: '127.0.0.1', body: Buffer.alloc(0), signal: new AbortController().signal,
    };
    const response = await dispatch(request);
    return [response.status, response.body];
  };

  it('hands the handler its path parameters and query; answers HEAD with the GET route', async () => {
    expect(await answer('GET', '/items/a%20b', 'q=1')).toEqual([200, 'item a b 1']);
    expect(await answer('HEAD', '/items/x')).toEqual([200, 'item x ']);
  });

  it('answers a guard refusal, a wrong method, an unknown path and a broken encoding in the backend’s shape', async () => {
    expect(await answer('GET', '/private/thing')).toEqual([401, 'who are you']);
    expect(await answer('DELETE', '/items/x')).toEqual([405, 'GET,PUT']);
    expect(await answer('GET', '/nothing')).toEqual([404, 'no GET /nothing']);
    expect(await answer('GET', '/items/%zz')).toEqual([400, 'bad path']);
  });
});

describe('action tables and form parameters', () => {
  const refuse = (message: string): never => {
    throw new Error(message);
  };
  const form = (text: string) => new ActionParameters(readForm({ body: Buffer.from(text) } as EmulatorRequest), refuse);

  it('finds actions by name, optionally ignoring case, and lists them as declared', () => {
    const exact = createActionTable({ GetUsers: 1, CreateUser: 2 });
    expect([exact.find('GetUsers'), exact.find('getusers'), exact.names]).toEqual([1, undefined, ['GetUsers', 'CreateUser']]);
    expect(createActionTable({ GetUsers: 1 }, { ignoreCase: true }).find('getusers')).toBe(1);
  });

  it('reads UTF-8 form fields, comma lists and lowercase booleans, refusing what is missing or malformed', () => {
    const params = form('\uFEFFuserName=J%C3%BCrgen&privileges=admin%2C+login,&enabled=true&bad=yes');
    expect(params.required('userName')).toBe('Jürgen');
    expect(params.list('privileges')).toEqual(['admin', 'login']);
    expect(params.list('absent')).toEqual([]);
    expect([params.flag('enabled'), params.flag('absent'), params.optional('absent')]).toEqual([true, undefined, undefined]);
    expect(() => params.flag('bad')).toThrow("parameter 'bad' must be true or false, got 'yes'");
    expect(() => params.required('password')).toThrow("parameter 'password' is missing");
  });
});

describe('metered store', () => {
  it('charges a collection its size when iterated, never for lookups, and keeps an index key only while it has values', () => {
    const store = createMeteredStore();
    const users = store.map<string, number>();
    users.set('a', 1).set('b', 2);
    users.get('a');
    expect(store.meter.visited).toBe(0);
    expect([...users.keys()]).toEqual(['a', 'b']);
    expect(store.meter.visited).toBe(2);
    const byDomain = store.index<string, string>();
    byDomain.add('example.org', 'a');
    byDomain.add('example.org', 'b');
    byDomain.delete('example.org', 'a');
    expect([...byDomain.get('example.org')]).toEqual(['b']);
    byDomain.delete('example.org', 'b');
    expect([...byDomain.keys()]).toEqual([]);
    expect([...byDomain.get('example.org')]).toEqual([]);
  });
});
