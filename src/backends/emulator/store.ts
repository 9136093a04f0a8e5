// Collections for an emulator's in-memory state that count the work done on them, so that tests can keep the
// cost of a request in check without a clock: iterating a collection costs its size (even when the loop stops
// early); lookups cost nothing. A request about one object must then cost the same however many others the
// store holds — only list calls may grow with it. Every collection of a store is made by that store.

/** How many entries of a store's collections have been iterated over since the store was made. */
export interface Meter {
  visited: number;
}

/** A Map that charges the meter its size whenever it is iterated. */
export class MeteredMap<K, V> extends Map<K, V> {
  readonly #meter: Meter;
  constructor(meter: Meter) {
    super();
    this.#meter = meter;
  }
  override entries(): MapIterator<[K, V]> {
    this.#meter.visited += this.size;
    return super.entries();
  }
  override keys(): MapIterator<K> {
    this.#meter.visited += this.size;
    return super.keys();
  }
  override values(): MapIterator<V> {
    this.#meter.visited += this.size;
    return super.values();
  }
  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  override forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    this.#meter.visited += this.size;
    super.forEach(callback, thisArg);
  }
}

/** A Set that charges the meter its size whenever it is iterated. */
export class MeteredSet<T> extends Set<T> {
  readonly #meter: Meter;
  constructor(meter: Meter, items: Iterable<T> = []) {
    super();
    this.#meter = meter;
    for (const item of items) this.add(item);
  }
  override entries(): SetIterator<[T, T]> {
    this.#meter.visited += this.size;
    return super.entries();
  }
  override keys(): SetIterator<T> {
    return this.values();
  }
  override values(): SetIterator<T> {
    this.#meter.visited += this.size;
    return super.values();
  }
  override [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }
  override forEach(callback: (value: T, key: T, set: Set<T>) => void, thisArg?: unknown): void {
    this.#meter.visited += this.size;
    super.forEach(callback, thisArg);
  }
}

/** The entry of `key` in `map`, created by `create` if missing. */
export function entryOf<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/**
 * An index from a key to the set of values filed under it (the users of a domain, the sources of a mapping
 * target): a key is present exactly while it has values, so `keys()` lists only live keys.
 */
export class SetIndex<K, V> {
  readonly #sets: Map<K, Set<V>>;
  readonly #newSet: () => Set<V>;
  constructor(store: MeteredStore) {
    this.#sets = store.map();
    this.#newSet = () => store.set();
  }
  add(key: K, value: V): void {
    entryOf(this.#sets, key, this.#newSet).add(value);
  }
  delete(key: K, value: V): void {
    const values = this.#sets.get(key);
    values?.delete(value);
    if (values?.size === 0) this.#sets.delete(key);
  }
  /** The values under `key`; empty when none (iterating it still costs its size). */
  get(key: K): ReadonlySet<V> {
    return this.#sets.get(key) ?? EMPTY;
  }
  keys(): MapIterator<K> {
    return this.#sets.keys();
  }
}

const EMPTY: ReadonlySet<never> = new Set();

/** Makes an emulator's collections, all charging one meter. */
export interface MeteredStore {
  readonly meter: Meter;
  map<K, V>(): Map<K, V>;
  set<T>(items?: Iterable<T>): Set<T>;
  index<K, V>(): SetIndex<K, V>;
}

export function createMeteredStore(): MeteredStore {
  const meter: Meter = { visited: 0 };
  const store: MeteredStore = {
    meter,
    map: <K, V>() => new MeteredMap<K, V>(meter),
    set: <T>(items: Iterable<T> = []) => new MeteredSet(meter, items),
    index: <K, V>() => new SetIndex<K, V>(store),
  };
  return store;
}
