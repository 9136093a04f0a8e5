// One run of the engine over a configuration: resolve secrets, connect to every backend, observe,
// plan, and apply. The CLI (plan, apply, demo) and later the watcher and the controller drive the
// same session; only how they present the results differs.
import { createAdapter, type BackendCredentials } from '../backends/registry.ts';
import { silentLogger, type Logger } from '../log.ts';
import { objectKey, type BackendDecl, type Config } from '../model/config.ts';
import type { AppliedRecord } from '../plan/state.ts';
import { buildPlan, type Observation, type Plan } from '../plan/index.ts';
import type { SecretResolver } from '../secrets/file-secrets.ts';
import { fingerprinter } from '../state/fingerprint.ts';
import { backendKey, type RecordStore } from '../state/records.ts';
import type { BackendAdapter } from './adapter.ts';
import { applyPlan, type ApplyOptions, type ApplyReport } from './apply.ts';
import { observeBackends } from './observe.ts';
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
  readonly #verified = new Map<string, Map<string, AppliedRecord>>();

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

  /** Observes every backend (in bulk, concurrently) and plans the changes. */
  async plan(): Promise<Plan> {
    const observations = await observeBackends(this.config, this.#connections);
    await Promise.all(this.config.backends.map((backend) => this.#verifyUnrecordedPasswords(backend, observations.get(backend.id))));
    return buildPlan({
      config: this.config,
      observations,
      records: (id) => this.#recordsFor(id),
      passwords: this.#secrets.passwords,
      allowMassDeletion: this.#options.allowMassDeletion ?? false,
    });
  }

  #recordsFor(backendId: string): ReadonlyMap<string, AppliedRecord> {
    const backend = this.#backend(backendId);
    const stored = this.#options.records.recordsFor(backendKey(backend.id, backend.url));
    const verified = this.#verified.get(backendId);
    return verified ? new Map([...stored, ...verified]) : stored;
  }

  /**
   * Users that exist on the backend but that mailops has no record of (a fresh checkout, a CI
   * runner): where the backend can check a password, ask it instead of planning a reset. Once
   * recorded, a user costs no request here again, so steady-state plans stay at list calls only.
   */
  async #verifyUnrecordedPasswords(backend: BackendDecl, observation: Observation | undefined): Promise<void> {
    const adapter = this.#connections.get(backend.id);
    if (!observation?.state || !adapter || adapter instanceof Error || !adapter.verifyPassword) return;
    const stored = this.#options.records.recordsFor(backendKey(backend.id, backend.url));
    const verified = new Map<string, AppliedRecord>();
    const before = adapter.requestCount;
    await Promise.all(
      this.config.users
        .filter((user) => user.backendIds.includes(backend.id) && observation.state!.users.has(user.address))
        // A record with another address means an address change in progress: that one is kept.
        .filter((user) => !stored.has(objectKey(user.ref)))
        .map(async (user) => {
          const password = this.#secrets.passwords.get(objectKey(user.ref))!;
          try {
            if (await adapter.verifyPassword!(user.address, password.secret)) {
              verified.set(objectKey(user.ref), { address: user.address, passwordFingerprint: password.fingerprint });
            }
          } catch {
            // Not knowing is fine: the plan then sets the password once.
          }
        }),
    );
    observation.requests += adapter.requestCount - before;
    this.#verified.set(backend.id, verified);
  }

  #backend(id: string): BackendDecl {
    return this.config.backends.find((b) => b.id === id)!;
  }

  async apply(plan: Plan, options: Omit<ApplyOptions, 'backends' | 'records'> = {}): Promise<ApplyReport> {
    if (plan.backends.some((b) => b.refusals.length > 0)) {
      throw new Error('the plan was refused by a safety valve; nothing was applied');
    }
    // What the backends confirmed during planning is knowledge worth keeping.
    for (const [backendId, verified] of this.#verified) {
      const backend = this.#backend(backendId);
      for (const [key, record] of verified) this.#options.records.set(backendKey(backend.id, backend.url), key, record);
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
