// A rate-limited work queue of object keys, as controller-runtime has it, with one difference
// that suits mail backends: the worker takes everything that is due at once, so a burst of
// changed objects becomes a few reconciles that each observe a backend once. A key is in the queue
// at most once however often it is added (events only say "look again"). A key that failed comes
// back after an exponential backoff of its own and does not hold the others back.

export interface QueueOptions {
  /** Backoff after the first failure; doubles per failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long the worker lets a burst gather before it takes the batch. */
  batchWindowMs?: number;
}

export class WorkQueue {
  readonly #due = new Set<string>();
  readonly #later = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #options: Required<QueueOptions>;
  #resync = false;
  #wake: (() => void) | undefined;
  #shutDown = false;
  onDepth?: (depth: number) => void;

  constructor(options: QueueOptions = {}) {
    this.#options = { baseDelayMs: options.baseDelayMs ?? 1_000, maxDelayMs: options.maxDelayMs ?? 300_000, batchWindowMs: options.batchWindowMs ?? 100 };
  }

  get depth(): number {
    return this.#due.size + this.#later.size;
  }

  add(key: string): void {
    if (this.#shutDown) return;
    const later = this.#later.get(key);
    if (later) {
      clearTimeout(later.timer);
      this.#later.delete(key);
    }
    this.#due.add(key);
    this.#changed();
  }

  /** Adds the key after `ms`, unless it is due sooner anyway. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown || this.#due.has(key)) return;
    const at = Date.now() + ms;
    const later = this.#later.get(key);
    if (later && later.at <= at) return;
    if (later) clearTimeout(later.timer);
    const timer = setTimeout(() => {
      this.#later.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.#later.set(key, { at, timer });
    this.#changed();
  }

  /** After a failure: back after 1 s, 2 s, 4 s … up to the maximum. */
  addRateLimited(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** (failures - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts the backoff afresh. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Asks for a drift resync: the next batch looks at every object and every backend. */
  requestResync(): void {
    this.#resync = true;
    this.#changed();
  }

  /** Waits for work; returns the keys due and whether this is a resync, or undefined once shut down. */
  async take(): Promise<{ keys: Set<string>; resync: boolean } | undefined> {
    while (!this.#shutDown && this.#due.size === 0 && !this.#resync) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#shutDown) return undefined;
    if (this.#options.batchWindowMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#options.batchWindowMs));
    const keys = new Set(this.#due);
    const resync = this.#resync;
    this.#due.clear();
    this.#resync = false;
    this.onDepth?.(this.depth);
    return { keys, resync };
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#later.values()) clearTimeout(timer);
    this.#later.clear();
    this.#wake?.();
  }

  #changed(): void {
    this.onDepth?.(this.depth);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
