// Which requests an emulator makes fail. A seed makes the sequence repeatable, so a test that saw a failure
// sees the same one again; without a seed the faults follow Math.random.

/**
 * How a failing request fails. `status`: a 5xx in the backend's own shape, the request not executed. `reset`: the
 * connection is dropped before the request is executed. `lost`: the request is executed (the write is applied),
 * then the connection is dropped without an answer — the case that tells an idempotent client from one that
 * applies a change twice. `slow`: the request is executed, then its answer is held back (`faultDelayMs`, or until
 * the client gives up) — a server that is overloaded, not down: the write happened, the client timed out.
 * `mixed`: one of the four, with equal odds.
 */
export type FailureMode = 'status' | 'reset' | 'lost' | 'slow' | 'mixed';

/** What happens to one request: answered normally (null), or one of the faults above. */
export type Fault = Exclude<FailureMode, 'mixed'> | null;

export const FAILURE_MODES: readonly FailureMode[] = ['status', 'reset', 'lost', 'slow', 'mixed'];
const FAULTS_OF_MIXED = ['status', 'reset', 'lost', 'slow'] as const;

/** How long a `slow` fault holds the answer by default: longer than any client's time limit should be. */
export const DEFAULT_FAULT_DELAY_MS = 120_000;

/** What a fault rule may look at: the request as the emulator's log shows it. */
export interface FaultTarget {
  readonly method: string;
  /** Raw path, without the query string. */
  readonly path: string;
  /** The SOAP action (`urn:create`), where the request has one. */
  readonly action?: string;
}

export interface FaultOptions {
  /** 0..1: the share of requests that fail. */
  failureRate?: number;
  /** How a failing request fails. Default `status`. */
  failureMode?: FailureMode;
  /** Makes the fault sequence deterministic. */
  seed?: number;
  /** Only requests this accepts may fail (tests aiming at one call, e.g. a create); default: any request. */
  only?: (request: FaultTarget) => boolean;
  /** At most this many faults; default no limit. */
  maxFaults?: number;
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
export function createFaultPlan(options: FaultOptions): (request?: FaultTarget) => Fault {
  const rate = options.failureRate ?? 0;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`failureRate must be between 0 and 1, got ${rate}`);
  const mode = options.failureMode ?? 'status';
  if (!FAILURE_MODES.includes(mode)) {
    throw new RangeError(`failureMode must be one of ${FAILURE_MODES.join(', ')}, got ${String(mode)}`);
  }
  if (rate === 0) return () => null;
  const random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  let left = options.maxFaults ?? Number.POSITIVE_INFINITY;
  return (request) => {
    if (left <= 0 || (options.only && request && !options.only(request))) return null;
    if (random() >= rate) return null;
    left -= 1;
    if (mode !== 'mixed') return mode;
    return FAULTS_OF_MIXED[Math.floor(random() * FAULTS_OF_MIXED.length)] ?? 'status';
  };
}
