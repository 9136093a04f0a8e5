// The scenarios, in the order they run and appear in BENCHMARKS.md.
import type { Scenario } from '../lib/scenario.ts';
import { initialApply } from './initial-apply.ts';
import { naive } from './naive.ts';
import { planLarge } from './plan-large.ts';
import { steadyState } from './steady-state.ts';

export const scenarios: Scenario[] = [
  planLarge,
  initialApply,
  steadyState,
  naive,
];
