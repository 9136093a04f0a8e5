// `npm run bench [-- --quick] [--only id,id] [--runs N] [--out dir]`: runs the scenarios one after
// the other, then writes BENCHMARKS.md and BENCHMARKS.json. A full run writes them at the root of
// the repository; a quick or partial run writes them under bench/out/, so that the published figures
// are always those of a full run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem, type } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { JAMES_VERSION, startRealJames, type RealJames } from '../test/support/real-james.ts';
import { renderMarkdown, type BenchReport } from './lib/report.ts';
import type { BenchContext, Scenario } from './lib/scenario.ts';
import { scenarios } from './scenarios/index.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    out: { type: 'string' },
  },
  strict: true,
});

const quick = values.quick ?? false;
const runs = values.runs !== undefined ? Number(values.runs) : quick ? 1 : 3;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number of 1 or more, got ${values.runs}`);
const only = values.only?.split(',').map((id) => id.trim()).filter(Boolean);
for (const id of only ?? []) {
  if (!scenarios.some((s) => s.id === id)) throw new Error(`--only: no scenario "${id}"; there are ${scenarios.map((s) => s.id).join(', ')}`);
}
const chosen: Scenario[] = only ? scenarios.filter((s) => only.includes(s.id)) : scenarios;
const outDir = path.resolve(values.out ?? (quick || only ? path.join(ROOT, 'bench', 'out') : ROOT));
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

let james: Promise<RealJames> | undefined;
const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

const startedAt = new Date();
const report: BenchReport = {
  schemaVersion: 1,
  startedAt: startedAt.toISOString(),
  durationSeconds: 0,
  command,
  quick,
  runs,
  machine: {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    os: `${type()} ${release()}`,
    loadAverageAtStart: loadavg(),
  },
  versions: versions(),
  scenarios: [],
};

const scratch = mkdtempSync(path.join(tmpdir(), 'mailops-bench-'));
const stop = async () => {
  if (james) await (await james.catch(() => undefined))?.stop();
  rmSync(scratch, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping what the benchmark started`);
    void stop().finally(() => process.exit(130));
  });
}

try {
  for (const scenario of chosen) {
    const tmpDir = path.join(scratch, scenario.id);
    mkdirSync(tmpDir, { recursive: true });
    const context: BenchContext = {
      quick,
      runs,
      tmpDir,
      log: (message) => log(`${scenario.id}: ${message}`),
      realJames: async () => {
        james ??= startRealJames({ jwt: true });
        const started = await james;
        return { url: started.url, ...(started.token ? { token: started.token } : {}), version: JAMES_VERSION };
      },
    };
    log(`${scenario.id}: ${scenario.title}`);
    const begun = performance.now();
    try {
      const result = await scenario.run(context);
      report.scenarios.push({ id: scenario.id, title: scenario.title, description: scenario.description, durationSeconds: (performance.now() - begun) / 1000, ...result });
    } catch (error) {
      // One failing scenario does not hide the others' figures; the report says it failed, and the exit code too.
      log(`${scenario.id} failed: ${(error as Error).stack ?? String(error)}`);
      report.scenarios.push({ id: scenario.id, title: scenario.title, description: scenario.description, durationSeconds: (performance.now() - begun) / 1000, error: (error as Error).message });
    }
    rmSync(tmpDir, { recursive: true, force: true });
  }
} finally {
  await stop();
}

report.durationSeconds = (Date.now() - startedAt.getTime()) / 1000;
if (james) report.versions['Apache James'] = `${JAMES_VERSION} (james-server-memory-app)`;
// The report keeps to its published schema, or it is not written as if it did.
const validate = new Ajv({ strict: true, allErrors: true, formats: { 'date-time': true } }).compile(JSON.parse(readFileSync(path.join(ROOT, 'docs', 'benchmarks.schema.json'), 'utf8')) as object);
if (!validate(JSON.parse(JSON.stringify(report)))) throw new Error(`the report does not match docs/benchmarks.schema.json: ${JSON.stringify(validate.errors)}`);
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, 'BENCHMARKS.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(path.join(outDir, 'BENCHMARKS.md'), renderMarkdown(report));
log(`wrote ${path.join(outDir, 'BENCHMARKS.md')} and BENCHMARKS.json in ${report.durationSeconds.toFixed(0)} s (free memory now ${(freemem() / 2 ** 30).toFixed(1)} GiB)`);
process.exitCode = report.scenarios.some((s) => s.error) ? 1 : 0;

function versions(): Record<string, string> {
  const pkg = (name: string) => (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  const own = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return {
    mailops: `${own.version} (${commit})`,
    'Node.js': process.version,
    yaml: pkg('yaml'),
    'js-yaml': pkg('js-yaml'),
    undici: pkg('undici'),
    autocannon: pkg('autocannon'),
    'kube-apiserver': process.env.MAILOPS_KUBE_VERSION ?? '1.35.4',
    etcd: process.env.MAILOPS_ETCD_VERSION ?? '3.6.7',
  };
}
