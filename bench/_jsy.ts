import { loadAll, parseEvents } from 'js-yaml';
import { readFileSync } from 'node:fs';
const text = readFileSync('/tmp/one100k.yaml', 'utf8');
const t0 = performance.now();
const mode = process.argv[2];
if (mode === 'events') { const e = parseEvents(text, {}); console.log('events', e.length); }
else { const d = loadAll(text, { maxAliases: 0 }); console.log('docs', d.length); }
console.log(mode, (performance.now() - t0).toFixed(0), 'ms', (process.memoryUsage().rss / 1e6).toFixed(0), 'MB rss', (process.memoryUsage().heapUsed / 1e6).toFixed(0), 'heap');
