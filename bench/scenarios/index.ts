// The scenarios, in the order they run and appear in BENCHMARKS.md.
import type { Scenario } from '../lib/scenario.ts';
import { controllerScenario } from './controller.ts';
import { asyncTasksScenario } from './async-tasks.ts';
import { fanOutScenario } from './fan-out.ts';

export const scenarios: Scenario[] = [];
scenarios.push(controllerScenario);
scenarios.push(asyncTasksScenario);
scenarios.push(fanOutScenario);
