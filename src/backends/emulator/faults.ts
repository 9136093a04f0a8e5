// Which requests an emulator makes fail. A seed makes the sequence repeatable, so a test that saw a failure
// sees the same one again; without a seed the faults follow Math.random.

export type FailureMode = 'status' | 'reset' | 'mixed';

/** What happens to one request: answered normally (null), a 5xx in the backend's shape, or a dropped connection. */
export type Fault = 'status' | 'reset' | null;

export interface FaultOptions {
  /** 0..1: the share of requests that fail. */
  failureRate?: number;
  /** How a failing request fails; `mixed` picks `status` or `reset` with equal odds. Default `status`. */
  failureMode?: FailureMode;
  /** Makes the fault sequence deterministic. */
  seed?: number;
}

/** mulberry32: a tiny seeded PRNG, good enough to spread faults, not for anything secret. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Returns a function that decides the fate of the next request, one call per request. */
export function createFaultPlan(options: FaultOptions): () => Fault {
  const rate = options.failureRate ?? 0;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failureRate must be between 0 and 1, got ${rate}`);
  const mode = options.failureMode ?? 'status';
  if (mode !== 'status' && mode !== 'reset' && mode !== 'mixed') {
    throw new RangeError(`failureMode must be status, reset or mixed, got ${String(mode)}`);
  }
  if (rate === 0) return () => null;
  const random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  return () => {
    if (random() >= rate) return null;
    if (mode !== 'mixed') return mode;
    return random() < 0.5 ? 'status' : 'reset';
  };
}
