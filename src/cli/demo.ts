// mailops demo : the whole loop on embedded emulators (James, and iRedAdmin-Pro, MailStore and
// Open-Xchange for the backends of those types), no server or secrets needed. Starts them in-process, plans
// examples/, applies, and shows that a second plan finds nothing to change.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningEmulator } from '../backends/emulator/server.ts';
import { createAdapter, startBackendEmulator } from '../backends/registry.ts';
import { Session } from '../engine/session.ts';
import { loadConfigFromPaths } from '../load/index.ts';
import type { SecretRef } from '../model/config.ts';
import { Sensitive } from '../model/sensitive.ts';
import { hasChanges, summarize } from '../plan/index.ts';
import { countResults, renderApplySummary, renderPlanText, renderResultLine } from '../render/text.ts';
import type { SecretResolver } from '../secrets/file-secrets.ts';
import { MemoryRecordStore } from '../state/records.ts';
import { EXIT_ERROR, EXIT_OK, reportFailure, styleFor } from './common.ts';
import { logger } from './session.ts';
import { reportBackendErrors } from './plan.ts';

export const EXAMPLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples');

/** Invents a password for every secret the examples name, once per secret. */
class InventedSecrets implements SecretResolver {
  readonly #values = new Map<string, Sensitive>();
  async resolve(ref: SecretRef): Promise<Sensitive> {
    const key = `${ref.name}/${ref.key}`;
    if (!this.#values.has(key)) this.#values.set(key, new Sensitive(randomBytes(18).toString('base64url')));
    return this.#values.get(key)!;
  }
}

export async function demoCommand(options: { filename?: string[]; verbose?: boolean }): Promise<number> {
  const verbose = options.verbose ?? false;
  const style = styleFor(process.stdout);
  const out = (text = '') => process.stdout.write(`${text}\n`);
  const inputs = options.filename?.length ? options.filename : [path.relative(process.cwd(), EXAMPLES_DIR) || '.'];
  const emulator = await startBackendEmulator('james', { listen: '127.0.0.1:0' });
  const others: RunningEmulator[] = [];
  const archives: RunningEmulator[] = [];
  const groupware: RunningEmulator[] = [];
  try {
    const config = await loadConfigFromPaths(inputs);
    const secrets = new InventedSecrets();
    for (const backend of config.backends) {
      if (backend.type === 'james') backend.url = emulator.url;
      // An iRedAdmin-Pro emulator per backend, logging in its admin with the invented password.
      if (backend.type === 'iredadmin' && backend.credentials.username && backend.credentials.password) {
        const password = (await secrets.resolve(backend.credentials.password)).reveal();
        const iredadmin = await startBackendEmulator('iredadmin', { listen: '127.0.0.1:0', user: backend.credentials.username, password });
        others.push(iredadmin);
        backend.url = iredadmin.url;
      }
      if (backend.type === 'mailstore') {
        // An archive beside the mail server, accepting the credentials the manifest names.
        const password = backend.credentials.password ? (await secrets.resolve(backend.credentials.password)).reveal() : 'admin';
        const archive = await startBackendEmulator('mailstore', { listen: '127.0.0.1:0', user: backend.credentials.username ?? 'admin', password });
        others.push(archive);
        archives.push(archive);
        backend.url = archive.url;
      }
      if (backend.type === 'openxchange' && backend.credentials.username && backend.credentials.password) {
        // A groupware server whose master admin is the manifest's; the context admins are those mailops creates.
        const password = (await secrets.resolve(backend.credentials.password)).reveal();
        const openxchange = await startBackendEmulator('openxchange', { listen: '127.0.0.1:0', user: backend.credentials.username, password });
        others.push(openxchange);
        groupware.push(openxchange);
        backend.url = openxchange.url;
        // The REST API is the same emulator.
        if (typeof backend.options['restUrl'] === 'string') backend.options = { ...backend.options, restUrl: openxchange.url };
      }
    }
    const session = await Session.resolveAndOpen({
      config,
      resolver: secrets,
      adapterFactory: createAdapter,
      records: new MemoryRecordStore(),
      fingerprintKey: randomBytes(32),
      log: logger(options),
    });
    try {
      out(style.bold(`mailops demo — a James WebAdmin emulator is listening on ${emulator.url}`));
      const kindOf = (other: RunningEmulator) =>
        archives.includes(other) ? 'a MailStore Server emulator (an email archive)' : groupware.includes(other) ? 'an Open-Xchange App Suite emulator (groupware)' : 'an iRedAdmin-Pro API emulator';
      for (const other of others) out(style.bold(`              and ${kindOf(other)} on ${other.url}`));
      out(`Configuration: ${inputs.join(', ')} (passwords invented for the demo)`);
      out();
      out(style.bold('1. mailops plan: what the configuration asks of an empty server'));
      out();
      const first = await session.plan();
      process.stdout.write(renderPlanText(first, { style, verbose }));
      reportBackendErrors(first);
      if (first.backends.some((b) => b.error)) return EXIT_ERROR;

      out();
      out(style.bold('2. mailops apply'));
      out();
      const report = await session.apply(first, { onResult: (r) => out(renderResultLine(r, style)) });
      process.stdout.write(`\n${renderApplySummary(report, [], style)}`);

      out();
      out(style.bold('3. mailops plan again: the server now matches the configuration'));
      out();
      const second = await session.plan();
      process.stdout.write(renderPlanText(second, { style, verbose }));

      const planned = summarize(first);
      const counts = countResults(report);
      const applyRequests = [...report.requests.values()].reduce((a, b) => a + b, 0);
      const observeRequests = second.backends.reduce((n, b) => n + b.requests, 0);
      out();
      out(style.bold('What happened'));
      out(`- The first plan observed the emulators with ${first.backends.reduce((n, b) => n + b.requests, 0)} requests (list calls: domains, users, mappings, quotas, throttles) and planned ${plural(planned.create, 'creation')}, ${plural(planned.update, 'update')} and ${plural(planned.delete, 'deletion')}.`);
      out(`- apply made ${counts.applied} changes (${counts.failed} failed, ${counts.skipped} skipped) with ${applyRequests} requests; passwords were sent once and only their keyed fingerprints were kept.`);
      const remaining = summarize(second);
      out(`- The second plan observed the same servers with ${observeRequests} requests and found ${plural(remaining.create + remaining.update + remaining.delete, 'change')} to make.`);
      if (groupware.length > 0) {
        out('- Open-Xchange was observed with its health check, its contexts, and per domain the user ids and their data in batches; one domain is now served by the mail server, the archive and the groupware at once.');
      }
      if (archives.length > 0) {
        out('- MailStore has no list call with user details: it was read with GetUsers and one GetUserInfo per managed user, and what it cannot hold (domains, quotas, aliases of several members) was shown as not applicable.');
      }
      out(`- Try it yourself: npx mailops emulate james --listen 127.0.0.1:8000, npx mailops emulate iredadmin --listen 127.0.0.1:8080 --user postmaster@example.org --password …, npx mailops emulate mailstore --listen 127.0.0.1:8463 --password … and npx mailops emulate openxchange --listen 127.0.0.1:8009 --user oxadminmaster --password …, then npx mailops plan -f examples/ (see README.md).`);
      return counts.failed + counts.skipped === 0 && !hasChanges(second) ? EXIT_OK : EXIT_ERROR;
    } finally {
      await session.close();
    }
  } catch (error) {
    return reportFailure(error, verbose);
  } finally {
    await Promise.all([emulator, ...others].map((running) => running.close()));
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
