// The top entries of a V8 CPU profile (node --cpu-prof) by self time, as BENCHMARKS.md shows them.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** `function (file:line)`, the file relative to the repository or node_modules. */
  entry: string;
  selfMs: number;
  /** Share of the sampled time, idle excluded. */
  percent: number;
}

export function topOfProfile(file: string, root: string, count: number): ProfileEntry[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byNode = new Map<number, number>();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byEntry = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const micros = byNode.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)' || micros === 0) continue;
    total += micros;
    const where = url ? `${shorten(url, root)}:${lineNumber + 1}` : '';
    const entry = where ? `${functionName || '(anonymous)'} (${where})` : functionName;
    byEntry.set(entry, (byEntry.get(entry) ?? 0) + micros);
  }
  return [...byEntry]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([entry, micros]) => ({ entry, selfMs: micros / 1000, percent: (100 * micros) / total }));
}

function shorten(url: string, root: string): string {
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules !== -1) return file.slice(modules + '/node_modules/'.length);
  return file.startsWith(root) ? path.relative(root, file) : file;
}
