// The file front door: paths given with -f → a validated Config, or every error at once.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { kindInfo } from '../model/kinds.ts';
import { API_GROUP, API_GROUP_VERSION, type KindName, type MailObject } from '../model/schema.ts';
import type { Config } from '../model/config.ts';
import { buildConfig, type LoadedObject } from './config.ts';
import { decodeManifest, newReadBudget, parseYamlFile, type SourceDocument } from './documents.ts';
import { InvalidConfigError, formatFieldPath, type ConfigError, type FieldPath } from './errors.ts';
import { INPUT_LIMITS, formatBytes } from './limits.ts';
import { checkAgainstSchema } from './schema-check.ts';

export { InvalidConfigError, formatConfigError, type ConfigError } from './errors.ts';
export { parseYamlFile, type SourceDocument } from './documents.ts';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** A manifest file to read, and the path given on the command line that led to it. */
export interface ManifestFile {
  file: string;
  input: string;
}

/**
 * Files named on the command line, and manifest files found under directories, in a stable order.
 * Symbolic links are followed, to files and to directories (a ConfigMap or Secret mounted as a
 * volume is a directory of links into a hidden `..data` folder); each real file and directory is
 * read once, so a link cycle ends. Hidden entries (`.git`, `..data`) are not walked into.
 */
export async function expandPaths(inputs: string[]): Promise<ManifestFile[]> {
  const found: ManifestFile[] = [];
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();
  const add = (file: string, input: string) => {
    const real = realpathSync(file);
    if (seenFiles.has(real)) return;
    seenFiles.add(real);
    found.push({ file, input });
  };
  const walk = async (dir: string, input: string): Promise<void> => {
    const real = await realpath(dir);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      // stat follows links; a dangling link is skipped like any other non-manifest entry.
      const info = entry.isSymbolicLink() ? await stat(full).catch(() => undefined) : entry;
      if (info?.isDirectory()) await walk(full, input);
      else if (info?.isFile() && MANIFEST_EXTENSIONS.has(path.extname(entry.name))) add(full, input);
    }
  };
  for (const input of inputs) {
    let info;
    try {
      info = await stat(input);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = code === 'ELOOP' ? 'a loop of symbolic links' : code === 'EACCES' ? 'permission denied' : 'no such file or directory';
      throw new InvalidConfigError([{ position: { file: input, line: 1, column: 1 }, message }]);
    }
    if (info.isDirectory()) await walk(input, input);
    else add(input, input);
  }
  return found;
}

export async function loadConfigFromPaths(inputs: string[]): Promise<Config> {
  const { files, documents, errors } = await readManifestDocuments(inputs);
  const config = loadConfigFromDocuments(documents, errors);
  noteEmptyInputs(config, inputs, files, documents);
  return config;
}

/** The documents of every manifest file under `inputs`, parsed, within the input limits; not yet checked. */
export async function readManifestDocuments(inputs: string[]): Promise<{ files: ManifestFile[]; documents: SourceDocument[]; errors: ConfigError[] }> {
  const files = await expandPaths(inputs);
  const documents: SourceDocument[] = [];
  const errors: ConfigError[] = [];
  const refuse = (file: string, message: string) => {
    throw new InvalidConfigError([...errors, { position: { file, line: 0, column: 0 }, message }]);
  };
  let totalBytes = 0;
  const budget = newReadBudget();
  // Synchronous reads: parsing holds the event loop anyway, and a thousand files read one await at a
  // time cost more waiting than reading.
  for (const { file } of files) {
    const size = statSync(file).size;
    totalBytes += size;
    if (size > INPUT_LIMITS.fileBytes) {
      refuse(file, `the file is ${formatBytes(size)}; mailops reads files of at most ${formatBytes(INPUT_LIMITS.fileBytes)} (100,000 users take about 30 MiB)`);
    }
    if (totalBytes > INPUT_LIMITS.totalBytes) {
      refuse(file, `with this file the configuration passes ${formatBytes(INPUT_LIMITS.totalBytes)}, the most mailops reads in one run`);
    }
    const decoded = decodeManifest(file, readFileSync(file));
    if ('error' in decoded) {
      errors.push(decoded.error);
      continue;
    }
    const parsed = parseYamlFile(file, decoded.text, budget);
    for (const document of parsed.documents) documents.push(document);
    for (const error of parsed.errors) errors.push(error);
    // The budget is spent: that is the error to show, not what checking the documents read so far would add.
    if (budget.tokens < 0 || budget.documents < 0) throw new InvalidConfigError(errors);
  }
  return { files, documents, errors };
}

/**
 * A run that read no mailops object from the paths it was given is an error (a CI job must not go
 * green on an empty or misread directory); a path that added nothing while others did is a warning.
 */
function noteEmptyInputs(config: Config, inputs: string[], files: ManifestFile[], documents: SourceDocument[]): void {
  const objects = config.backends.length + config.domains.length + config.users.length + config.aliases.length + config.quotaPolicies.length;
  const fileInput = new Map(files.map((f) => [f.file, f.input]));
  const contributing = new Set(documents.filter((d) => isOurs(d.value)).map((d) => fileInput.get(d.file)));
  if (objects === 0) {
    const read = `read ${files.length} file${files.length === 1 ? '' : 's'}${config.skippedDocuments ? ` and skipped ${config.skippedDocuments} document${config.skippedDocuments === 1 ? '' : 's'} of other API groups` : ''}`;
    throw new InvalidConfigError([
      { position: { file: inputs.join(', '), line: 0, column: 0 }, message: `no ${API_GROUP} object found (${read}); nothing to plan` },
    ]);
  }
  for (const input of inputs) {
    if (!contributing.has(input)) {
      config.warnings.push({ position: { file: input, line: 0, column: 0 }, message: `holds no ${API_GROUP} object (${files.filter((f) => f.input === input).length} manifest files read)` });
    }
  }
}

function isOurs(value: unknown): boolean {
  const apiVersion = (value as { apiVersion?: unknown } | null)?.apiVersion;
  const items = (value as { items?: unknown } | null)?.items;
  return (typeof apiVersion === 'string' && apiVersion.startsWith(`${API_GROUP}/`)) || (Array.isArray(items) && items.some(isOurs));
}

/** Documents already parsed (files, tests, the demo) → a Config. Throws InvalidConfigError. */
export function loadConfigFromDocuments(documents: SourceDocument[], earlierErrors: ConfigError[] = []): Config {
  const errors = [...earlierErrors];
  const loaded: LoadedObject[] = [];
  let skipped = 0;

  const consider = (document: SourceDocument, value: unknown, base: FieldPath) => {
    const at = (field: FieldPath, key = false) => document.locate([...base, ...field], { key });
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ position: at([]), message: 'expected a Kubernetes object (a mapping with apiVersion and kind)' });
      return;
    }
    const object = value as Record<string, unknown>;
    const { apiVersion, kind } = object;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      errors.push({ position: at([]), message: 'missing apiVersion or kind' });
      return;
    }
    if (apiVersion === 'v1' && kind === 'List' && Array.isArray(object.items)) {
      object.items.forEach((item, i) => consider(document, item, [...base, 'items', i]));
      return;
    }
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
    if (group !== API_GROUP) {
      skipped += 1;
      return;
    }
    if (apiVersion !== API_GROUP_VERSION) {
      errors.push({ position: at(['apiVersion']), field: 'apiVersion', message: `version ${version} of ${API_GROUP} is not supported; use ${API_GROUP_VERSION}` });
      return;
    }
    const info = kindInfo(kind);
    if (!info) {
      errors.push({
        position: at(['kind']),
        field: 'kind',
        message: `unknown kind "${kind}" in ${API_GROUP}; known kinds: MailBackend, MailDomain, MailUser, Alias, QuotaPolicy`,
      });
      return;
    }
    // Status is the controller's to write; objects exported from a cluster may carry it.
    const withoutStatus = 'status' in object ? withoutField(object, 'status') : object;
    const name = (object.metadata as { name?: unknown } | undefined)?.name;
    const label = typeof name === 'string' ? `${kind} "${name}"` : kind;
    const findings = checkAgainstSchema(kind as KindName, withoutStatus);
    for (const finding of findings) {
      errors.push({
        position: at(finding.path, finding.atKey),
        object: label,
        field: formatFieldPath(finding.path),
        message: finding.message,
      });
    }
    if (findings.length === 0) loaded.push({ object: withoutStatus as unknown as MailObject, document, base });
  };

  for (const document of documents) consider(document, document.value, []);

  const built = buildConfig(loaded, skipped);
  errors.push(...built.errors);
  if (errors.length > 0 || !built.config) throw new InvalidConfigError(errors);
  return built.config;
}

function withoutField(object: Record<string, unknown>, field: string): Record<string, unknown> {
  const { [field]: _dropped, ...rest } = object;
  return rest;
}
