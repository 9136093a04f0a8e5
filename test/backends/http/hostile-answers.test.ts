// Answers a broken or hostile server gives: malformed JSON and XML, a flood of bytes, a body that
// never ends, headers and bodies dribbled a byte at a time. Each ends in a typed BackendError
// within the time limit, and nothing is buffered past the size limit.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient, defaultClassifier, type AnswerClassifier, type HttpRequest } from '../../../src/backends/http/index.ts';
import { MAX_RESPONSE_BYTES } from '../../../src/backends/http/lanes.ts';
import { oxSoapAnswer } from '../../../src/backends/openxchange/soap.ts';
import { iredadminStyle } from '../../support/fake-backend.ts';

type Route = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

interface HostileServer {
  url: string;
  /** Body bytes the server managed to write before the client hung up. */
  bytesWritten: () => number;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

/** A server with one hostile route; it stops writing when the client goes away. */
async function hostileServer(route: Route): Promise<HostileServer> {
  let written = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const write = response.write.bind(response);
    response.write = ((chunk: string | Buffer, ...rest: never[]) => {
      written += Buffer.byteLength(chunk);
      return write(chunk, ...rest);
    }) as typeof response.write;
    void Promise.resolve(route(request, response)).catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bytesWritten: () => written };
}

function client<V>(url: string, classify: AnswerClassifier<V>, options: { timeoutMs?: number; maxResponseBytes?: number } = {}): HttpClient<V> {
  const http = new HttpClient<V>({ backend: 'hostile', baseUrl: url, concurrency: 2, requestsPerSecond: 1000, timeoutMs: options.timeoutMs ?? 2_000, retries: 0, classify, ...(options.maxResponseBytes ? { maxResponseBytes: options.maxResponseBytes } : {}) });
  open.push(() => http.close());
  return http;
}

/** The call's error and how long it took to come. */
async function failure(call: Promise<unknown>): Promise<{ error: { name: string; kind: string; message: string }; ms: number }> {
  const started = performance.now();
  try {
    await call;
  } catch (error) {
    return { error: error as { name: string; kind: string; message: string }, ms: performance.now() - started };
  }
  throw new Error('expected the call to fail');
}

/** Writes `total` bytes in chunks as fast as the client reads them; stops when the client hangs up. */
async function flood(response: ServerResponse, total: number, headers: Record<string, string | number> = {}): Promise<void> {
  response.writeHead(200, { 'content-type': 'application/json', ...headers });
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  for (let sent = 0; sent < total && !response.destroyed; sent += chunk.length) {
    if (!response.write(chunk)) await drainedOrClosed(response);
  }
  response.end();
}

function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/** Writes one byte every `everyMs` until the client hangs up. */
async function dribble(response: ServerResponse, text: string, everyMs: number): Promise<void> {
  for (const char of text) {
    if (response.destroyed) return;
    response.write(char);
    await sleep(everyMs);
  }
  response.end();
}

const get: HttpRequest = { method: 'GET', path: '/users' };
const soapCall: HttpRequest = { method: 'POST', path: '/webservices/OXUserService', body: { type: 'raw', contentType: 'text/xml', text: '<getData/>' } };

describe('malformed answers', () => {
  it('a body that is not JSON is a Protocol error naming the call', async () => {
    const server = await hostileServer((_request, response) => void response.writeHead(200, { 'content-type': 'application/json' }).end('{"_success": true, "_data": [ "amy@exa'));
    const { error } = await failure(client(server.url, iredadminStyle).call(get));
    expect(error).toMatchObject({ name: 'BackendError', kind: 'Protocol', message: expect.stringContaining('GET /users: the answer is not JSON') });
  });

  it('malformed XML, and XML asking for external entities, are Protocol errors, not crashes', async () => {
    const answers = [
      '<?xml version="1.0"?><soapenv:Envelope><soapenv:Body><getResponse><return>',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Envelope><Body><getResponse><return>&xxe;</return></getResponse></Body></Envelope>',
    ];
    for (const answer of answers) {
      const server = await hostileServer((_request, response) => void response.writeHead(200, { 'content-type': 'text/xml' }).end(answer));
      const { error } = await failure(client(server.url, oxSoapAnswer).call(soapCall));
      expect(error).toMatchObject({ name: 'BackendError', kind: 'Protocol', message: expect.stringContaining('the answer is not a SOAP envelope') });
    }
  });

  it('an XML entity bomb is not expanded', async () => {
    let entities = '<!ENTITY a0 "lollollollollollollollollollol">';
    for (let i = 1; i < 10; i++) entities += `<!ENTITY a${i} "${`&a${i - 1};`.repeat(10)}">`;
    const bomb = `<?xml version="1.0"?><!DOCTYPE lolz [${entities}]><Envelope><Body><getResponse><return>&a9;</return></getResponse></Body></Envelope>`;
    const server = await hostileServer((_request, response) => void response.writeHead(200, { 'content-type': 'text/xml' }).end(bomb));
    const body = await client(server.url, oxSoapAnswer).call(soapCall);
    expect(JSON.stringify(body).length).toBeLessThan(10_000); // 10^9 "lol"s if it were
  });
});

describe('huge answers', () => {
  it(`stops reading at ${MAX_RESPONSE_BYTES / 2 ** 20} MiB of a 200 MB answer and fails with a Protocol error`, async () => {
    const server = await hostileServer((_request, response) => flood(response, 200 * 1024 * 1024));
    const heapBefore = process.memoryUsage().rss;
    const { error, ms } = await failure(client(server.url, defaultClassifier, { timeoutMs: 30_000 }).call(get));
    expect(error).toMatchObject({ name: 'BackendError', kind: 'Protocol', message: 'GET /users: the answer is larger than 64 MiB, the most mailops reads; the connection was closed' });
    // The server was cut off near the limit (socket buffers hold a few MiB more), not at 200 MB.
    expect(server.bytesWritten()).toBeLessThan(MAX_RESPONSE_BYTES + 16 * 1024 * 1024);
    expect(process.memoryUsage().rss - heapBefore).toBeLessThan(2 * MAX_RESPONSE_BYTES + 64 * 1024 * 1024);
    expect(ms).toBeLessThan(30_000);
  }, 60_000);

  it('the limit is set per client: a 1 MiB limit refuses a 5 MiB answer that announces its length', async () => {
    const server = await hostileServer((_request, response) => flood(response, 5 * 1024 * 1024, { 'content-length': 5 * 1024 * 1024 }));
    const { error } = await failure(client(server.url, defaultClassifier, { maxResponseBytes: 1024 * 1024 }).call(get));
    expect(error).toMatchObject({ kind: 'Protocol', message: expect.stringContaining('larger than 1 MiB') });
    expect(server.bytesWritten()).toBeLessThan(5 * 1024 * 1024);
  });

  it('a write answered with a flood is not sent again', async () => {
    let posts = 0;
    const server = await hostileServer((request, response) => {
      posts += request.method === 'POST' ? 1 : 0;
      return flood(response, 4 * 1024 * 1024);
    });
    const http = new HttpClient({ backend: 'hostile', baseUrl: server.url, concurrency: 1, requestsPerSecond: 1000, timeoutMs: 5_000, retries: 3, retryMinDelayMs: 5, classify: defaultClassifier, maxResponseBytes: 1024 * 1024 });
    open.push(() => http.close());
    await expect(http.call({ method: 'POST', path: '/users/amy@example.com' })).rejects.toMatchObject({ kind: 'Protocol' });
    expect(posts).toBe(1);
  });
});

describe('slow answers end within the time limit', () => {
  const limitMs = 2_000;
  // undici's idle timers and the deadline fire on timers of about half a second's resolution.
  const within = limitMs + 1_500;

  it('a chunked body that never ends', async () => {
    const server = await hostileServer(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      while (!response.destroyed) {
        response.write('[1,2,3],');
        await sleep(20);
      }
    });
    const { error, ms } = await failure(client(server.url, defaultClassifier, { timeoutMs: limitMs }).call(get));
    expect(error).toMatchObject({ name: 'BackendError', kind: 'Unavailable', message: expect.stringContaining('no answer within the time limit') });
    expect(ms).toBeGreaterThanOrEqual(limitMs - 100);
    expect(ms).toBeLessThan(within);
  });

  it('headers dribbled a byte every 100 ms', async () => {
    const server = await hostileServer(async (request, response) => {
      // Below node:http, on the socket itself: a status line and headers that never finish.
      const socket = request.socket;
      response.detachSocket?.(socket);
      for (const char of 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ' + 'x'.repeat(1000)) {
        if (socket.destroyed) return;
        socket.write(char);
        await sleep(100);
      }
    });
    const { error, ms } = await failure(client(server.url, defaultClassifier, { timeoutMs: limitMs }).call(get));
    expect(error).toMatchObject({ name: 'BackendError', kind: 'Unavailable', message: expect.stringContaining('no answer within the time limit') });
    expect(ms).toBeLessThan(within);
  });

  it('a body dribbled a byte every 500 ms (slowloris)', async () => {
    const server = await hostileServer(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      await dribble(response, JSON.stringify({ users: 'x'.repeat(980) }), 500);
    });
    const { error, ms } = await failure(client(server.url, defaultClassifier, { timeoutMs: limitMs }).call(get));
    expect(error).toMatchObject({ name: 'BackendError', kind: 'Unavailable', message: expect.stringContaining('no answer within the time limit') });
    expect(ms).toBeLessThan(within);
  });

  it('an answer in time is read whole, even if its bytes come slowly', async () => {
    const server = await hostileServer(async (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      await dribble(response, '[1,2]', 100);
    });
    const answer = await client(server.url, defaultClassifier, { timeoutMs: limitMs }).call(get);
    expect(answer.text).toBe('[1,2]');
  });
});
