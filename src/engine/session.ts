// One run of the engine over a configuration: resolve secrets, connect to every backend, observe,
// plan, and apply. The CLI (plan, apply, demo) and later the watcher and the controller drive the
// same session; only how they present the results differs.
import { createAdapter, type BackendCredentials } from '../backends/registry.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { BackendDecl, Config } from '../model/config.ts';
import { buildPlan, type Observation, type Plan } from '../plan/index.ts';
import type { SecretResolver } from '../secrets/file-secrets.ts';
import { fingerprinter } from '../state/fingerprint.ts';
import { backendKey, type RecordStore } from '../state/records.ts';
import type { BackendAdapter } from './adapter.ts';
import { applyPlan, type ApplyOptions, type ApplyReport } from './apply.ts';
import { observeBackends, type Connections } from './observe.ts';
import { resolveSecrets, type ResolvedSecrets } from './prepare.ts';

export type AdapterFactory = (backend: BackendDecl, credentials: BackendCredentials, log: Logger) => BackendAdapter;

export interface SessionOptions {
  config: Config;
  secrets: SecretResolver;
  records: RecordStore;
  fingerprintKey: Buffer;
  log?: Logger;
  allowMassDeletion?: boolean;
  adapterFactory?: AdapterFactory;
}

export class Session {
  readonly config: Config;
  readonly #options: SessionOptions;
  readonly #secrets: ResolvedSecrets;
  readonly #connections: Map<string, BackendAdapter | Error>;
  #lastObservations = new Map<string, Observation>();

  private constructor(options: SessionOptions, secrets: ResolvedSecrets, connections: Map<string, BackendAdapter | Error>) {
    this.config = options.config;
    this.#options = options;
    this.#secrets = secrets;
    this.#connections = connections;
  }

  /** Throws InvalidConfigError when a secret is missing: then nothing is applied anywhere. */
  static async open(options: SessionOptions): Promise<Session> {
    const secrets = await resolveSecrets(options.config, options.secrets, fingerprinter(options.fingerprintKey));
    const factory = options.adapterFactory ?? createAdapter;
    const connections = new Map<string, BackendAdapter | Error>();
    for (const backend of options.config.backends) {
      try {
        connections.set(backend.id, factory(backend, secrets.credentials.get(backend.id) ?? {}, options.log ?? silentLogger));
      } catch (error) {
        connections.set(backend.id, error instanceof Error ? error : new Error(String(error)));
      }
    }
    return new Session(options, secrets, connections);
  }

  get connections(): Connections {
    return this.#connections;
  }

  /** Observes every backend (in bulk, concurrently) and plans the changes. */
  async plan(): Promise<Plan> {
    this.#lastObservations = await observeBackends(this.config, this.#connections);
    const backends = new Map(this.config.backends.map((b) => [b.id, b]));
    return buildPlan({
      config: this.config,
      observations: this.#lastObservations,
      records: (id) => {
        const backend = backends.get(id)!;
        return this.#options.records.recordsFor(backendKey(backend.id, backend.url));
      },
      passwords: this.#secrets.passwords,
      allowMassDeletion: this.#options.allowMassDeletion ?? false,
    });
  }

  async apply(plan: Plan, options: Omit<ApplyOptions, 'backends' | 'records'> = {}): Promise<ApplyReport> {
    if (plan.backends.some((b) => b.refusals.length > 0)) {
      throw new Error('the plan was refused by a safety valve; nothing was applied');
    }
    return applyPlan(plan, this.#connections, {
      ...options,
      backends: new Map(this.config.backends.map((b) => [b.id, b])),
      records: this.#options.records,
    });
  }

  async close(): Promise<void> {
    await this.#options.records.flush();
    await Promise.all([...this.#connections.values()].map((c) => (c instanceof Error ? undefined : c.close())));
  }
}
