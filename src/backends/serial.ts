// One piece of work at a time per key, for adapters that write a list whole after reading it (a user's addresses
// on MailStore and Open-Xchange): two changes to the same user in one apply must not read the same list and each
// write back their own version of it.

export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier work of the same key has settled (whether it succeeded or not). */
  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#tails.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    }
  }
}
