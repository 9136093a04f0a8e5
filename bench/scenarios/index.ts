// The scenarios, in the order they run and appear in BENCHMARKS.md.
import type { Scenario } from '../lib/scenario.ts';

export const scenarios: Scenario[] = [];
