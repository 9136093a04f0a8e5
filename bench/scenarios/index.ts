// The scenarios, in the order they run and appear in BENCHMARKS.md (the numbering).
import type { Scenario } from '../lib/scenario.ts';
import { asyncTasksScenario } from './async-tasks.ts';
import { controllerScenario } from './controller.ts';
import { fanOutScenario } from './fan-out.ts';
import { initialApply } from './initial-apply.ts';
import { naive } from './naive.ts';
import { planLarge } from './plan-large.ts';
import { steadyState } from './steady-state.ts';

export const scenarios: Scenario[] = [planLarge, initialApply, steadyState, naive, controllerScenario, asyncTasksScenario, fanOutScenario];
