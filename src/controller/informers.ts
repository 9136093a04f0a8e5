// Informers with a local cache (@kubernetes/client-node's ListWatch), kept alive. The client
// relists after 410 Gone and reconnects after a quiet watch times out, but it stops for good after
// any other error and cannot tell a watch that silently stopped delivering. So:
//   - an error restarts the informer with exponential backoff (1 s … 60 s);
//   - a watchdog restarts it when it shows no sign of life (an event or a reconnect) for too long;
//   - `healthy` is false from an error until the informer is back, and /readyz says so.
import { ADD, CONNECT, DELETE, ERROR, UPDATE, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ListPromise, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';

export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(object: T): void;
  onDelete?(object: T): void;
}

export interface InformerOptions {
  /** No event and no reconnect for this long means the watch is stuck: restart it. */
  silenceLimitMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class ResourceInformer<T extends KubernetesObject> {
  readonly name: string;
  readonly #informer: Informer<T> & ObjectCache<T>;
  readonly #log: Logger;
  readonly #options: Required<InformerOptions>;
  #healthy = false;
  #synced = false;
  #stopped = true;
  #failures = 0;
  #lastSignOfLife = Date.now();
  #restartTimer: NodeJS.Timeout | undefined;
  #restartPending = false;
  #watchdog: NodeJS.Timeout | undefined;
  /** Called whenever `healthy` changes. */
  onHealth?: (healthy: boolean) => void;

  constructor(name: string, config: KubeConfig, path: string, list: ListPromise<T>, handlers: InformerHandlers<T>, log: Logger, options: InformerOptions = {}) {
    this.name = name;
    this.#log = log;
    this.#options = { silenceLimitMs: options.silenceLimitMs ?? 120_000, minBackoffMs: options.minBackoffMs ?? 1_000, maxBackoffMs: options.maxBackoffMs ?? 60_000 };
    this.#informer = makeInformer(config, path, list);
    const alive = () => {
      this.#lastSignOfLife = Date.now();
    };
    this.#informer.on(ADD, (o) => (alive(), handlers.onAdd?.(o)));
    this.#informer.on(UPDATE, (o) => (alive(), handlers.onUpdate?.(o)));
    this.#informer.on(DELETE, (o) => (alive(), handlers.onDelete?.(o)));
    this.#informer.on(CONNECT, alive);
    this.#informer.on(ERROR, (error) => this.#failed(error));
  }

  get healthy(): boolean {
    return this.#healthy && this.#synced;
  }

  /** Lists and starts watching; resolves once the cache holds the first list (or the first attempt failed). */
  async start(): Promise<void> {
    this.#stopped = false;
    this.#watchdog ??= setInterval(() => this.#checkSilence(), Math.min(10_000, this.#options.silenceLimitMs / 4)).unref();
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    await this.#informer.stop();
  }

  list(): readonly T[] {
    return this.#informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  async #run(): Promise<void> {
    let failed = false;
    const onError = () => {
      failed = true;
    };
    this.#informer.on(ERROR, onError);
    try {
      this.#lastSignOfLife = Date.now();
      await this.#informer.start();
    } catch (error) {
      failed = true;
      this.#failed(error);
    } finally {
      this.#informer.off(ERROR, onError);
    }
    if (!failed && !this.#stopped) {
      this.#synced = true;
      this.#failures = 0;
      this.#setHealthy(true);
    }
  }

  #failed(error: unknown): void {
    if (this.#stopped) return;
    this.#setHealthy(false);
    this.#failures += 1;
    const delay = Math.min(this.#options.maxBackoffMs, this.#options.minBackoffMs * 2 ** (this.#failures - 1));
    this.#log.warn({ informer: this.name, error: describe(error), retryInMs: delay }, 'watch failed; restarting it');
    clearTimeout(this.#restartTimer);
    this.#restartPending = true;
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
  }

  async #restart(): Promise<void> {
    this.#restartPending = false;
    if (this.#stopped) return;
    await this.#informer.stop();
    await this.#run();
  }

  #checkSilence(): void {
    if (this.#stopped || this.#restartPending) return;
    const silentFor = Date.now() - this.#lastSignOfLife;
    if (silentFor < this.#options.silenceLimitMs) return;
    this.#log.warn({ informer: this.name, silentForMs: silentFor }, 'watch delivered nothing for too long; restarting it');
    this.#failed(new Error(`no event or reconnect for ${Math.round(silentFor / 1000)} s`));
  }

  #setHealthy(healthy: boolean): void {
    if (this.#healthy === healthy) return;
    this.#healthy = healthy;
    this.onHealth?.(healthy);
  }
}

function describe(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'number') {
    return `HTTP ${(error as { code: number }).code}`;
  }
  return error instanceof Error ? error.message : String(error);
}
