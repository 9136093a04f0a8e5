// The engine as a library, for every front door: `mailops plan`/`apply` (one pass), the
// Kubernetes controller and `mailops watch` (days at a time). It keeps what is worth keeping
// between passes — backend connections, the last observation of each backend, what backends
// confirmed — and takes what should be true now (the configuration, the secrets) on every call:
//
//   const engine = new Engine({ adapterFactory, records, fingerprintKey });
//   const secrets = await resolveSecrets(config, resolver, engine.fingerprint);
//   await engine.connect(config.backends, secrets.credentials);   // rebuilds only what changed
//   await engine.observeAll(config);                              // once per resync
//   const plan = await engine.plan({ config, passwords: secrets.passwords, owners });
//   const report = await engine.apply(plan);                      // folded into the observation
//   const outcomes = backendOutcomes(ref, servingBackends(config, ref), plan, report.results, (id) => engine.observation(id));
//   const status = objectStatus({ object: ref, backends: outcomes, now: new Date() });
import { silentLogger, type Logger } from '../log.ts';
import { objectKey, type BackendDecl, type Config } from '../model/config.ts';
import type { PasswordsByUser } from '../plan/desired.ts';
import { foldChanges } from '../plan/fold.ts';
import { buildPlan, type Change, type Plan } from '../plan/index.ts';
import type { AppliedRecord } from '../plan/state.ts';
import { fingerprintKeyId, fingerprinter, type Fingerprinter } from '../state/fingerprint.ts';
import { backendKey, type RecordStore } from '../state/records.ts';
import { BackendError, type AdapterFactory, type BackendCredentials, type TaskRef, type TaskStatus } from './adapter.ts';
import { applyBackendChanges, type ChangeResult } from './apply.ts';
import { BackendConnections } from './connections.ts';
import { observeBackend, observeScope, type BackendObservation, type ObserveOptions } from './observe.ts';

export interface EngineOptions {
  /** Builds a backend's adapter; the front door wires the backends in (see backends/registry.ts). */
  adapterFactory: AdapterFactory;
  /** Applied records and operation checkpoints (file mode: the state directory). */
  records: RecordStore;
  /** The key of password fingerprints (see state/fingerprint.ts). */
  fingerprintKey: Buffer;
  log?: Logger;
  /** `block`: wait out backend tasks (the CLI); `poll`: report them pending and resume later (the controller). */
  taskMode?: 'block' | 'poll';
}

export interface PlanRequest {
  config: Config;
  passwords: PasswordsByUser;
  /** Only these objects (objectKeys), with the changes they depend on. */
  owners?: ReadonlySet<string>;
  allowMassDeletion?: boolean;
}

export interface ApplyOptions {
  signal?: AbortSignal;
  onResult?: (result: ChangeResult) => void;
  onTaskProgress?: (backendName: string, task: TaskRef, status: TaskStatus) => void;
}

export interface ApplyReport {
  results: ChangeResult[];
  /** HTTP requests sent while applying, per backend id. */
  requests: Map<string, number>;
}

export class Engine {
  readonly fingerprint: Fingerprinter;
  readonly #options: EngineOptions;
  readonly #connections: BackendConnections;
  readonly #backends = new Map<string, BackendDecl>();
  readonly #observations = new Map<string, BackendObservation>();
  /**
   * Passwords known for users mailops had no usable record of, by backend key: confirmed by the
   * backend, or set by a create that a run which died had recorded as under way.
   */
  readonly #verified = new Map<string, Map<string, AppliedRecord>>();

  constructor(options: EngineOptions) {
    this.#options = options;
    this.fingerprint = fingerprinter(options.fingerprintKey);
    this.#connections = new BackendConnections(options.adapterFactory, options.log ?? silentLogger);
    options.records.useKey(fingerprintKeyId(options.fingerprintKey));
  }

  /**
   * Brings the connections in line with the configuration's backends. A backend whose URL or
   * credentials changed gets a new connection, and what was observed through the old one is
   * forgotten.
   */
  async connect(backends: readonly BackendDecl[], credentials: ReadonlyMap<string, BackendCredentials>): Promise<void> {
    // Said at every run, not once per connection: nobody should forget that verification is off.
    for (const backend of backends.filter((b) => b.insecureSkipTLSVerify)) {
      (this.#options.log ?? silentLogger).warn(
        { backend: backend.name, url: backend.url },
        `MailBackend "${backend.name}" has insecureSkipTLSVerify: its TLS certificate is not verified, so anyone on the network path can pose as the server and read its credentials; set spec.caFile or spec.caBundleSecretRef instead`,
      );
    }
    const rebuilt = await this.#connections.sync(backends, credentials);
    for (const id of rebuilt) this.#observations.delete(id);
    this.#backends.clear();
    for (const backend of backends) this.#backends.set(backend.id, backend);
  }

  /** Observes one backend (in bulk) and keeps the result for the plans that follow. */
  async observe(config: Config, backendId: string, options: ObserveOptions = {}): Promise<BackendObservation> {
    const backend = this.#backend(backendId);
    // An address change is planned from the old address, so a backend that reads users one at a time reads it too.
    const records = this.#options.records.recordsFor(backendKey(backend.id, backend.url));
    const previous = config.users.flatMap((u) => {
      const address = records.get(objectKey(u.ref))?.address;
      return address !== undefined && address !== u.address && u.backendIds.includes(backendId) ? [address] : [];
    });
    const scope = { ...observeScope(config, backendId, previous), ...(options.discover ? { discover: options.discover } : {}) };
    const observation = await observeBackend(backend, this.#connections.get(backendId), scope, options);
    this.#observations.set(backendId, observation);
    return observation;
  }

  async observeAll(config: Config, options: ObserveOptions = {}): Promise<Map<string, BackendObservation>> {
    const entries = await Promise.all(config.backends.map(async (b) => [b.id, await this.observe(config, b.id, options)] as const));
    return new Map(entries);
  }

  /** The last observation of a backend (folded with what was applied since), if any. */
  observation(backendId: string): BackendObservation | undefined {
    return this.#observations.get(backendId);
  }

  /**
   * Plans from the kept observations. Users that exist on a backend but that mailops has no usable
   * record of (a fresh checkout, a lost key) are first checked with the backend, where it can
   * tell, instead of planning a reset: once per user and password, so steady-state plans cost no
   * request here.
   */
  async plan(request: PlanRequest): Promise<Plan> {
    for (const backend of request.config.backends) this.#adoptInterruptedCreations(backend, request);
    await Promise.all(request.config.backends.map((backend) => this.#verifyUnrecordedPasswords(backend, request)));
    return buildPlan({
      config: request.config,
      observations: this.#observations,
      records: (id) => this.#recordsFor(id),
      passwords: request.passwords,
      allowMassDeletion: request.allowMassDeletion ?? false,
      ...(request.owners ? { owners: request.owners } : {}),
    });
  }

  /**
   * Applies a plan, every backend at once, and folds each applied change into that backend's
   * observation, so that the next plan from it shows no changes without observing again.
   */
  async apply(plan: Plan, options: ApplyOptions = {}): Promise<ApplyReport> {
    if (plan.backends.some((b) => b.refusals.length > 0)) {
      throw new Error('the plan was refused by a safety valve; nothing was applied');
    }
    const records = this.#options.records;
    // What the backends confirmed while planning is knowledge worth keeping.
    for (const [key, verified] of this.#verified) for (const [owner, record] of verified) records.set(key, owner, record);
    this.#verified.clear();

    const report: ApplyReport = { results: [], requests: new Map() };
    await Promise.all(
      plan.backends.map(async (backendPlan) => {
        const adapter = this.#connections.get(backendPlan.backendId);
        const backend = this.#backends.get(backendPlan.backendId);
        if (adapter instanceof BackendError || !backend || backendPlan.changes.length === 0) return;
        const before = adapter.requestCount;
        const results = await applyBackendChanges(backendPlan.changes, {
          backend,
          adapter,
          records,
          taskMode: this.#options.taskMode ?? 'block',
          ...(options.signal ? { signal: options.signal } : {}),
          onResult: (result) => {
            report.results.push(result);
            options.onResult?.(result);
          },
          onTaskProgress: (task, status) => options.onTaskProgress?.(backend.name, task, status),
        });
        report.requests.set(backend.id, adapter.requestCount - before);
        this.#fold(backend.id, results.filter((r) => r.outcome === 'applied').map((r) => r.change));
      }),
    );
    await records.flush();
    return report;
  }

  /**
   * Forgets checkpoints of operations that no plan asks for any more on these backends (the
   * operation was finished, or the configuration moved on). Only from a plan of the whole
   * configuration: a plan for some objects does not speak for the others.
   */
  async forgetStaleOperations(plan: Plan): Promise<void> {
    const records = this.#options.records;
    for (const backendPlan of plan.backends) {
      const backend = this.#backends.get(backendPlan.backendId);
      if (!backend || backendPlan.error) continue;
      const planned = new Set(backendPlan.changes.map((c) => c.id));
      const key = backendKey(backend.id, backend.url);
      for (const changeId of records.operationIds(key)) if (!planned.has(changeId)) records.setOperation(key, changeId, undefined);
    }
    await records.flush();
  }

  /** Closes the connections. Records are written by apply, never here: a plan writes nothing. */
  async close(): Promise<void> {
    await this.#connections.close();
  }

  #fold(backendId: string, applied: readonly Change[]): void {
    const observation = this.#observations.get(backendId);
    if (!observation?.state || applied.length === 0) return;
    this.#observations.set(backendId, { ...observation, state: foldChanges(observation.state, applied) });
  }

  #backend(id: string): BackendDecl {
    const backend = this.#backends.get(id);
    if (!backend) throw new Error(`backend ${id} is not connected; call connect() with the configuration's backends first`);
    return backend;
  }

  #recordsFor(backendId: string): ReadonlyMap<string, AppliedRecord> {
    const backend = this.#backend(backendId);
    const key = backendKey(backend.id, backend.url);
    const stored = this.#options.records.recordsFor(key);
    const verified = this.#verified.get(key);
    return verified?.size ? new Map([...stored, ...verified]) : stored;
  }

  /**
   * A user that a killed run was creating, and that exists now, was most likely created with the
   * password that run recorded (a create carries the password on every backend). A backend that can
   * check a password is asked instead (#verifyUnrecordedPasswords): someone may have made the user by
   * hand in between. On the others the recorded password is taken as set, rather than set again.
   * The planner still compares it with the password declared now.
   */
  #adoptInterruptedCreations(backend: BackendDecl, request: PlanRequest): void {
    const adapter = this.#connections.get(backend.id);
    const observation = this.#observations.get(backend.id);
    if (adapter instanceof BackendError || adapter.verifyPassword || !observation?.state) return;
    const key = backendKey(backend.id, backend.url);
    const records = this.#options.records;
    const stored = records.recordsFor(key);
    let verified = this.#verified.get(key);
    for (const user of request.config.users) {
      if (!user.backendIds.includes(backend.id) || !observation.state.users.has(user.address)) continue;
      const owner = objectKey(user.ref);
      const record = stored.get(owner);
      if (record && (record.address !== user.address || record.passwordFingerprint !== null)) continue;
      const creation = records.operation(key, `user:${user.address}`);
      if (creation?.action !== 'create' || creation.owner !== owner || !creation.passwordFingerprint) continue;
      if (!verified) this.#verified.set(key, (verified = new Map()));
      verified.set(owner, { address: user.address, passwordFingerprint: creation.passwordFingerprint });
    }
  }

  async #verifyUnrecordedPasswords(backend: BackendDecl, request: PlanRequest): Promise<void> {
    const adapter = this.#connections.get(backend.id);
    const observation = this.#observations.get(backend.id);
    if (adapter instanceof BackendError || !adapter.verifyPassword || !observation?.state) return;
    const key = backendKey(backend.id, backend.url);
    const stored = this.#options.records.recordsFor(key);
    const verified = this.#verified.get(key) ?? new Map<string, AppliedRecord>();
    this.#verified.set(key, verified);
    const before = adapter.requestCount;
    await Promise.all(
      request.config.users
        .filter((user) => user.backendIds.includes(backend.id) && observation.state!.users.has(user.address))
        .filter((user) => !request.owners || request.owners.has(objectKey(user.ref)))
        .map(async (user) => {
          const owner = objectKey(user.ref);
          const password = request.passwords.get(owner);
          const record = stored.get(owner);
          // A record of another address is an address change under way: the move sets the password.
          if (!password || (record && (record.address !== user.address || record.passwordFingerprint !== null))) return;
          if (verified.get(owner)?.passwordFingerprint === password.fingerprint) return;
          try {
            if (await adapter.verifyPassword!(user.address, password.secret)) {
              verified.set(owner, { address: user.address, passwordFingerprint: password.fingerprint });
            }
          } catch {
            // Not knowing is fine: the plan then sets the password once.
          }
        }),
    );
    observation.requests += adapter.requestCount - before;
  }
}
