// `mailops watch`: a git repository of manifests as the source of truth, without Kubernetes — a
// second long-lived front door over the engine, beside the controller. Each run fetches the branch;
// a new commit is checked out cleanly, loaded and validated, and, when valid, applied at once; at
// every interval the commit in force is reconciled again (one observation per backend, list calls
// only when nothing drifted). A commit with configuration errors is reported once and never
// applied; the one before it stays in force. The file-mode pieces are the CLI's: the loader, secrets
// from the environment or a secrets directory, records and the fingerprint key in the state
// directory, whose lock each run takes, so that `mailops apply` by hand never races it.
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { securePrivateFiles } from '../state/private-files.ts';
import path from 'node:path';
import { Engine } from '../engine/engine.ts';
import type { ChangeResult } from '../engine/apply.ts';
import { resolveSecrets } from '../engine/secrets.ts';
import { InvalidConfigError, formatConfigError, loadConfigFromPaths, type ConfigError } from '../load/index.ts';
import { formatPosition } from '../load/errors.ts';
import type { Logger } from '../log.ts';
import type { Config } from '../model/config.ts';
import { describeChange, withoutRefusedOwners } from '../plan/index.ts';
import { FileSecretResolver } from '../secrets/file-secrets.ts';
import { listen, metricsHandler, parseBindAddress, probesHandler, type RequestHandler } from '../serve/http.ts';
import { loadFingerprintKey } from '../state/fingerprint.ts';
import { StateLockedError, lockFileOf, lockStateDir } from '../state/records.ts';
import { GitRepository, linksLeavingTree, redactUrl } from './git.ts';
import { WatchMetrics } from './metrics.ts';
import { RereadRecordStore } from './records.ts';
import { RUNS_KEPT, readStatusFile, readyCondition, statusJson, writeStatusFile, type ChangeCounts, type RunRecord, type RunResult, type RunTrigger, type WatchStatus } from './status.ts';

export interface WatchOptions {
  /** As normaliseRepository returns it. */
  repository: string;
  branch: string;
  /** The folder of the repository that holds the manifests ('.' for all of it). */
  path: string;
  /** How often the configuration in force is reconciled (drift correction). */
  intervalMs: number;
  /** How often the branch is fetched; a new commit is applied at once. */
  fetchIntervalMs: number;
  stateDir: string;
  secretsDir?: string;
  statusFile?: string;
  suspendFile?: string;
  /** Where /status, /metrics, /healthz and /readyz listen (HOST:PORT, :PORT, or 0 for off). */
  listen: string;
  /** Applied to every commit's configuration (`--backend-url NAME=URL`). */
  adjustConfig?: (config: Config) => Config;
  allowMassDeletion: boolean;
  gitTimeoutMs: number;
  log: Logger;
}

export interface RunningWatcher {
  url?: string;
  statusFile: string;
  /** Resolves when the watcher has stopped. */
  done: Promise<void>;
  /** Finishes the run in flight, writes the status, and stops. */
  stop(): Promise<void>;
  /** Fetches and reconciles now (SIGHUP). */
  poke(): void;
  status(): WatchStatus;
}

/** How soon a run looks again while backend tasks run. */
const TASK_POLL_MS = 2_000;
/** How soon a run tries again while another mailops holds the state directory. */
const LOCKED_RETRY_MS = 5_000;
/** First retry after a failure; doubled each time, never beyond the interval. */
const FIRST_RETRY_MS = 5_000;
/** A run that has not heard from git or a backend for this long is stuck: /healthz says so. */
const STUCK_AFTER_MS = 5 * 60_000;

/** A commit's configuration, loaded from a clean checkout. */
interface Revision {
  revision: string;
  config: Config;
  /** Its checkout: positions in the configuration are under it, and are shown relative to it. */
  tree: string;
}

export async function startWatcher(options: WatchOptions): Promise<RunningWatcher> {
  const watcher = new Watcher(options);
  return watcher.start();
}

class Watcher {
  readonly #options: WatchOptions;
  readonly #log: Logger;
  readonly #metrics = new WatchMetrics();
  readonly #workDir: string;
  readonly #statusFile: string;
  readonly #suspendFile: string;
  readonly #git: GitRepository;
  #engine!: Engine;
  #records!: RereadRecordStore;
  #status: WatchStatus;

  /** The commit whose configuration is reconciled (the newest valid one). */
  #inForce: Revision | undefined;
  /** Commits found invalid by this process: a broken commit is validated once, not at every run. */
  readonly #invalid = new Set<string>();
  #lastHead: string | undefined;
  #triedLastGood = false;
  #failures = 0;
  #nextFetch = 0;
  #nextReconcile = 0;
  /** Why the next run comes early: the start, a signal, a resume. */
  #forced: RunTrigger | undefined = 'start';
  /** Why the next reconcile is due when it is: the interval, a retry after a failure, running tasks. */
  #dueReason: RunTrigger = 'interval';
  #stopping = false;
  #wake: (() => void) | undefined;
  #running = false;
  #lastProgress = Date.now();
  #crashed = false;
  #firstRunDone = false;

  constructor(options: WatchOptions) {
    this.#options = options;
    this.#log = options.log;
    // One working folder per repository, branch and path: the clone, its checkouts, the status.
    const id = createHash('sha256').update(`${options.repository}\n${options.branch}\n${options.path}`).digest('hex').slice(0, 16);
    this.#workDir = path.join(options.stateDir, 'watch', id);
    this.#statusFile = options.statusFile ?? path.join(this.#workDir, 'status.json');
    this.#suspendFile = options.suspendFile ?? path.join(options.stateDir, 'watch', 'suspend');
    this.#git = new GitRepository({ url: options.repository, branch: options.branch, dir: this.#workDir, timeoutMs: options.gitTimeoutMs });
    this.#status = {
      repository: redactUrl(options.repository),
      branch: options.branch,
      path: options.path,
      suspended: false,
      suspendFile: this.#suspendFile,
      conditions: [],
      warnings: [],
      runs: [],
    };
  }

  async start(): Promise<RunningWatcher> {
    const options = this.#options;
    await mkdir(this.#workDir, { recursive: true, mode: 0o700 });
    // Two watchers of one repository would race on its clone.
    const releaseWorkDir = await lockFileOf(path.join(this.#workDir, 'watch.lock'), 'mailops watch', (pid) =>
      `another mailops watch (pid ${pid}) watches ${this.#status.repository} (${options.branch}, ${options.path}) with the state directory ${options.stateDir}`);
    const servers: Array<{ close(): void }> = [];
    try {
      await this.#restoreStatus();
      await this.#git.prepare();
      this.#records = await RereadRecordStore.open(options.stateDir);
      const fingerprintKey = await loadFingerprintKey(options.stateDir, { create: true });
      for (const warning of await securePrivateFiles(options.stateDir)) this.#log.warn({ stateDir: options.stateDir }, warning);
      this.#engine = new Engine({
        adapterFactory: this.#metrics.backend.adapterFactory(() => (this.#lastProgress = Date.now())),
        records: this.#records,
        fingerprintKey,
        log: this.#log,
        // Never held by a backend task: it is recorded, and the next run (shortly) looks again.
        taskMode: 'poll',
      });
      const address = parseBindAddress(options.listen, '--listen');
      const server = address ? await listen(address, this.#handler()) : undefined;
      if (server) servers.push(server);

      let stopped: Promise<void> | undefined;
      const finished = this.#loop().catch((error: unknown) => {
        this.#crashed = true;
        this.#log.error({ error: (error as Error).message, stack: (error as Error).stack }, 'the watch loop failed');
        process.exitCode = 1;
      });
      const stop = (): Promise<void> => {
        stopped ??= (async () => {
          this.#log.info('stopping: finishing the run in flight');
          this.#stopping = true;
          this.#wake?.();
          await finished;
          await this.#writeStatus();
          for (const s of servers) s.close();
          await this.#engine.close();
          await releaseWorkDir();
          this.#log.info('stopped');
        })();
        return stopped;
      };
      return {
        ...(server ? { url: server.url } : {}),
        statusFile: this.#statusFile,
        done: finished.then(() => stop()),
        stop,
        poke: () => {
          this.#nextFetch = 0;
          this.#nextReconcile = 0;
          this.#forced = 'signal';
          this.#wake?.();
        },
        status: () => this.#status,
      };
    } catch (error) {
      for (const s of servers) s.close();
      await releaseWorkDir();
      throw error;
    }
  }

  /** A restarted watcher keeps what its predecessor reported (applied and attempted commits, runs). */
  async #restoreStatus(): Promise<void> {
    const previous = await readStatusFile(this.#statusFile);
    if (!previous) return;
    const keep = ['lastAppliedRevision', 'lastAppliedTime', 'lastAttemptedRevision', 'lastAttemptedTime', 'lastAttemptResult', 'lastAttemptErrors'] as const;
    for (const field of keep) if (previous[field] !== undefined) (this.#status as unknown as Record<string, unknown>)[field] = previous[field];
    if (Array.isArray(previous.runs)) this.#status.runs = previous.runs.slice(0, RUNS_KEPT);
    if (Array.isArray(previous.conditions)) this.#status.conditions = previous.conditions;
  }

  // --- the loop

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      const suspended = await this.#checkSuspended();
      const now = Date.now();
      if (!suspended && (now >= this.#nextFetch || now >= this.#nextReconcile)) {
        this.#running = true;
        this.#lastProgress = now;
        try {
          await this.#run(now >= this.#nextReconcile);
        } finally {
          this.#running = false;
        }
        continue;
      }
      // Wake at least every second: the suspend file and the clock are looked at, nothing else.
      await this.#sleep(Math.max(0, Math.min(1_000, this.#nextFetch - now, this.#nextReconcile - now)));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #checkSuspended(): Promise<boolean> {
    const suspended = await stat(this.#suspendFile).then(() => true, () => false);
    if (suspended === this.#status.suspended) return suspended;
    this.#status.suspended = suspended;
    this.#metrics.suspended.set(suspended ? 1 : 0);
    if (suspended) {
      this.#log.info({ suspendFile: this.#suspendFile }, 'suspended: nothing is fetched or applied until the file is removed');
      this.#setReady('False', 'Suspended', `suspended while ${this.#suspendFile} exists`);
    } else {
      this.#log.info('resumed');
      this.#nextFetch = 0;
      this.#nextReconcile = 0;
      this.#forced = 'resume';
    }
    await this.#writeStatus();
    return suspended;
  }

  /** One run: fetch; validate a new commit; reconcile when a new valid commit came or the interval is due. */
  async #run(reconcileDue: boolean): Promise<void> {
    const startedAt = new Date();
    const timer = this.#metrics.runDuration.startTimer();
    const forced = this.#forced;
    this.#forced = undefined;
    const run: RunRecord = { trigger: 'interval', startedAt: startedAt.toISOString(), finishedAt: '', result: 'Applied', changes: { applied: 0, failed: 0, skipped: 0, pending: 0 }, errors: [] };
    const { fetchIntervalMs, intervalMs } = this.#options;
    const dueReason = this.#dueReason;

    // 1. The newest commit of the branch.
    let head: string | undefined;
    try {
      head = await this.#git.fetch();
      this.#lastProgress = Date.now();
      this.#metrics.fetches.inc({ result: 'ok' });
      this.#status.lastFetchedRevision = head;
      this.#status.lastFetchTime = new Date().toISOString();
      delete this.#status.fetchError;
      run.fetchedRevision = head;
    } catch (error) {
      this.#metrics.fetches.inc({ result: 'error' });
      this.#status.fetchError = (error as Error).message;
      run.errors.push((error as Error).message);
      this.#log.warn({ repository: this.#status.repository, error: (error as Error).message }, 'fetch failed; the configuration in force is still reconciled');
      if (!this.#inForce) await this.#adoptLastGood();
    }

    // 2. A commit not in force is loaded and validated; a broken one once only, never in a loop.
    let newCommit = false;
    // Status changes are gathered and made together at the end, so that /status never shows half a run.
    let attempt: { revision: string; result: RunResult; errors: string[] } | undefined;
    let converged: string | undefined;
    if (head !== undefined && head !== this.#inForce?.revision && !this.#invalid.has(head)) {
      run.attemptedRevision = head;
      const loaded = await this.#load(head);
      if ('errors' in loaded) {
        this.#invalid.add(head);
        attempt = { revision: head, result: 'Invalid', errors: loaded.errors };
        run.errors.push(...loaded.errors);
        this.#log.warn({ revision: head, errors: loaded.errors }, 'the new commit is invalid: not applied; the previous configuration stays in force');
        if (!this.#inForce) await this.#adoptLastGood();
      } else {
        this.#inForce = loaded;
        newCommit = true;
        this.#log.info({ revision: head }, 'new commit');
      }
    }
    // The branch went back to the commit in force (a revert by force push): that is news too.
    const backToInForce = head !== undefined && head !== this.#lastHead && head === this.#inForce?.revision;
    if (head !== undefined) this.#lastHead = head;

    // 3. The configuration in force, reconciled: at once for a new commit, else when the interval is due.
    let result: RunResult | undefined;
    if (this.#inForce && (newCommit || backToInForce || reconcileDue)) {
      // Drift runs of an older commit do not speak for a newer broken one.
      const isAttempt = head !== undefined ? head === this.#inForce.revision : !(this.#status.lastAttemptResult === 'Invalid' && this.#status.lastAttemptedRevision !== this.#inForce.revision);
      const reconciled = await this.#reconcile(this.#inForce, run);
      result = reconciled.result;
      if (isAttempt) attempt = { revision: this.#inForce.revision, ...reconciled };
      if (result === 'Applied') converged = this.#inForce.revision;
      this.#nextReconcile = Date.now() + this.#delayAfter(result, intervalMs);
    } else if (reconcileDue) {
      this.#nextReconcile = Date.now() + this.#retryDelay(intervalMs);
      this.#dueReason = 'retry';
    }
    if (run.attemptedRevision !== undefined && !newCommit) result = 'Invalid';
    else if (head === undefined && (result === undefined || result === 'Applied')) result = 'FetchFailed';
    this.#nextFetch = Date.now() + (head === undefined ? this.#retryDelay(fetchIntervalMs) : fetchIntervalMs);
    run.trigger = forced ?? (newCommit || backToInForce ? 'commit' : reconcileDue ? dueReason : 'interval');

    if (attempt) this.#recordAttempt(attempt.revision, attempt.result, attempt.errors);
    if (converged !== undefined) {
      if (this.#status.lastAppliedRevision !== converged) {
        this.#status.lastAppliedRevision = converged;
        this.#status.lastAppliedTime = new Date().toISOString();
      }
      this.#metrics.lastApplied.set(Date.now() / 1000);
    }
    if (result !== undefined) {
      const { trigger, fetchedRevision, attemptedRevision, appliedRevision, changes, errors } = run;
      const record: RunRecord = {
        trigger,
        startedAt: run.startedAt,
        finishedAt: new Date().toISOString(),
        ...(fetchedRevision ? { fetchedRevision } : {}),
        ...(attemptedRevision ? { attemptedRevision } : {}),
        ...(appliedRevision ? { appliedRevision } : {}),
        result,
        changes,
        errors,
      };
      this.#status.runs = [record, ...this.#status.runs].slice(0, RUNS_KEPT);
      this.#metrics.runs.inc({ result });
      timer();
    }
    this.#firstRunDone = true;
    this.#updateReady(head);
    await this.#writeStatus();
    if (converged !== undefined) await this.#git.keepAsLastGood(converged).catch((error: Error) => this.#log.warn({ error: error.message }, 'cannot mark the last good commit'));
  }

  #delayAfter(result: RunResult, intervalMs: number): number {
    this.#dueReason = result === 'Progressing' ? 'tasks' : result === 'StateLocked' || result === 'Failed' ? 'retry' : 'interval';
    if (result === 'Progressing') return TASK_POLL_MS;
    if (result === 'StateLocked') return LOCKED_RETRY_MS;
    if (result === 'Failed') return this.#retryDelay(intervalMs);
    this.#failures = 0;
    return intervalMs;
  }

  /** Exponential backoff from 5 s, never beyond the regular interval. */
  #retryDelay(capMs: number): number {
    const delay = Math.min(capMs, FIRST_RETRY_MS * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 20);
    return delay;
  }

  /** After a restart whose newest commit is broken (or cannot be fetched): the last good one stays in force. */
  async #adoptLastGood(): Promise<void> {
    if (this.#triedLastGood) return;
    this.#triedLastGood = true;
    const revision = await this.#git.lastGood();
    if (!revision || this.#invalid.has(revision)) return;
    const loaded = await this.#load(revision);
    if ('errors' in loaded) {
      this.#log.warn({ revision, errors: loaded.errors }, 'the last good commit no longer loads');
      return;
    }
    this.#inForce = loaded;
    this.#log.info({ revision }, 'the last good commit stays in force');
  }

  /** A clean checkout of the commit, loaded and validated: its configuration, or every error (file:line:column). */
  async #load(revision: string): Promise<Revision | { errors: string[] }> {
    let tree: string;
    try {
      tree = await this.#git.checkout(revision);
      this.#lastProgress = Date.now();
    } catch (error) {
      return { errors: [(error as Error).message] };
    }
    const relative = (error: ConfigError): ConfigError => ({ ...error, position: { ...error.position, file: path.relative(tree, error.position.file) || '.' } });
    try {
      const links = await linksLeavingTree(tree, this.#options.path);
      if (links.length > 0) throw new InvalidConfigError(links.map((e) => ({ ...e, position: { ...e.position, file: path.join(tree, e.position.file) } })));
      let config = await loadConfigFromPaths([path.join(tree, this.#options.path)]);
      config = this.#options.adjustConfig ? this.#options.adjustConfig(config) : config;
      this.#status.warnings = config.warnings.map((w) => formatConfigError(relative(w)));
      return { revision, config, tree };
    } catch (error) {
      if (error instanceof InvalidConfigError) return { errors: error.errors.map((e) => formatConfigError(relative(e))) };
      return { errors: [(error as Error).message] };
    } finally {
      // The checkout of the commit in force is kept (errors of later runs name its files); others go.
      await this.#git.keepOnly(new Set([revision, ...(this.#inForce ? [this.#inForce.revision] : [])])).catch(() => {});
    }
  }

  /** Observe every backend once, plan from that observation, apply; under the state directory's lock. */
  async #reconcile(target: Revision, run: RunRecord): Promise<{ result: RunResult; errors: string[] }> {
    const { config, revision, tree } = target;
    run.appliedRevision = revision;
    let unlock: () => Promise<void>;
    try {
      unlock = await lockStateDir(this.#options.stateDir, 'mailops watch');
    } catch (error) {
      if (!(error instanceof StateLockedError)) throw error;
      run.errors.push(error.message);
      this.#log.warn({ error: error.message }, 'the state directory is locked; trying again shortly');
      return { result: 'StateLocked', errors: [error.message] };
    }
    try {
      await this.#records.reread();
      const engine = this.#engine;
      const secrets = await resolveSecrets(config, new FileSecretResolver({ secretsDir: this.#options.secretsDir }), engine.fingerprint);
      await engine.connect(config.backends, secrets.credentials);
      const observations = await engine.observeAll(config);
      const plan = await engine.plan({ config, passwords: secrets.passwords, allowMassDeletion: this.#options.allowMassDeletion });
      const refusals = plan.backends.flatMap((b) => b.refusals.map((r) => r.message));
      const report = await engine.apply(withoutRefusedOwners(plan));
      if (refusals.length === 0) await engine.forgetStaleOperations(plan);
      this.#metrics.backend.countFailures(observations, report.results);

      run.changes = countOutcomes(report.results);
      for (const result of report.results) this.#metrics.changes.inc({ backend: result.backendName, action: result.change.action, outcome: result.outcome });
      const shorten = (text: string) => text.split(`${tree}${path.sep}`).join('');
      const errors = [
        ...plan.backends.flatMap((b) => (b.error ? [b.error] : [])),
        ...secrets.failures.map((f) => shorten(`${formatPosition(f.position)}: ${f.object} ${f.field}: ${f.message}`)),
        ...report.results.filter((r) => r.outcome === 'failed' || r.outcome === 'skipped').map((r) => `${r.backendName}: ${describeChange(r.change)}: ${r.outcome}${r.error ? `: ${r.error}` : ''}`),
        ...refusals,
      ];
      run.errors.push(...errors);
      const result: RunResult = refusals.length > 0 ? 'Refused' : errors.length > 0 ? 'Failed' : run.changes.pending > 0 ? 'Progressing' : 'Applied';
      const applied = report.results.filter((r) => r.outcome === 'applied').map((r) => `${r.backendName}: ${describeChange(r.change)}`);
      this.#log.info({ revision, result, changes: run.changes, ...(applied.length ? { applied } : {}), ...(errors.length ? { errors } : {}) }, applied.length ? 'applied' : 'reconciled');

      return { result, errors };
    } catch (error) {
      run.errors.push((error as Error).message);
      this.#log.error({ revision, error: (error as Error).message, stack: (error as Error).stack }, 'the run failed');
      return { result: 'Failed', errors: [(error as Error).message] };
    } finally {
      await unlock();
    }
  }

  #recordAttempt(revision: string, result: RunResult, errors: string[]): void {
    this.#status.lastAttemptedRevision = revision;
    this.#status.lastAttemptedTime = new Date().toISOString();
    this.#status.lastAttemptResult = result;
    if (errors.length > 0) this.#status.lastAttemptErrors = errors;
    else delete this.#status.lastAttemptErrors;
  }

  // --- reporting

  #updateReady(head: string | undefined): void {
    const s = this.#status;
    s.revisionInForce = this.#inForce?.revision;
    if (s.revisionInForce === undefined) delete s.revisionInForce;
    const last = s.runs[0];
    if (!this.#inForce) {
      this.#setReady('False', s.lastAttemptResult === 'Invalid' ? 'Invalid' : 'FetchFailed', s.lastAttemptErrors?.[0] ?? s.fetchError ?? 'no valid commit yet');
    } else if (s.lastAttemptResult === 'Invalid' && s.lastAttemptedRevision !== this.#inForce.revision) {
      const errors = s.lastAttemptErrors ?? [];
      this.#setReady('False', 'Invalid', `commit ${s.lastAttemptedRevision?.slice(0, 12)} has ${errors.length} configuration error${errors.length === 1 ? '' : 's'} (${errors[0] ?? ''}); ${this.#inForce.revision.slice(0, 12)} stays in force`);
    } else if (last && last.result === 'Progressing') {
      this.#setReady('False', 'Progressing', `${last.changes.pending} change${last.changes.pending === 1 ? '' : 's'} of commit ${this.#inForce.revision.slice(0, 12)} wait for backend tasks`);
    } else if (last && last.result !== 'Applied') {
      this.#setReady('False', last.result, last.errors[0] ?? last.result);
    } else if (head === undefined && s.fetchError) {
      this.#setReady('False', 'FetchFailed', s.fetchError);
    } else {
      this.#setReady('True', 'Applied', `commit ${this.#inForce.revision.slice(0, 12)} is applied`);
    }
    this.#metrics.revisions({ applied: s.lastAppliedRevision, attempted: s.lastAttemptedRevision, fetched: s.lastFetchedRevision, inForce: s.revisionInForce });
  }

  #setReady(status: 'True' | 'False' | 'Unknown', reason: string, message: string): void {
    this.#status.conditions = [readyCondition(this.#status.conditions.find((c) => c.type === 'Ready'), status, reason, message, new Date())];
    this.#metrics.ready.set(status === 'True' ? 1 : 0);
  }

  async #writeStatus(): Promise<void> {
    try {
      await writeStatusFile(this.#statusFile, this.#status);
    } catch (error) {
      this.#log.error({ file: this.#statusFile, error: (error as Error).message }, 'cannot write the status file');
    }
  }

  #handler(): RequestHandler {
    const metrics = metricsHandler(this.#metrics);
    const probes = probesHandler({
      healthy: () => !this.#crashed && (!this.#running || Date.now() - this.#lastProgress < STUCK_AFTER_MS),
      ready: () => {
        if (!this.#firstRunDone) return { ok: false, detail: 'the first run has not finished' };
        if (!this.#inForce) return { ok: false, detail: 'no valid commit in force yet' };
        return { ok: true, detail: `${this.#status.suspended ? 'suspended; ' : ''}commit ${this.#inForce.revision} in force` };
      },
    });
    return (request, response) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') return void response.writeHead(405, { allow: 'GET, HEAD' }).end('method not allowed\n');
      if (request.url === '/status') return void response.writeHead(200, { 'content-type': 'application/json' }).end(statusJson(this.#status));
      if (request.url === '/metrics') return metrics(request, response);
      return probes(request, response);
    };
  }
}

function countOutcomes(results: readonly ChangeResult[]): ChangeCounts {
  const counts: ChangeCounts = { applied: 0, failed: 0, skipped: 0, pending: 0 };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
}
