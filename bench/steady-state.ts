// Benchmark: how many requests does a steady-state plan cost, and how long do plan and apply take,
// for N users on the James emulator? Usage: npm run bench -- [N ...] (default 10 1000).
// The request count must not grow with N: observing uses list calls only.
import { randomBytes } from 'node:crypto';
import { startJamesEmulator } from '../src/backends/james/emulator.ts';
import { createAdapter } from '../src/backends/registry.ts';
import { Session } from '../src/engine/session.ts';
import { loadConfigFromDocuments, parseYamlFile } from '../src/load/index.ts';
import type { SecretRef } from '../src/model/config.ts';
import { Sensitive } from '../src/model/sensitive.ts';
import { hasChanges, summarize } from '../src/plan/index.ts';
import { MemoryRecordStore } from '../src/state/records.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);

function manifests(url: string, users: number): string {
  const docs = [
    `apiVersion: mailops.dev/v1alpha1\nkind: MailBackend\nmetadata: {name: james}\nspec: {type: james, url: '${url}', limits: {concurrency: 16, requestsPerSecond: 100000}}`,
    `apiVersion: mailops.dev/v1alpha1\nkind: MailDomain\nmetadata: {name: bench}\nspec: {domain: bench.example, backendRefs: [{name: james}], defaultQuota: {storage: 1Gi}}`,
  ];
  for (let i = 0; i < users; i++) {
    docs.push(
      `apiVersion: mailops.dev/v1alpha1\nkind: MailUser\nmetadata: {name: u${i}}\nspec:\n  address: user${i}@bench.example\n  passwordSecretRef: {name: u${i}, key: password}\n  extraAddresses: [alias${i}@bench.example]\n  quota: {messages: ${1000 + i}}`,
    );
  }
  docs.push(`apiVersion: mailops.dev/v1alpha1\nkind: Alias\nmetadata: {name: all}\nspec: {address: all@bench.example, members: [user0@bench.example]}`);
  return docs.join('\n---\n');
}

const secrets = { resolve: async (ref: SecretRef) => new Sensitive(`pw-${ref.name}`) };

console.log('users  first plan (requests, ms)  apply (changes, requests, ms)  steady-state plan (requests, ms)');
for (const n of sizes.length ? sizes : [10, 1000]) {
  const emulator = await startJamesEmulator({});
  try {
    const parsed = parseYamlFile('bench.yaml', manifests(emulator.url, n));
    const config = loadConfigFromDocuments(parsed.documents, parsed.errors);
    const session = await Session.resolveAndOpen({ config, resolver: secrets, records: new MemoryRecordStore(), fingerprintKey: randomBytes(32), adapterFactory: createAdapter });
    let t = performance.now();
    const first = await session.plan();
    const firstMs = performance.now() - t;
    t = performance.now();
    const report = await session.apply(first);
    const applyMs = performance.now() - t;
    t = performance.now();
    const steady = await session.plan();
    const steadyMs = performance.now() - t;
    await session.close();
    if (hasChanges(steady)) throw new Error(`N=${n}: the steady-state plan still has changes`);
    const s = summarize(first);
    const applyRequests = [...report.requests.values()].reduce((a, b) => a + b, 0);
    console.log(
      `${String(n).padStart(5)}  ${String(first.backends[0]!.requests).padStart(8)}, ${firstMs.toFixed(0).padStart(6)}           ` +
        `${String(s.create + s.update).padStart(6)}, ${String(applyRequests).padStart(7)}, ${applyMs.toFixed(0).padStart(7)}            ` +
        `${String(steady.backends[0]!.requests).padStart(6)}, ${steadyMs.toFixed(0).padStart(6)}`,
    );
  } finally {
    await emulator.close();
  }
}
