// The one way to run a backend emulator: listening (loopback only unless told otherwise), latency, injected
// faults, a request log, the `<backend> <url>` ready line and a clean shutdown. A backend plugs in with an
// EmulatorBackend: a request handler plus the 5xx body in that backend's own error shape.
//
// Faults never corrupt state behind the client's back: a `status` or `reset` fault never reaches the backend's
// handler, and a `lost` or `slow` one runs it fully before the connection is dropped or the answer held back.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Halt } from './answers.ts';
import { createFaultPlan, DEFAULT_FAULT_DELAY_MS, type Fault, type FailureMode, type FaultOptions, type FaultTarget } from './faults.ts';

export type { FailureMode, Fault, FaultOptions, FaultTarget } from './faults.ts';

export interface EmulatorOptions {
  /** "host:port" or "port"; default "127.0.0.1:0" (a free port). */
  listen?: string;
  /** Listening on anything but a loopback address is refused unless this is true. */
  allowNonLoopback?: boolean;
  /** Fixed delay, in milliseconds, added before every response (faults included). */
  latencyMs?: number;
  /** 0..1: the share of requests that fail. */
  failureRate?: number;
  /**
   * `status`: a 5xx in the backend's error shape; `reset`: dropped before the handler; `lost`: dropped after it;
   * `slow`: answered after it, but only after `faultDelayMs` (or never, when the client gives up first).
   */
  failureMode?: FailureMode;
  /** How long a `slow` fault holds the answer back. Default 120 s: past any client's time limit. */
  faultDelayMs?: number;
  /** Makes the fault sequence deterministic (for tests). */
  seed?: number;
  /** Serve HTTPS with this PEM key and certificate (chain), as a server with a private CA does. */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface EmulatorRequest {
  readonly method: string;
  /** The path as sent: still percent-encoded, without the query string. */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The client's IP address as the socket sees it (`127.0.0.1`, IPv4-mapped forms unwrapped), for allow-lists. */
  readonly remoteAddress: string;
  readonly body: Buffer;
  /** Aborted when the client goes away or the emulator closes; long polls listen to it. */
  readonly signal: AbortSignal;
}

export interface EmulatorResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

export interface EmulatorBackend {
  /** The name in the ready line, e.g. `james`. */
  readonly name: string;
  /**
   * Answers one request. Not called for `status` and `reset` faults. A Halt thrown from inside answers with its
   * response; any other error with serverError.
   */
  handle(request: EmulatorRequest): EmulatorResponse | Promise<EmulatorResponse>;
  /** This backend's own answer to an internal error (used for `status` faults and handler crashes). */
  serverError(message: string): EmulatorResponse;
  /** Stops the backend's timers; called once by close(). */
  close?(): void;
}

export interface RequestLogEntry {
  readonly method: string;
  /** Raw path, without the query string. */
  readonly path: string;
  /** Raw query string without the `?`, '' if none. */
  readonly query: string;
  /** The status sent; 0 when the connection was dropped (a `reset` or `lost` fault, or the client went away). */
  readonly status: number;
  /** The injected fault, or null for a request the backend answered. */
  readonly fault: Fault;
  /** The SOAP action (`urn:create`), where the request named one: the operation of a SOAP call. */
  readonly action?: string;
}

export interface EmulatorStats {
  readonly requests: number;
  readonly faultsInjected: number;
}

export interface RunningEmulator {
  readonly backend: string;
  /** e.g. `http://127.0.0.1:41234`, no trailing slash. */
  readonly url: string;
  readonly stats: EmulatorStats;
  /** Every request, in the order they were answered. */
  readonly requestLog: readonly RequestLogEntry[];
  /** From the next request on, fails requests this way (`{}`: none); a test turns faults on and off with it. */
  setFaults(options: FaultOptions & Pick<EmulatorOptions, 'faultDelayMs'>): void;
  /** Stops listening, drops every connection (keep-alive and long polls included) and stops the backend. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** "127.0.0.1:8080", "[::1]:0", "localhost:9000" or just "8080" (on 127.0.0.1). */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65_535) {
    throw new RangeError(`invalid listen address "${listen}": expected host:port, such as 127.0.0.1:8080`);
  }
  const host = match[1] || match[2] || '127.0.0.1';
  return { host, port };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new RangeError('request body too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, answer: EmulatorResponse): void {
  if (response.destroyed) return;
  const body = answer.body ?? '';
  response.writeHead(answer.status, {
    ...answer.headers,
    'content-length': String(Buffer.byteLength(body)),
  });
  response.end(body);
}

export async function startEmulator(backend: EmulatorBackend, options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:0');
  if (!isLoopbackHost(host) && options.allowNonLoopback !== true) {
    throw new Error(`refusing to listen on ${host}: not a loopback address (set allowNonLoopback to listen there)`);
  }
  const latencyMs = options.latencyMs ?? 0;
  if (!(latencyMs >= 0)) throw new RangeError(`latencyMs must be zero or more, got ${latencyMs}`);
  let nextFault = createFaultPlan(options);
  let faultDelayMs = options.faultDelayMs ?? DEFAULT_FAULT_DELAY_MS;

  const stats = { requests: 0, faultsInjected: 0 };
  const requestLog: RequestLogEntry[] = [];
  const closing = new AbortController();

  async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    stats.requests += 1;
    const target = new URL(request.url ?? '/', 'http://emulator');
    const rawPath = (request.url ?? '/').split('?')[0] ?? '/';
    const query = target.search.slice(1);
    const method = request.method ?? 'GET';
    const soapAction = request.headers['soapaction'];
    const action = typeof soapAction === 'string' && soapAction !== '' ? soapAction.replace(/^"|"$/g, '') : undefined;
    const faultTarget: FaultTarget = { method, path: rawPath, ...(action !== undefined ? { action } : {}) };
    const log = (status: number, fault: Fault): void => {
      requestLog.push({ method, path: rawPath, query, status, fault, ...(action !== undefined ? { action } : {}) });
    };
    const gone = new AbortController();
    response.on('close', () => gone.abort());
    const signal = AbortSignal.any([closing.signal, gone.signal]);

    let body: Buffer;
    try {
      body = await readBody(request);
      if (latencyMs > 0) await sleep(latencyMs, undefined, { signal });
    } catch {
      log(0, null);
      request.socket.destroy();
      return;
    }

    const fault = nextFault(faultTarget);
    if (fault !== null) stats.faultsInjected += 1;
    const drop = (): void => {
      log(0, fault);
      request.socket.resetAndDestroy();
    };
    if (fault === 'reset') return drop();
    let reply: EmulatorResponse;
    if (fault === 'status') {
      reply = backend.serverError('fault injected by the emulator');
    } else {
      try {
        const remoteAddress = (request.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
        reply = await backend.handle({ method, rawPath, query: target.searchParams, headers: request.headers, remoteAddress, body, signal });
      } catch (error) {
        reply = error instanceof Halt ? error.response : backend.serverError(error instanceof Error ? error.message : String(error));
      }
    }
    if (fault === 'lost') return drop();
    if (fault === 'slow') {
      // Held until the delay passes or the client gives up (its time limit closes the connection).
      await sleep(faultDelayMs, undefined, { signal }).catch(() => undefined);
    }
    log(response.destroyed ? 0 : reply.status, fault);
    send(response, reply);
  }

  const handler = (request: IncomingMessage, response: ServerResponse): void => void answer(request, response);
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    backend: backend.name,
    url: `${options.tls ? 'https' : 'http'}://${urlHost}:${address.port}`,
    stats,
    requestLog,
    setFaults(faults) {
      nextFault = createFaultPlan(faults);
      faultDelayMs = faults.faultDelayMs ?? options.faultDelayMs ?? DEFAULT_FAULT_DELAY_MS;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort();
        backend.close?.();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/**
 * The parts of a running emulator a backend's emulator passes on as they are, to spread into its own (which adds
 * its state view and test hooks). The stats and the request log are live: they are the same objects.
 */
export function runningParts(emulator: RunningEmulator): RunningEmulator {
  return {
    backend: emulator.backend,
    url: emulator.url,
    stats: emulator.stats,
    requestLog: emulator.requestLog,
    setFaults: (faults) => emulator.setFaults(faults),
    close: () => emulator.close(),
  };
}

export interface RunUntilSignalOptions {
  /** Where the ready line goes; default process.stdout. */
  stdout?: { write(line: string): unknown };
  /** Default SIGINT and SIGTERM. */
  signals?: readonly NodeJS.Signals[];
}

/**
 * For the CLI: prints exactly one line, `<backend> <url>`, then keeps the emulator up until SIGINT or SIGTERM,
 * closes it and leaves exit code 0. The returned promise settles once the emulator is closed.
 */
export function runUntilSignal(emulator: RunningEmulator, options: RunUntilSignalOptions = {}): Promise<void> {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  (options.stdout ?? process.stdout).write(`${emulator.backend} ${emulator.url}\n`);
  return new Promise<void>((resolve, reject) => {
    const stop = (): void => {
      for (const signal of signals) process.off(signal, stop);
      emulator.close().then(() => {
        process.exitCode = 0;
        resolve();
      }, reject);
    };
    for (const signal of signals) process.on(signal, stop);
  });
}
