// The controller's Prometheus metrics (prom-client). Labels carry backend names, operations
// (method and route, with addresses and ids taken out), kinds and outcomes: never an address, a
// password or a token. The endpoints are in serve/http.ts, the backend metrics in
// serve/backend-metrics.ts (the watcher has them too).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BackendMetrics } from '../serve/backend-metrics.ts';

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
  readonly backend = new BackendMetrics(this.registry);
  readonly objects = new Gauge({ name: 'mailops_objects', help: 'mailops objects by kind and Ready condition.', labelNames: ['kind', 'ready'], registers: [this.registry] });
  readonly apiWrites = new Counter({ name: 'mailops_apiserver_writes_total', help: 'Writes to the Kubernetes API server, by what was written.', labelNames: ['what'], registers: [this.registry] });
  readonly watchUp = new Gauge({ name: 'mailops_watch_up', help: '1 while the watch of a resource is healthy.', labelNames: ['resource'], registers: [this.registry] });
  readonly leader = new Gauge({ name: 'mailops_leader', help: '1 while this replica leads.', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
