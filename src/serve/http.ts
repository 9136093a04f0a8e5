// The small HTTP endpoints of the long-lived front doors (the controller, the watcher): where they
// listen, /metrics in Prometheus's text format, and the /healthz and /readyz probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type RequestHandler = NonNullable<Parameters<typeof createServer>[1]>;

/** `HOST:PORT`, `:PORT` (every interface, as in a pod) or `0` (off). */
export function parseBindAddress(text: string, flag: string): { host: string; port: number } | undefined {
  if (text === '0') return undefined;
  const match = /^(.*):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new Error(`${flag} ${text}: give HOST:PORT, :PORT, or 0 to turn it off`);
  return { host: match[1] === '' ? '0.0.0.0' : match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export interface Probes {
  /** Alive: the process works (its loop is not stuck). */
  healthy(): boolean;
  /** Ready: it does what it is there for (the controller: every watch is up and the caches are synced). */
  ready(): { ok: boolean; detail: string };
}

export async function listen(address: { host: string; port: number }, handler: RequestHandler): Promise<Server & { url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return Object.assign(server, { url: `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}` });
}

export function metricsHandler(metrics: { registry: Registry }): RequestHandler {
  return (request, response) => {
    if (request.url !== '/metrics') return void response.writeHead(404).end('not found\n');
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(`${error.message}\n`),
    );
  };
}

export function probesHandler(probes: Probes): RequestHandler {
  return (request, response) => {
    if (request.url === '/healthz') return void response.writeHead(probes.healthy() ? 200 : 500).end(probes.healthy() ? 'ok\n' : 'unhealthy\n');
    if (request.url === '/readyz') {
      const { ok, detail } = probes.ready();
      return void response.writeHead(ok ? 200 : 503).end(`${detail}\n`);
    }
    response.writeHead(404).end('not found\n');
  };
}
