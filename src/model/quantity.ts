// Quota limits as users write them: a storage size as a Kubernetes quantity (`2Gi`, `500M`,
// `1073741824`) and a message count as an integer, either of them `unlimited`.

/** A limit in its resolved form: bytes or messages, or no limit at all. */
export type Limit = number | 'unlimited';

export const UNLIMITED = 'unlimited';

// Binary suffixes (Ki … Ei) and decimal ones (k … E), as in Kubernetes resource.Quantity.
// Milli (`m`) and exponent forms are left out on purpose: a storage limit is a whole number of bytes.
export const STORAGE_PATTERN = '^(unlimited|[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?)$';
export const MESSAGES_PATTERN = '^(unlimited|[0-9]+)$';

const MULTIPLIERS: Record<string, bigint> = {
  '': 1n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  E: 1000n ** 6n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};

export class QuantityError extends Error {}

/** Parses a storage quantity into bytes. Throws QuantityError with a message a person can act on. */
export function parseStorage(value: number | string): Limit {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new QuantityError(`${value} is not a whole, non-negative number of bytes`);
    }
    return value;
  }
  if (value === UNLIMITED) return UNLIMITED;
  const match = /^([0-9]+)(?:\.([0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(value);
  if (!match) {
    throw new QuantityError(`"${value}" is not a storage size; write it like 500Mi, 2Gi, 10G or unlimited`);
  }
  const [, whole = '0', fraction = '', suffix = ''] = match;
  const multiplier = MULTIPLIERS[suffix] ?? 1n;
  const scale = 10n ** BigInt(fraction.length);
  const numerator = (BigInt(whole) * scale + BigInt(fraction || '0')) * multiplier;
  if (numerator % scale !== 0n) {
    throw new QuantityError(`"${value}" is not a whole number of bytes`);
  }
  const bytes = numerator / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(`"${value}" is larger than any backend can store`);
  }
  return Number(bytes);
}

export function parseMessages(value: number | string): Limit {
  if (value === UNLIMITED) return UNLIMITED;
  const count = typeof value === 'number' ? value : /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new QuantityError(`"${value}" is not a message count; write a whole number or unlimited`);
  }
  return count;
}

const BINARY_UNITS: Array<[string, number]> = [
  ['Ei', 1024 ** 6],
  ['Pi', 1024 ** 5],
  ['Ti', 1024 ** 4],
  ['Gi', 1024 ** 3],
  ['Mi', 1024 ** 2],
  ['Ki', 1024],
];

/** Renders bytes the way a person would write them back into a manifest (`2Gi`, `1536Mi`, `1000`). */
export function formatStorage(limit: Limit | null): string {
  if (limit === null) return '(unset)';
  if (limit === UNLIMITED) return UNLIMITED;
  for (const [unit, size] of BINARY_UNITS) {
    if (limit >= size && limit % size === 0) return `${limit / size}${unit}`;
  }
  return String(limit);
}

export function formatMessages(limit: Limit | null): string {
  if (limit === null) return '(unset)';
  return String(limit);
}

/** A period: whole seconds, or a number with the unit s, m, h or d (`30m`, `1h`, `1d`). */
export const DURATION_PATTERN = '^[0-9]+(s|m|h|d)?$';

const SECONDS_PER_UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses a period into seconds (at least one). */
export function parsePeriod(value: number | string): number {
  const match = typeof value === 'number' ? [String(value), String(value), ''] : /^([0-9]+)(s|m|h|d)?$/.exec(value);
  const seconds = match ? Number(match[1]) * (SECONDS_PER_UNIT[match[2] ?? ''] ?? Number.NaN) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new QuantityError(`"${value}" is not a period; write whole seconds, or a duration such as 30m, 1h or 1d`);
  }
  return seconds;
}

/** Renders seconds in the largest unit that divides them (`1h`, `90m`, `45s`). */
export function formatPeriod(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
