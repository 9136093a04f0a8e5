// The watcher's Prometheus metrics (prom-client), beside the backend metrics the controller has
// too. Labels carry results, backend names, actions and commit ids: never an address or a secret.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BackendMetrics } from '../serve/backend-metrics.ts';

export class WatchMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({ name: 'mailops_watcher_runs_total', help: 'Runs, by result (Applied, Progressing, Failed, Refused, Invalid, FetchFailed, StateLocked).', labelNames: ['result'], registers: [this.registry] });
  readonly runDuration = new Histogram({
    name: 'mailops_watcher_run_duration_seconds',
    help: 'How long one run (fetch, and observe, plan and apply where due) took.',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly fetches = new Counter({ name: 'mailops_watcher_fetches_total', help: 'git fetches of the repository, by result (ok, error).', labelNames: ['result'], registers: [this.registry] });
  readonly changes = new Counter({ name: 'mailops_watcher_changes_total', help: 'Changes applied to backends, by backend, action and outcome.', labelNames: ['backend', 'action', 'outcome'], registers: [this.registry] });
  readonly revision = new Gauge({ name: 'mailops_watcher_revision_info', help: 'The commits the watcher knows, by role (applied, attempted, fetched, inForce); always 1.', labelNames: ['role', 'revision'], registers: [this.registry] });
  readonly lastApplied = new Gauge({ name: 'mailops_watcher_last_applied_timestamp_seconds', help: 'When a commit last converged on every backend (Unix time).', registers: [this.registry] });
  readonly ready = new Gauge({ name: 'mailops_watcher_ready', help: '1 while the newest commit is applied and the backends converged.', registers: [this.registry] });
  readonly suspended = new Gauge({ name: 'mailops_watcher_suspended', help: '1 while the watcher is suspended.', registers: [this.registry] });
  readonly backend = new BackendMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  revisions(roles: Record<string, string | undefined>): void {
    this.revision.reset();
    for (const [role, revision] of Object.entries(roles)) if (revision) this.revision.set({ role, revision }, 1);
  }
}
