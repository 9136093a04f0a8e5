// Repeated measurements → median and spread. A single time on a shared 2-core machine is noise; the
// median of several runs, with the range beside it, is what BENCHMARKS.md reports.

export interface Metric {
  /** Stable key in BENCHMARKS.json, e.g. `load-validate-ms`. */
  id: string;
  label: string;
  unit: string;
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median: how far apart the runs were. 0 for one run. */
  spread: number;
}

export function metric(id: string, label: string, unit: string, samples: number[]): Metric {
  if (samples.length === 0) throw new Error(`metric ${id}: no samples`);
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return { id, label, unit, samples, median, min, max, spread: median === 0 ? 0 : (max - min) / Math.abs(median) };
}

/** A target of the issue: what was asked, what was measured, and whether it holds. */
export interface Target {
  goal: string;
  measured: string;
  /** null: not measured in this run (a --quick run measures smaller sizes than the targets name). */
  met: boolean | null;
  /** Why it is missed, or what the figure leaves out. */
  note?: string;
}

export interface ScenarioResult {
  metrics: Metric[];
  targets: Target[];
  /** What the reader needs to read the figures: set-up, concurrency, what was not measured. */
  notes: string[];
  /** Scenario-specific detail kept in BENCHMARKS.json (e.g. requests by route, profile entries). */
  details?: Record<string, unknown>;
}

/** Runs `fn` `runs` times one after the other and returns each run's result. */
export async function repeat<T>(runs: number, fn: (run: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let run = 0; run < runs; run++) results.push(await fn(run));
  return results;
}

export function formatNumber(value: number, unit: string): string {
  if (unit === 'ms' && value >= 10_000) return `${(value / 1000).toFixed(1)} s`;
  if (unit === 'ms') return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ms`;
  if (unit === 'MiB') return `${value.toFixed(0)} MiB`;
  if (unit === 'ratio') return `${value.toFixed(2)}×`;
  if (unit === '%') return `${value.toFixed(1)} %`;
  if (unit === 'req/s') return `${value.toFixed(0)} req/s`;
  if (Number.isInteger(value)) return `${value.toLocaleString('en')}${unit ? ` ${unit}` : ''}`;
  return `${value.toFixed(2)}${unit ? ` ${unit}` : ''}`;
}
