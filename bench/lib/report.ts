// BENCHMARKS.json (docs/benchmarks.schema.json) and BENCHMARKS.md, both from one BenchReport.
import { formatNumber, type ScenarioResult } from './stats.ts';

export interface BenchReport {
  schemaVersion: 1;
  /** ISO time the run started. */
  startedAt: string;
  durationSeconds: number;
  /** The command that produced the report, as typed. */
  command: string;
  quick: boolean;
  runs: number;
  machine: { cores: number; cpuModel: string; memoryGiB: number; os: string; loadAverageAtStart: number[] };
  versions: Record<string, string>;
  scenarios: Array<{ id: string; title: string; description: string; durationSeconds: number; error?: string } & Partial<ScenarioResult>>;
}

export function renderMarkdown(report: BenchReport): string {
  const lines: string[] = [];
  const met = report.scenarios.flatMap((s) => s.targets ?? []);
  lines.push('# mailops benchmarks', '');
  lines.push(
    `Written by \`${report.command}\` on ${report.startedAt.slice(0, 10)} in ${formatDuration(report.durationSeconds)}; the same figures are in [BENCHMARKS.json](BENCHMARKS.json) ([schema](docs/benchmarks.schema.json)).`,
    `Every figure is the median of ${report.runs} runs, with the lowest and highest beside it; ratios are taken run by run, side by side in the same run, because an absolute time on a shared ${report.machine.cores}-core machine is noise.`,
    '',
  );
  if (report.quick) lines.push('**A `--quick` run:** smaller sizes and fewer runs, to check that the program works. Do not quote these figures.', '');
  lines.push('| Machine | |', '|---|---|');
  lines.push(`| Cores | ${report.machine.cores} (${report.machine.cpuModel}) |`);
  lines.push(`| Memory | ${report.machine.memoryGiB.toFixed(0)} GiB |`);
  lines.push(`| OS | ${report.machine.os} |`);
  lines.push(`| Load average at start | ${report.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(', ')} |`);
  for (const [name, version] of Object.entries(report.versions)) lines.push(`| ${name} | ${version} |`);
  lines.push('');
  const measured = met.filter((t) => t.met !== null);
  lines.push(`## Targets: ${measured.filter((t) => t.met).length} of ${measured.length} met${measured.length < met.length ? ` (${met.length - measured.length} not measured in this run)` : ''}`, '');
  lines.push('| Scenario | Target | Measured | Met |', '|---|---|---|---|');
  for (const scenario of report.scenarios) {
    for (const target of scenario.targets ?? []) {
      lines.push(`| ${scenario.title} | ${target.goal} | ${target.measured} | ${target.met === null ? 'not measured' : target.met ? 'yes' : '**no**'}${target.note ? `: ${target.note}` : ''} |`);
    }
    if (scenario.error) lines.push(`| ${scenario.title} | (all) | the scenario failed: ${scenario.error} | **no** |`);
  }
  lines.push('');
  report.scenarios.forEach((scenario, i) => {
    lines.push(`## ${i + 1}. ${scenario.title}`, '', scenario.description, '');
    if (scenario.error) lines.push(`**The scenario failed:** ${scenario.error}`, '');
    if (scenario.metrics && scenario.metrics.length > 0) {
      lines.push('| Measure | Median | Lowest – highest | Runs |', '|---|---:|---:|---:|');
      for (const m of scenario.metrics) {
        const range = m.samples.length > 1 ? `${formatNumber(m.min, m.unit)} – ${formatNumber(m.max, m.unit)}` : '';
        lines.push(`| ${m.label} | ${formatNumber(m.median, m.unit)} | ${range} | ${m.samples.length} |`);
      }
      lines.push('');
    }
    for (const note of scenario.notes ?? []) lines.push(`- ${note}`);
    if ((scenario.notes ?? []).length > 0) lines.push('');
    lines.push(`_${formatDuration(scenario.durationSeconds)} for this scenario._`, '');
  });
  return `${lines.join('\n')}\n`;
}

function formatDuration(seconds: number): string {
  return seconds >= 90 ? `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s` : `${seconds.toFixed(0)} s`;
}
