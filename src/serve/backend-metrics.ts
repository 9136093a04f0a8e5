// The backend metrics every long-lived front door exposes, under the same names: requests and
// their latency by backend and operation (method and route, with addresses and ids taken out), and
// failed changes or observations by error kind. Never an address, a password or a token.
import { Counter, Histogram, type Registry } from 'prom-client';
import { createAdapter } from '../backends/registry.ts';
import type { AdapterFactory } from '../engine/adapter.ts';
import type { ChangeResult } from '../engine/apply.ts';
import type { BackendObservation } from '../engine/observe.ts';

export class BackendMetrics {
  readonly requests: Counter;
  readonly latency: Histogram;
  readonly errors: Counter;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'mailops_backend_requests_total',
      help: 'HTTP requests sent to backends, by backend, operation and answer (HTTP status, or "network").',
      labelNames: ['backend', 'operation', 'code'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'mailops_backend_request_duration_seconds',
      help: 'Backend request latency, by backend and operation.',
      labelNames: ['backend', 'operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'mailops_backend_errors_total',
      help: 'Changes or observations that failed on a backend, by backend, operation and error kind.',
      labelNames: ['backend', 'operation', 'kind'],
      registers: [registry],
    });
  }

  /** The backend registry's adapters, each HTTP exchange counted and timed (and `onExchange` told). */
  adapterFactory(onExchange?: () => void): AdapterFactory {
    return (backend, credentials, log) =>
      createAdapter(backend, credentials, log, {
        onExchange: (e) => {
          this.requests.inc({ backend: e.backend, operation: e.operation, code: e.code });
          this.latency.observe({ backend: e.backend, operation: e.operation }, e.seconds);
          onExchange?.();
        },
      });
  }

  /** Counts the observations and changes of one pass that failed. */
  countFailures(observations: ReadonlyMap<string, BackendObservation | undefined>, results: readonly ChangeResult[]): void {
    for (const [id, observation] of observations) {
      if (observation?.failure) this.errors.inc({ backend: id, operation: 'observe', kind: observation.failure.kind });
    }
    for (const result of results) {
      if (result.outcome === 'failed') this.errors.inc({ backend: result.backendId, operation: `${result.change.resource} ${result.change.action}`, kind: result.errorKind ?? 'unknown' });
    }
  }
}
