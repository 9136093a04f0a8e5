// What the backend scenarios (async-tasks, fan-out) share: a configuration written to a file and loaded as
// `mailops apply -f` loads it, a session on it with secrets from a table, and a timed plan + apply.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createAdapter } from '../../src/backends/registry.ts';
import type { ChangeResult } from '../../src/engine/apply.ts';
import type { ApplyReport } from '../../src/engine/engine.ts';
import { Session } from '../../src/engine/session.ts';
import { loadConfigFromPaths } from '../../src/load/index.ts';
import type { SecretRef } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import { hasChanges, summarize } from '../../src/plan/index.ts';
import { MemoryRecordStore } from '../../src/state/records.ts';

/** Secrets by name; a name not in the table is a user's password, invented from the name. */
function tableSecrets(table: Record<string, string> = {}) {
  return { resolve: async (ref: SecretRef) => new Sensitive(table[ref.name] ?? `bench-password-${ref.name}`) };
}

export async function openSession(dir: string, name: string, yaml: string, secrets: Record<string, string> = {}): Promise<Session> {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const config = await loadConfigFromPaths([file]);
  return Session.resolveAndOpen({ config, resolver: tableSecrets(secrets), records: new MemoryRecordStore(), fingerprintKey: randomBytes(32), adapterFactory: createAdapter });
}

export interface TimedApply {
  /** From the start of apply to its end (the plan before it is not timed). */
  applyMs: number;
  changes: number;
  report: ApplyReport;
  /** Per backend name: when its last change ended, in ms from the start of apply. */
  lastResultMs: Map<string, number>;
}

/**
 * Plans an empty-to-full apply, applies it (`during` brackets the apply alone) and checks that every change was
 * applied and (unless `verify` is false: a second observation of a large MailStore costs as much as the apply)
 * that a new plan finds nothing left to do.
 */
export async function planAndApply(session: Session, what: string, during: { start?(): void; stop?(): void } = {}, options: { verify?: boolean } = {}): Promise<TimedApply> {
  const plan = await session.plan();
  const failed = plan.backends.filter((b) => b.error);
  if (failed.length > 0) throw new Error(`${what}: observing failed: ${failed.map((b) => `${b.backendName}: ${b.error}`).join('; ')}`);
  const planned = summarize(plan);
  const lastResultMs = new Map<string, number>();
  during.start?.();
  const started = performance.now();
  const report = await session.apply(plan, { onResult: (r: ChangeResult) => lastResultMs.set(r.backendName, performance.now() - started) }).finally(() => during.stop?.());
  const applyMs = performance.now() - started;
  const bad = report.results.filter((r) => r.outcome !== 'applied');
  if (bad.length > 0) throw new Error(`${what}: ${bad.length} changes not applied, e.g. ${bad[0]!.backendName}: ${bad[0]!.error ?? bad[0]!.outcome}`);
  if (options.verify ?? true) {
    const again = await session.plan();
    if (hasChanges(again)) throw new Error(`${what}: the plan after apply still has changes`);
  }
  return { applyMs, changes: planned.create + planned.update + planned.delete, report, lastResultMs };
}
