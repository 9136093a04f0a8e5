// Drives the engine as the CLI does, but in-process: configuration from YAML, secrets from a map,
// records in memory (shared across runs when the test passes the same store).
import { Session } from '../../src/engine/session.ts';
import { createAdapter } from '../../src/backends/registry.ts';
import type { AdapterFactory } from '../../src/engine/adapter.ts';
import type { ApplyReport } from '../../src/engine/engine.ts';
import type { SecretRef } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import type { Plan } from '../../src/plan/index.ts';
import type { SecretResolver } from '../../src/secrets/file-secrets.ts';
import { SecretNotFound } from '../../src/secrets/file-secrets.ts';
import { MemoryRecordStore, type RecordStore } from '../../src/state/records.ts';
import { backend, configFrom } from './manifests.ts';

export const FINGERPRINT_KEY = Buffer.from('contract tests');

export class MapSecrets implements SecretResolver {
  readonly values: Map<string, string>;
  constructor(values: Record<string, string>) {
    this.values = new Map(Object.entries(values));
  }
  async resolve(ref: SecretRef): Promise<Sensitive> {
    const value = this.values.get(ref.name);
    if (value === undefined) throw new SecretNotFound(`secret ${ref.name}/${ref.key} not found`);
    return new Sensitive(value);
  }
}

/** A MailBackend manifest for a James target, authenticating with its token. */
export function jamesBackend(url: string, name = 'james', limits = ''): string {
  return backend(name, url, `  credentials:\n    tokenSecretRef: {name: ${name}-admin, key: token}\n${limits}`);
}

export interface RunResult {
  plan: Plan;
  report: ApplyReport | null;
  after: Plan;
}

export interface SessionTestOptions {
  allowMassDeletion?: boolean;
  adapterFactory?: AdapterFactory;
}

export async function openSession(yaml: string, secrets: Record<string, string>, records: RecordStore = new MemoryRecordStore(), options: SessionTestOptions = {}): Promise<Session> {
  return Session.resolveAndOpen({ config: configFrom(yaml), resolver: new MapSecrets(secrets), records, fingerprintKey: FINGERPRINT_KEY, adapterFactory: createAdapter, ...options });
}

/** plan → apply → plan again, as `mailops apply` followed by `mailops plan` would. */
export async function converge(yaml: string, secrets: Record<string, string>, records: RecordStore = new MemoryRecordStore(), options: SessionTestOptions = {}): Promise<RunResult> {
  const session = await openSession(yaml, secrets, records, options);
  try {
    const plan = await session.plan();
    const report = await session.apply(plan);
    const failures = report.results.filter((r) => r.outcome !== 'applied');
    if (failures.length > 0) throw new Error(`apply failed: ${failures.map((f) => `${f.change.id}: ${f.error}`).join('; ')}`);
    const after = await session.plan();
    return { plan, report, after };
  } finally {
    await session.close();
  }
}
