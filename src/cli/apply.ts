// mailops apply -f … : plan, then apply every change and report each object's result.
// Exit 0 when everything converged; 1 when anything failed, was skipped or could not be observed.
// --dry-run is `plan`.
import ora, { type Ora } from 'ora';
import type { ChangeResult } from '../engine/apply.ts';
import type { ApplyReport } from '../engine/engine.ts';
import type { Session } from '../engine/session.ts';
import { lockStateDir, defaultStateDir } from '../state/records.ts';
import { hasChanges, type Plan } from '../plan/index.ts';
import { toApplyDocument } from '../render/json.ts';
import { backendLabel, countResults, renderApplySummary, renderPlanText, renderResultLine, type TextStyle } from '../render/text.ts';
import { EXIT_ERROR, EXIT_OK, loadConfig, reportFailure, reportWarnings, styleFor, type CommonOptions } from './common.ts';
import { logger, openSession } from './session.ts';
import { outputFormat, planCommand, reportBackendErrors } from './plan.ts';

export interface ApplyCommandOptions extends CommonOptions {
  output?: string;
  dryRun?: boolean;
}

export async function applyCommand(options: ApplyCommandOptions): Promise<number> {
  if (options.dryRun) return planCommand(options);
  const verbose = options.verbose ?? false;
  try {
    const format = outputFormat(options.output, ['text', 'json']);
    const log = logger(options);
    const config = await loadConfig(options);
    reportWarnings(config);
    const unlock = await lockStateDir(options.stateDir ?? defaultStateDir());
    try {
      const session = await openSession(config, options, log, { writes: true });
      try {
        return await runApply(session, format === 'json', verbose);
      } finally {
        await session.close();
      }
    } finally {
      await unlock();
    }
  } catch (error) {
    return reportFailure(error, verbose);
  }
}

async function runApply(session: Session, json: boolean, verbose: boolean): Promise<number> {
  const style = styleFor(process.stdout);
  const plan = await session.plan();
  if (!json) process.stdout.write(renderPlanText(plan, { style, verbose }));
  reportBackendErrors(plan);
  if (plan.backends.some((b) => b.refusals.length > 0)) {
    if (json) process.stdout.write(`${JSON.stringify(toApplyDocument(plan, { results: [], requests: new Map() }), null, 2)}\n`);
    process.stderr.write('Nothing was applied.\n');
    return EXIT_ERROR;
  }
  const backendErrors = plan.backends.flatMap((b) => (b.error ? [b.error] : []));
  if (!hasChanges(plan)) {
    await session.apply(plan); // keeps what the backends confirmed while planning
    if (json) process.stdout.write(`${JSON.stringify(toApplyDocument(plan, { results: [], requests: new Map() }), null, 2)}\n`);
    return backendErrors.length > 0 ? EXIT_ERROR : EXIT_OK;
  }

  // Ctrl-C: start nothing new, let running changes finish, cancel backend tasks.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = json ? null : new Progress(plan, style);
  try {
    if (!json) process.stdout.write('\n');
    const report = await session.apply(plan, {
      signal: interrupt.signal,
      onResult: (result) => progress?.result(result),
      onTaskProgress: (backend, task, status) =>
        progress?.note(`${backend}: ${task.description}: ${status.state}${status.progress !== undefined ? ` ${status.progress}%` : ''}`),
    });
    progress?.stop();
    if (json) {
      process.stdout.write(`${JSON.stringify(toApplyDocument(plan, report), null, 2)}\n`);
    } else {
      process.stdout.write(`\n${renderApplySummary(report, backendErrors, style)}`);
      if (verbose) writeRequestCounts(report, style);
    }
    const counts = countResults(report);
    return counts.failed + counts.skipped + backendErrors.length === 0 ? EXIT_OK : EXIT_ERROR;
  } finally {
    progress?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function writeRequestCounts(report: ApplyReport, style: TextStyle): void {
  for (const [backend, requests] of report.requests) {
    process.stdout.write(style.dim(`Applied on backend "${backendLabel({ backendId: backend, backendName: backend.slice(backend.indexOf('/') + 1) })}" with ${requests} HTTP request${requests === 1 ? '' : 's'}.\n`));
  }
}

/**
 * A progress line is drawn only on a terminal that says how wide it is: a pseudo-terminal that
 * reports 0 columns (some CI runners, `script`) made the spinner spin forever without applying.
 */
function canDrawProgress(): boolean {
  return Boolean(process.stderr.isTTY && process.stdout.isTTY && (process.stderr.columns ?? 0) > 0);
}

/** Result lines on stdout; on a terminal, a progress line below them (ora, on stderr). */
class Progress {
  readonly #total: number;
  readonly #style: TextStyle;
  readonly #spinner: Ora | null;
  #done = 0;
  #failed = 0;
  #note = '';

  constructor(plan: Plan, style: TextStyle) {
    this.#total = plan.backends.reduce((n, b) => n + b.changes.length, 0);
    this.#style = style;
    this.#spinner = canDrawProgress() ? ora({ stream: process.stderr, text: this.#text() }).start() : null;
  }

  result(result: ChangeResult): void {
    this.#done += 1;
    if (result.outcome !== 'applied') this.#failed += 1;
    this.#spinner?.clear();
    process.stdout.write(`${renderResultLine(result, this.#style)}\n`);
    if (this.#spinner) {
      this.#spinner.text = this.#text();
      this.#spinner.render();
    }
  }

  note(text: string): void {
    this.#note = text;
    if (this.#spinner) this.#spinner.text = this.#text();
  }

  stop(): void {
    this.#spinner?.stop();
  }

  #text(): string {
    const failed = this.#failed ? `, ${this.#failed} not applied` : '';
    return `Applying: ${this.#done}/${this.#total} done${failed}${this.#note ? ` — ${this.#note}` : ''}`;
  }
}
