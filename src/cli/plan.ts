// mailops plan -f … : observe every backend, print what apply would change.
// Exit codes: 0 success; with --detailed-exitcode 0 = no changes, 2 = changes; 1 = error
// (invalid configuration, a backend that could not be observed, a safety-valve refusal).
import { hasChanges, type Plan } from '../plan/index.ts';
import { toPlanDocument } from '../render/json.ts';
import { renderPlanMarkdown } from '../render/markdown.ts';
import { renderPlanText } from '../render/text.ts';
import { EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError, loadConfig, reportFailure, reportWarnings, styleFor, type CommonOptions } from './common.ts';
import { logger, openSession } from './session.ts';

export type OutputFormat = 'text' | 'json' | 'markdown';

export interface PlanOptions extends CommonOptions {
  output?: string;
  detailedExitcode?: boolean;
  /** Show the change since this git revision, object by object (cause and effect). */
  gitBase?: string;
  /** With gitBase: the declared state only; no backend is contacted, no secret read. */
  offline?: boolean;
}

export function outputFormat(value: string | undefined, allowed: OutputFormat[]): OutputFormat {
  const format = (value ?? 'text') as OutputFormat;
  if (!allowed.includes(format)) throw new UsageError(`-o ${value}: choose one of ${allowed.join(', ')}`);
  return format;
}

export async function planCommand(options: PlanOptions): Promise<number> {
  const verbose = options.verbose ?? false;
  if (options.gitBase !== undefined || options.offline) return (await import('./plan-git.ts')).planSinceRevision(options);
  try {
    const format = outputFormat(options.output, ['text', 'json', 'markdown']);
    const log = logger(options);
    const config = await loadConfig(options);
    reportWarnings(config);
    const session = await openSession(config, options, log, { writes: false });
    try {
      const plan = await session.plan();
      writePlan(plan, format, verbose);
      return planExitCode(plan, options.detailedExitcode ?? false);
    } finally {
      await session.close();
    }
  } catch (error) {
    return reportFailure(error, verbose);
  }
}

export function writePlan(plan: Plan, format: OutputFormat, verbose: boolean): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(toPlanDocument(plan), null, 2)}\n`);
  else if (format === 'markdown') process.stdout.write(renderPlanMarkdown(plan));
  else process.stdout.write(renderPlanText(plan, { style: styleFor(process.stdout), verbose }));
  reportBackendErrors(plan);
}

/** One line per backend that could not be observed, on stderr. */
export function reportBackendErrors(plan: Plan): void {
  for (const backend of plan.backends) {
    if (backend.error) process.stderr.write(`Error: ${backend.error}\n`);
    for (const refusal of backend.refusals) process.stderr.write(`Error: refused: ${refusal.message}\n`);
  }
}

export function planExitCode(plan: Plan, detailed: boolean): number {
  if (plan.backends.some((b) => b.error || b.refusals.length > 0)) return EXIT_ERROR;
  if (detailed && hasChanges(plan)) return EXIT_CHANGES;
  return EXIT_OK;
}
