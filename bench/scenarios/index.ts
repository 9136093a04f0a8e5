// The scenarios, in the order they run and appear in BENCHMARKS.md.
import type { Scenario } from '../lib/scenario.ts';
import { planLarge } from './plan-large.ts';

export const scenarios: Scenario[] = [planLarge];
