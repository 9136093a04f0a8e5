// Long polls on a lane of their own, calls that can be stopped, and a request count that shows
// what reached the server.
import { getEventListeners } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { defaultClassifier, formBody, type HttpRequest } from '../../../src/backends/http/index.ts';
import { capturedLog, fakeLogin, iredadminStyle, mailstoreStyle, useFakeBackends } from '../../support/fake-backend.ts';

const backends = useFakeBackends();

/** MailStore's `get-status`: held by the server until the status moves past `known` or `holdMs` passes. */
const statusPoll = (token: string, known: number, holdMs: number, signal?: AbortSignal): HttpRequest => ({
  method: 'POST',
  path: '/api/get-status',
  body: formBody({ token, lastKnownStatusVersion: known, millisecondsTimeout: holdMs }),
  idempotent: true,
  longPoll: { holdMs },
  ...(signal ? { signal } : {}),
});

describe('long polls', () => {
  it('do not take the slots of ordinary requests', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, mailstoreStyle, { concurrency: 1 });
    const started = await http.call({ method: 'POST', path: '/api/invoke/VerifyStore' });
    expect(started).toMatchObject({ statusCode: 'running', token: 't1' });
    const poll = http.call(statusPoll('t1', started.statusVersion, 20_000));
    await fake.reached('/api/get-status');
    const first = await Promise.race([
      http.call({ method: 'POST', path: '/api/invoke/GetServerInfo' }).then(() => 'ordinary call'),
      poll.then(() => 'long poll'),
    ]);
    expect(first).toBe('ordinary call');
    expect(fake.heldPolls).toBe(1);
    fake.finishTask('t1');
    expect(await poll).toMatchObject({ statusCode: 'succeeded', statusVersion: 2 });
  });

  it('do not spend the rate budget of ordinary requests', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, mailstoreStyle, { requestsPerSecond: 1 });
    const token = fake.startTask();
    const poll = http.call(statusPoll(token, 1, 20_000));
    await fake.reached('/api/get-status');
    const started = performance.now();
    await http.call({ method: 'POST', path: '/api/invoke/GetServerInfo' });
    expect(performance.now() - started).toBeLessThan(500); // a shared budget of 1/s would hold it to the next second
    fake.finishTask(token);
    await poll;
  });

  it('may take the server’s hold time plus the time limit, where an ordinary request may not', async () => {
    const { url } = await backends.start();
    // undici checks these limits on a timer with about half a second of resolution: whole seconds here.
    const http = backends.client(url, defaultClassifier, { timeoutMs: 1_000, retries: 0 });
    const slow: HttpRequest = { method: 'GET', path: '/hold', query: { ms: 2_000 } };
    await expect(http.call(slow)).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('no answer within the time limit') });
    expect(JSON.parse((await http.call({ ...slow, longPoll: { holdMs: 1_500 } })).text)).toEqual({ held: true });
  });
});

describe('abort signals', () => {
  it('an aborted call stops retrying at once', async () => {
    const { fake, url } = await backends.start({ flakyFailures: 100 });
    const http = backends.client(url, defaultClassifier, { retries: 5, retryMinDelayMs: 20_000, retryMaxDelayMs: 30_000 });
    const stop = new AbortController();
    const call = http.call({ method: 'GET', path: '/flaky', signal: stop.signal });
    await fake.reached('/flaky');
    const aborted = performance.now();
    stop.abort();
    await expect(call).rejects.toMatchObject({ kind: 'Aborted', message: 'GET /flaky: cancelled' });
    expect(performance.now() - aborted).toBeLessThan(1_000);
    expect(fake.hits('/flaky')).toBe(1);
    expect(http.requestCount).toBe(1);
  });

  it('an aborted long poll closes its connection', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, mailstoreStyle);
    const token = fake.startTask();
    const stop = new AbortController();
    const poll = http.call(statusPoll(token, 1, 20_000, stop.signal));
    await fake.reached('/api/get-status');
    stop.abort(new Error('the deadline passed'));
    await expect(poll).rejects.toMatchObject({ kind: 'Aborted', message: 'POST /api/get-status: cancelled: the deadline passed' });
    await expect.poll(() => fake.heldPolls).toBe(0); // the server saw the client go away
  });

  it('a call waiting for a slot is dropped without reaching the server; close() stops the rest', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, defaultClassifier, { concurrency: 1 });
    const held = http.call({ method: 'GET', path: '/hold', query: { ms: 60_000 } });
    await fake.reached('/hold');
    const stop = new AbortController();
    const queued = http.call({ method: 'GET', path: '/flaky', signal: stop.signal });
    stop.abort();
    await expect(queued).rejects.toMatchObject({ kind: 'Aborted' });
    expect(fake.hits('/flaky')).toBe(0);
    const heldFails = expect(held).rejects.toMatchObject({ kind: 'Aborted', message: 'GET /hold: cancelled: the client was closed' });
    await http.close();
    await heldFails;
  });

  it('calls that share one long-lived signal (a whole apply) leave no listener on it when they end', async () => {
    const { url } = await backends.start({ flakyFailures: 1 });
    const http = backends.client(url, defaultClassifier, { retries: 1, retryMinDelayMs: 1, concurrency: 4 });
    const run = new AbortController();
    await Promise.all(Array.from({ length: 40 }, () => http.call({ method: 'GET', path: '/flaky', signal: run.signal })));
    expect(http.requestCount).toBe(41); // one failed attempt, retried
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
  });

  it('a call with an already aborted signal sends nothing, not even a login', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    await expect(http.call({ method: 'GET', path: '/api/users', signal: AbortSignal.abort() })).rejects.toMatchObject({ kind: 'Aborted' });
    expect(fake.hits('/api/login')).toBe(0);
    expect(http.requestCount).toBe(0);
  });
});

describe('request count', () => {
  it('an unreachable backend counts no requests (and a request never sent is tried again, even a POST)', async () => {
    const port = await closedPort();
    const { log, text: logged } = capturedLog();
    const http = backends.client(`http://127.0.0.1:${port}`, defaultClassifier, { retries: 2, log });
    await expect(http.call({ method: 'POST', path: '/users' })).rejects.toMatchObject({
      kind: 'Unavailable',
      message: `cannot reach http://127.0.0.1:${port}: connection refused`,
    });
    expect(logged().match(/"msg":"request failed"/g)).toHaveLength(3);
    expect(http.requestCount).toBe(0);
  });

  it('every attempt that reached the server counts, retries included', async () => {
    const { fake, url, emulator } = await backends.start({ flakyFailures: 2 });
    const http = backends.client(url, defaultClassifier, { retries: 2 });
    await http.call({ method: 'GET', path: '/flaky' });
    expect(fake.hits('/flaky')).toBe(3);
    expect(http.requestCount).toBe(3);
    expect(emulator.stats.requests).toBe(3);
  });

  it('a request the server dropped after receiving it counts', async () => {
    const { url, emulator } = await backends.start({}, { failureRate: 1, failureMode: 'reset' });
    const http = backends.client(url, defaultClassifier, { retries: 2 });
    await expect(http.call({ method: 'GET', path: '/flaky' })).rejects.toMatchObject({ kind: 'Unavailable', message: expect.stringContaining('connection closed by the server') });
    expect(emulator.stats.requests).toBe(3);
    expect(http.requestCount).toBe(3);
  });
});

/** A local port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
