// Prometheus metrics (prom-client) and the health endpoints. Labels carry backend names,
// operations (method and route, with addresses and ids taken out), kinds and outcomes: never an
// address, a password or a token.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'mailops_reconcile_total', help: 'Reconciles, by result (success, error, requeue).', labelNames: ['result'], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'mailops_reconcile_duration_seconds',
    help: 'How long one reconcile (a batch of objects on their backends) took.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly reconcileObjects = new Histogram({ name: 'mailops_reconcile_objects', help: 'Objects looked at per reconcile.', buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000], registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'mailops_workqueue_depth', help: 'Objects waiting to be reconciled.', registers: [this.registry] });
  readonly backendRequests = new Counter({
    name: 'mailops_backend_requests_total',
    help: 'HTTP requests sent to backends, by backend, operation and answer (HTTP status, or "network").',
    labelNames: ['backend', 'operation', 'code'],
    registers: [this.registry],
  });
  readonly backendLatency = new Histogram({
    name: 'mailops_backend_request_duration_seconds',
    help: 'Backend request latency, by backend and operation.',
    labelNames: ['backend', 'operation'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly backendErrors = new Counter({
    name: 'mailops_backend_errors_total',
    help: 'Changes or observations that failed on a backend, by backend, operation and error kind.',
    labelNames: ['backend', 'operation', 'kind'],
    registers: [this.registry],
  });
  readonly objects = new Gauge({ name: 'mailops_objects', help: 'mailops objects by kind and Ready condition.', labelNames: ['kind', 'ready'], registers: [this.registry] });
  readonly apiWrites = new Counter({ name: 'mailops_apiserver_writes_total', help: 'Writes to the Kubernetes API server, by what was written.', labelNames: ['what'], registers: [this.registry] });
  readonly watchUp = new Gauge({ name: 'mailops_watch_up', help: '1 while the watch of a resource is healthy.', labelNames: ['resource'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'mailops_leader', help: '1 while this replica leads.', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

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
  /** Ready: every watch is up and the caches are synced. */
  ready(): { ok: boolean; detail: string };
}

export async function listen(address: { host: string; port: number }, handler: Parameters<typeof createServer>[1]): Promise<Server & { url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return Object.assign(server, { url: `http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}` });
}

export function metricsHandler(metrics: ControllerMetrics): Parameters<typeof createServer>[1] {
  return (request, response) => {
    if (request.url !== '/metrics') return void response.writeHead(404).end('not found\n');
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: Error) => response.writeHead(500).end(`${error.message}\n`),
    );
  };
}

export function probesHandler(probes: Probes): Parameters<typeof createServer>[1] {
  return (request, response) => {
    if (request.url === '/healthz') return void response.writeHead(probes.healthy() ? 200 : 500).end(probes.healthy() ? 'ok\n' : 'unhealthy\n');
    if (request.url === '/readyz') {
      const { ok, detail } = probes.ready();
      return void response.writeHead(ok ? 200 : 503).end(`${detail}\n`);
    }
    response.writeHead(404).end('not found\n');
  };
}
