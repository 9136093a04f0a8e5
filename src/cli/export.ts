// mailops export -f backends.yaml -o DIR : read live backends and write manifests that plan
// `No changes.` (adoption without a single write). Exit 0 when the written manifests were planned
// against the backends and gave no change; 1 otherwise (nothing is written when a backend cannot be read).
import { randomBytes } from 'node:crypto';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createAdapter } from '../backends/registry.ts';
import { resolveSecrets } from '../engine/secrets.ts';
import { ExportError, exportBackends, type ExportResult } from '../export/export.ts';
import { InvalidConfigError, loadConfigFromDocuments, readManifestDocuments } from '../load/index.ts';
import { isDomainName, normalizeDomain } from '../model/names.ts';
import { API_GROUP_VERSION } from '../model/schema.ts';
import { FileSecretResolver } from '../secrets/file-secrets.ts';
import { fingerprinter } from '../state/fingerprint.ts';
import { EXIT_ERROR, EXIT_OK, UsageError, applyBackendUrlOverrides, reportFailure } from './common.ts';
import { logger } from './session.ts';

export interface ExportCommandOptions {
  filename: string[];
  output: string;
  backend?: string[];
  domain?: string[];
  perObject?: boolean;
  force?: boolean;
  secretsDir?: string;
  backendUrl?: string[];
  verbose?: boolean;
}

export async function exportCommand(options: ExportCommandOptions): Promise<number> {
  const verbose = options.verbose ?? false;
  try {
    const { documents, errors } = await readManifestDocuments(options.filename);
    const isBackend = (value: unknown) => (value as { apiVersion?: unknown; kind?: unknown } | null)?.apiVersion === API_GROUP_VERSION && (value as { kind?: unknown }).kind === 'MailBackend';
    const backendDocuments = documents.filter((d) => isBackend(d.value));
    const config = applyBackendUrlOverrides(loadConfigFromDocuments(backendDocuments, errors), options.backendUrl ?? []);
    if (config.backends.length === 0) throw new UsageError(`no MailBackend in ${options.filename.join(', ')}: export reads the backends a MailBackend describes`);

    const wanted = options.backend ?? [];
    const unknown = wanted.filter((name) => !config.backends.some((b) => b.name === name || b.id === name));
    if (unknown.length > 0) throw new UsageError(`--backend ${unknown.join(', ')}: no such MailBackend (there are: ${config.backends.map((b) => b.name).join(', ')})`);
    const backends = wanted.length === 0 ? config.backends : config.backends.filter((b) => wanted.includes(b.name) || wanted.includes(b.id));
    const chosen = new Set(backends.map((b) => b.id));
    const idOf = (value: unknown) => {
      const metadata = (value as { metadata: { name: string; namespace?: string } }).metadata;
      return `${metadata.namespace ?? 'default'}/${metadata.name}`;
    };
    const domains = options.domain?.map((d) => {
      const domain = normalizeDomain(d);
      if (!isDomainName(domain)) throw new UsageError(`--domain ${d}: not a domain name`);
      return domain;
    });

    // Only the backends' credentials are needed: no user's password is read (none can be compared).
    const secrets = await resolveSecrets({ ...config, backends, users: [] }, new FileSecretResolver({ secretsDir: options.secretsDir }), fingerprinter(randomBytes(32)));
    if (secrets.failures.length > 0) {
      throw new InvalidConfigError(secrets.failures.map((f) => ({ position: f.position, object: f.object, field: f.field, message: f.message })));
    }

    const result = await exportBackends({
      backendDocuments: backendDocuments.filter((d) => chosen.has(idOf(d.value))),
      backends,
      credentials: secrets.credentials,
      domains: domains ?? null,
      perObject: options.perObject ?? false,
      outputDir: options.output,
      adapterFactory: createAdapter,
      log: logger(options),
    });
    await writeFiles(options.output, result, options.force ?? false);
    report(result, options);
    return result.problems.length === 0 ? EXIT_OK : EXIT_ERROR;
  } catch (error) {
    if (error instanceof ExportError) return reportFailure(new Error(`export: ${error.message}`), verbose);
    return reportFailure(error, verbose);
  }
}

/** Every file is checked before one is written: an export never half-overwrites a directory. */
async function writeFiles(dir: string, result: ExportResult, force: boolean): Promise<void> {
  if (!force) {
    const existing: string[] = [];
    for (const file of result.files) {
      if (await access(path.join(dir, file.path)).then(() => true, () => false)) existing.push(path.join(dir, file.path));
    }
    if (existing.length > 0) {
      const shown = existing.slice(0, 5).join(', ') + (existing.length > 5 ? ` and ${existing.length - 5} more` : '');
      throw new UsageError(`${shown} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite, or choose another -o directory`);
    }
  }
  for (const file of result.files) {
    const target = path.join(dir, file.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.text);
  }
}

function report(result: ExportResult, options: ExportCommandOptions): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  const { model } = result;
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  for (const d of model.disagreements) {
    const what = d.resource === 'globalQuota' ? 'global quota' : `${d.resource} ${d.key}`;
    err(`Disagreement: ${what} ${d.field}: ${d.values.map((v) => `${v.backend} has ${v.value}`).join('; ')} — ${d.outcome}`);
  }
  for (const skipped of model.skipped) err(`Skipped: ${skipped}`);
  for (const domain of options.domain ?? []) {
    if (!model.domains.some((d) => d.domain === domain.toLowerCase())) err(`Warning: --domain ${domain}: no backend that was read holds it`);
  }
  const parts = [
    count(model.domains.length, 'domain', 'domains'),
    count(model.users.length, 'user', 'users'),
    count(model.aliases.length, 'alias', 'aliases'),
    ...(model.globalQuota ? ['the global default quota'] : []),
  ];
  const read = [...result.requests].map(([name, n]) => `${name} (${count(n, 'request', 'requests')})`).join(', ');
  out(`Read ${read}; nothing was written to any backend.`);
  out(`Wrote ${count(result.files.length, 'file', 'files')} to ${options.output}: ${parts.join(', ')}.`);
  if (model.users.length > 0) {
    out(`Passwords cannot be read back: each user's password stays as it is until its Secret (named like the MailUser, key "password") exists.`);
  }
  if (result.problems.length === 0) {
    out('Checked: planned against what the backends have now, these manifests give No changes.');
    const inputs = [...options.filename.flatMap((f) => ['-f', f]), '-f', options.output].join(' ');
    out(`Next: mailops plan ${inputs}`);
  } else {
    for (const problem of result.problems) err(`Error: ${problem}`);
    err('The files were written, but planned against the backends they would not give No changes (see above).');
  }
}
