// `mailops export`: read live backends and write manifests that, applied unchanged, plan
// `No changes.` — adoption of an existing server without a single write.
//
// 1. Each backend is observed with ObserveScope.discover: everything it holds (in the domains asked for).
// 2. What they report is merged into one set of objects (merge.ts) and written as manifests (manifests.ts).
// 3. The manifests are loaded with the ordinary loader, each backend is observed again with the
//    ordinary scope of those manifests — exactly as `plan` will — and the manifests are planned. A
//    field whose declared value would still change a backend is left out (and listed); the loop
//    ends when the manifests plan no change and reading again gives the same manifests.
//
// Nothing is ever written to a backend: the engine here only observes and plans.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { loadConfigFromDocuments, parseYamlFile, type SourceDocument } from '../load/index.ts';
import type { BackendDecl, Config } from '../model/config.ts';
import type { AdapterFactory, BackendCredentials } from '../engine/adapter.ts';
import { Engine } from '../engine/engine.ts';
import type { BackendObservation } from '../engine/observe.ts';
import type { Change, Plan } from '../plan/index.ts';
import { MemoryRecordStore } from '../state/records.ts';
import { renderManifests, type ManifestFileOut } from './manifests.ts';
import { leaveOutKey, mergeReports, type BackendReport, type ExportModel } from './merge.ts';

export interface ExportRequest {
  /** The MailBackend documents of the backends to read (and nothing else). */
  backendDocuments: SourceDocument[];
  /** Those backends as loaded, with URL overrides applied (the documents' URLs are replaced by these). */
  backends: BackendDecl[];
  credentials: ReadonlyMap<string, BackendCredentials>;
  /** Export only these domains; null: every domain. */
  domains: string[] | null;
  perObject: boolean;
  /** Where the files will be written: positions in errors name them there. */
  outputDir: string;
  adapterFactory: AdapterFactory;
  log?: Logger;
}

export interface ExportResult {
  files: ManifestFileOut[];
  model: ExportModel;
  /** Why the files would not plan `No changes.` (empty when they were verified to). */
  problems: string[];
  /** HTTP requests spent reading, per backend name. */
  requests: Map<string, number>;
}

/** Enough rounds for a field left out to settle, with room for a domain and a global default after it. */
const MAX_ROUNDS = 8;

export async function exportBackends(request: ExportRequest): Promise<ExportResult> {
  const namespaces = new Set(request.backends.map((b) => b.ref.namespace));
  if (namespaces.size > 1) throw new ExportError(`the backends to export are in different namespaces (${[...namespaces].join(', ')}); export them one namespace at a time`);
  const namespace = [...namespaces][0] ?? 'default';
  const names = new Map(request.backends.map((b) => [b.id, b.name]));
  const requests = new Map<string, number>();
  const engine = new Engine({
    adapterFactory: request.adapterFactory,
    // Nothing is kept: no records, and a throw-away key (no password is read or compared).
    records: new MemoryRecordStore(),
    fingerprintKey: randomBytes(32),
    ...(request.log ? { log: request.log } : {}),
    taskMode: 'block',
  });
  try {
    await engine.connect(request.backends, request.credentials);
    const onlyBackends: Config = { backends: request.backends, domains: [], users: [], aliases: [], globalQuotas: [], quotaPolicies: [], skippedDocuments: 0, warnings: [], notes: [] };
    const discover = { domains: request.domains };
    let reports = await observeAll(engine, onlyBackends, request.backends, requests, { discover });

    const leaveOut = new Map<string, string>();
    const mergeOptions = { domains: request.domains ? new Set(request.domains) : null, globalQuota: request.domains === null, leaveOut };
    const render = (model: ExportModel) => renderManifests(model, { backendNames: names, namespace, perObject: request.perObject });
    let model = mergeReports(reports, mergeOptions);
    let files = render(model);
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const config = loadExported(request, files);
      // Read again as `plan` of these manifests will, then plan them.
      reports = await observeAll(engine, config, request.backends, requests, {});
      const plan = await engine.plan({ config, passwords: new Map() });
      const residual = residualOf(plan);
      if (residual.length === 0) {
        const again = mergeReports(reports, mergeOptions);
        const rewritten = render(again);
        if (sameFiles(rewritten, files)) return { files, model, problems: [], requests };
        model = again;
        files = rewritten;
        continue;
      }
      const problems: string[] = [];
      let progress = false;
      // A field the backends already disagree on is out already: what still differs comes from a default.
      const out = new Set([...leaveOut.keys(), ...model.disagreements.map((d) => leaveOutKey(d.resource, d.key, d.field))]);
      for (const { backendId, backend, change } of residual) {
        for (const step of leaveOutFor(change, backendId, backend, out)) {
          if ('problem' in step) problems.push(step.problem);
          else if (!leaveOut.has(step.key)) {
            leaveOut.set(step.key, step.reason);
            progress = true;
          }
        }
      }
      for (const backendPlan of plan.backends) for (const refusal of backendPlan.refusals) problems.push(refusal.message);
      if (!progress) return { files, model, problems: problems.length ? problems : residual.map(({ backend, change }) => describeResidual(backend, change)), requests };
      model = mergeReports(reports, mergeOptions);
      files = render(model);
    }
    return { files, model, problems: [`the export did not settle after ${MAX_ROUNDS} rounds of reading the backends (are they being changed meanwhile?)`], requests };
  } finally {
    await engine.close();
  }
}

/** A mistake that stops the export before anything is read or written. */
export class ExportError extends Error {}

async function observeAll(engine: Engine, config: Config, backends: BackendDecl[], requests: Map<string, number>, options: { discover?: { domains: string[] | null } }): Promise<BackendReport[]> {
  const observations = await Promise.all(backends.map((b) => engine.observe(config, b.id, options.discover ? { discover: options.discover } : {})));
  return observations.map((observation: BackendObservation, i) => {
    const backend = backends[i]!;
    requests.set(backend.name, (requests.get(backend.name) ?? 0) + observation.requests);
    if (!observation.state || !observation.capabilities) throw new ExportError(observation.error ?? `backend "${backend.name}" could not be read`);
    return { id: backend.id, name: backend.name, capabilities: observation.capabilities, state: observation.state };
  });
}

/** The written manifests and the backends, loaded as `mailops plan -f backends -f <dir>` would. */
function loadExported(request: ExportRequest, files: ManifestFileOut[]): Config {
  const documents = [...request.backendDocuments];
  const errors = [];
  for (const file of files) {
    const parsed = parseYamlFile(`${request.outputDir.replace(/\/+$/, '')}/${file.path}`, file.text);
    documents.push(...parsed.documents);
    errors.push(...parsed.errors);
  }
  const config = loadConfigFromDocuments(documents, errors);
  for (const backend of config.backends) {
    const given = request.backends.find((b) => b.id === backend.id);
    if (given) backend.url = given.url;
  }
  return config;
}

function residualOf(plan: Plan): Array<{ backendId: string; backend: string; change: Change }> {
  return plan.backends.flatMap((b) => {
    if (b.error) throw new ExportError(b.error);
    return b.changes.map((change) => ({ backendId: b.backendId, backend: b.backendName, change }));
  });
}

type Step = { key: string; reason: string } | { problem: string };

const USER_FIELDS: Record<string, string> = {
  displayName: 'displayName',
  disabled: 'disabled',
  extraAddresses: 'extraAddresses',
  'forwarding.to': 'forwarding',
  'forwarding.keepCopy': 'forwarding',
  'quota.storage': 'quota.storage',
  'quota.messages': 'quota.messages',
};
const DOMAIN_FIELDS: Record<string, string> = {
  aliasDomains: 'aliasDomains',
  'defaultQuota.storage': 'defaultQuota',
  'defaultQuota.messages': 'defaultQuota',
  displayName: 'displayName',
  disabled: 'disabled',
  totalStorage: 'totalStorage',
  maxUserStorage: 'maxUserStorage',
};

/**
 * What to leave out so that a change planned from the export goes away: the field that causes it.
 * A user's quota that still differs once left out comes from a default: the domain's, then the global one.
 */
function leaveOutFor(change: Change, backendId: string, backend: string, leftOut: ReadonlySet<string>): Step[] {
  const why = (field: string, before: unknown, after: unknown) => `left out (not managed): declaring it would change ${backend} (${field}: ${show(before)} → ${show(after)})`;
  const unresolvable = { problem: describeResidual(backend, change) };
  if (change.action !== 'update' && !(change.resource === 'group' && change.action === 'create')) return [unresolvable];
  switch (change.resource) {
    case 'user':
      return change.fields.map((f) => {
        const field = USER_FIELDS[f.field];
        if (!field) return unresolvable;
        const key = leaveOutKey('user', change.key, field);
        if (!leftOut.has(key)) return { key, reason: why(f.field, f.before, f.after) };
        if (!field.startsWith('quota.')) return unresolvable;
        const domain = leaveOutKey('domain', change.key.slice(change.key.lastIndexOf('@') + 1), 'defaultQuota');
        if (!leftOut.has(domain)) return { key: domain, reason: `left out (not managed): ${change.key} on ${backend} cannot keep its quota under this default` };
        return { key: leaveOutKey('globalQuota', 'global', 'limits'), reason: `left out (not managed): ${change.key} on ${backend} cannot keep its quota under this default` };
      });
    case 'domain':
      return change.fields.map((f) => {
        const field = DOMAIN_FIELDS[f.field];
        return field ? { key: leaveOutKey('domain', change.key, field), reason: why(f.field, f.before, f.after) } : unresolvable;
      });
    case 'group':
      return [{ key: leaveOutKey('alias', change.key, `backend:${backendId}`), reason: `not declared for ${backend}: declaring it there would change it (left alone, not managed)` }];
    case 'globalQuota':
      return [{ key: leaveOutKey('globalQuota', 'global', 'limits'), reason: why('global quota', change.before, change.after) }];
  }
}

function describeResidual(backend: string, change: Change): string {
  const fields = change.fields.map((f) => f.field).join(', ');
  return `${backend}: the exported manifests would ${change.action} ${change.resource === 'group' ? 'alias' : change.resource} ${change.key}${fields ? ` (${fields})` : ''}`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '(unset)';
  if (Array.isArray(value)) return value.length ? value.join(' ') : '(none)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function sameFiles(a: ManifestFileOut[], b: ManifestFileOut[]): boolean {
  return a.length === b.length && a.every((file, i) => file.path === b[i]!.path && file.text === b[i]!.text);
}
