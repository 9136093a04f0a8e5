// One measured run of the plan-large scenario, in a process of its own so that its peak memory is
// its own: load + validate a configuration from files, then diff it against an identical observed
// state. Prints one JSON line. Usage: node plan-large-child.ts <config dir>
import { randomBytes } from 'node:crypto';
import { loadConfigFromPaths } from '../../src/load/index.ts';
import { JAMES_CAPABILITIES } from '../../src/backends/james/adapter.ts';
import { objectKey } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import { buildPlan, summarize, type Observation } from '../../src/plan/index.ts';
import { foldChanges } from '../../src/plan/fold.ts';
import { emptyState, type AppliedRecord } from '../../src/plan/state.ts';
import type { UserPassword } from '../../src/plan/desired.ts';
import { fingerprinter } from '../../src/state/fingerprint.ts';

const dir = process.argv[2]!;
let t = performance.now();
const config = await loadConfigFromPaths([dir]);
const loadMs = performance.now() - t;

// What secrets would resolve to (resolving is I/O, measured by the apply scenarios, not here).
const fingerprint = fingerprinter(randomBytes(32));
const passwords = new Map<string, UserPassword>();
for (const user of config.users) passwords.set(objectKey(user.ref), { secret: new Sensitive(`pw-${user.address}`), fingerprint: fingerprint(user.address, `pw-${user.address}`) });

// The identical observed state: what the backend holds once the plan from an empty one is applied,
// folded the way the engine folds applied changes, with the records an apply leaves.
const backend = config.backends[0]!;
const empty: Observation = { backendId: backend.id, state: emptyState(), capabilities: JAMES_CAPABILITIES, requests: 0 };
const fromEmpty = buildPlan({ config, observations: new Map([[backend.id, empty]]), records: () => new Map(), passwords });
const observed = foldChanges(emptyState(), fromEmpty.backends[0]!.changes);
const records = new Map<string, AppliedRecord>();
for (const user of config.users) records.set(objectKey(user.ref), { address: user.address, passwordFingerprint: passwords.get(objectKey(user.ref))!.fingerprint });
const identical: Observation = { backendId: backend.id, state: observed, capabilities: JAMES_CAPABILITIES, requests: 0 };

t = performance.now();
const plan = buildPlan({ config, observations: new Map([[backend.id, identical]]), records: () => records, passwords });
const diffMs = performance.now() - t;
const summary = summarize(plan);

console.log(
  JSON.stringify({
    loadMs,
    diffMs,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    users: config.users.length,
    aliases: config.aliases.length,
    domains: config.domains.length,
    changesFromEmpty: summarize(fromEmpty).create,
    changes: summary.create + summary.update + summary.delete,
  }),
);
