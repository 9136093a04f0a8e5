// What a benchmark scenario is, and what it is given to run with.
import type { ScenarioResult } from './stats.ts';

export interface BenchContext {
  /** `--quick`: smaller sizes and fewer runs, to check that the program works (not to quote). */
  quick: boolean;
  /** How many times each measurement is repeated. */
  runs: number;
  /** A scratch directory of this scenario, removed after the run. */
  tmpDir: string;
  /** Progress for the person watching; goes to stderr. */
  log(message: string): void;
  /** The real James of the test harness, started once on first use and stopped at the end. */
  realJames(): Promise<{ url: string; token?: string; version: string }>;
}

export interface Scenario {
  /** Stable key in BENCHMARKS.json and for `--only`. */
  id: string;
  title: string;
  /** What is measured and why, a paragraph for BENCHMARKS.md. */
  description: string;
  run(context: BenchContext): Promise<ScenarioResult>;
}
