// One pass over a whole configuration — observe every backend, plan, apply — as `mailops plan`,
// `mailops apply` and the demo make it. A thin front door over the Engine: the long-lived ones
// (controller, watcher) call the Engine directly, per object.
import { InvalidConfigError } from '../model/errors.ts';
import type { Config } from '../model/config.ts';
import type { Plan } from '../plan/index.ts';
import type { SecretResolver } from '../secrets/file-secrets.ts';
import { fingerprinter } from '../state/fingerprint.ts';
import { Engine, type ApplyOptions, type ApplyReport, type EngineOptions } from './engine.ts';
import { resolveSecrets, type ResolvedSecrets } from './secrets.ts';

export interface SessionOptions extends EngineOptions {
  config: Config;
  /** Resolved by the caller; the CLI refuses to run when any failed (all or nothing). */
  secrets: ResolvedSecrets;
  allowMassDeletion?: boolean;
}

export class Session {
  readonly config: Config;
  readonly engine: Engine;
  readonly #secrets: ResolvedSecrets;
  readonly #allowMassDeletion: boolean;

  private constructor(options: SessionOptions, engine: Engine) {
    this.config = options.config;
    this.engine = engine;
    this.#secrets = options.secrets;
    this.#allowMassDeletion = options.allowMassDeletion ?? false;
  }

  /**
   * Reads every secret the configuration names first. One pass is all or nothing: a secret that
   * cannot be read is a configuration error (with where it is referenced) and nothing runs.
   */
  static async resolveAndOpen(options: Omit<SessionOptions, 'secrets'> & { resolver: SecretResolver }): Promise<Session> {
    const secrets = await resolveSecrets(options.config, options.resolver, fingerprinter(options.fingerprintKey));
    if (secrets.failures.length > 0) throw new InvalidConfigError(secrets.failures);
    return Session.open({ ...options, secrets });
  }

  static async open(options: SessionOptions): Promise<Session> {
    const engine = new Engine(options);
    await engine.connect(options.config.backends, options.secrets.credentials);
    return new Session(options, engine);
  }

  /** Observes every backend (in bulk, concurrently) and plans the changes. */
  async plan(): Promise<Plan> {
    await this.engine.observeAll(this.config);
    return this.engine.plan({ config: this.config, passwords: this.#secrets.passwords, allowMassDeletion: this.#allowMassDeletion });
  }

  /** Applies the plan; checkpoints that no longer match anything planned are forgotten. */
  async apply(plan: Plan, options: ApplyOptions = {}): Promise<ApplyReport> {
    const report = await this.engine.apply(plan, options);
    await this.engine.forgetStaleOperations(plan);
    return report;
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
