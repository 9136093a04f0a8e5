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

/**
 * The time spent inside each named function, its callees included (each sample counted once per
 * function on its stack), as a share of the sampled time: where a phase's time goes, beside the
 * top entries, which may be spread thin.
 */
export function timeInside(file: string, functionNames: readonly string[]): Array<{ name: string; ms: number; percent: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile & { nodes: Array<{ id: number; children?: number[] }> };
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inside = new Map(functionNames.map((name) => [name, 0]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    if (byId.get(id)?.callFrame.functionName === '(idle)') return;
    total += micros;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = byId.get(at)!.callFrame.functionName;
      if (inside.has(name) && !seen.has(name)) {
        seen.add(name);
        inside.set(name, inside.get(name)! + micros);
      }
    }
  });
  return [...inside].map(([name, micros]) => ({ name, ms: micros / 1000, percent: (100 * micros) / total }));
}
