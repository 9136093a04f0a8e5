// The faults each test injected, printed once per file, so that the README can quote how many faults the suite
// injects ("N faults injected") from a run rather than from a guess.
const tally: Array<{ test: string; faults: Record<string, number> }> = [];

export function recordFaults(test: string, faults: Record<string, number>): void {
  tally.push({ test, faults });
}

export function reportFaults(file: string): void {
  if (tally.length === 0) return;
  const total = tally.reduce((sum, entry) => sum + Object.values(entry.faults).reduce((a, b) => a + b, 0), 0);
  const lines = tally.map(({ test, faults }) => `  ${test}: ${Object.entries(faults).map(([kind, n]) => `${n} ${kind}`).join(', ') || 'none'}`);
  console.log(`[faults] ${file}: ${total} faults injected\n${lines.join('\n')}`);
}
