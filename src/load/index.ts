// The file front door: paths given with -f → a validated Config, or every error at once.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { kindInfo } from '../model/kinds.ts';
import { API_GROUP, API_GROUP_VERSION, type KindName, type MailObject } from '../model/schema.ts';
import type { Config } from '../model/config.ts';
import { buildConfig, type LoadedObject } from './config.ts';
import { parseYamlFile, type SourceDocument } from './documents.ts';
import { InvalidConfigError, formatFieldPath, type ConfigError, type FieldPath } from './errors.ts';
import { checkAgainstSchema } from './schema-check.ts';

export { InvalidConfigError, formatConfigError, type ConfigError } from './errors.ts';
export { parseYamlFile, type SourceDocument } from './documents.ts';

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Files named on the command line, and manifest files found under directories, in a stable order. */
export async function expandPaths(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    let info;
    try {
      info = await stat(input);
    } catch {
      throw new InvalidConfigError([
        { position: { file: input, line: 1, column: 1 }, message: 'no such file or directory' },
      ]);
    }
    if (info.isDirectory()) {
      const found: string[] = [];
      for (const entry of await readdir(input, { recursive: true, withFileTypes: true })) {
        const full = path.join(entry.parentPath, entry.name);
        const relative = path.relative(input, full);
        // Hidden folders (.git, .github) hold no manifests of ours.
        if (relative.split(path.sep).some((part) => part.startsWith('.'))) continue;
        if (entry.isFile() && MANIFEST_EXTENSIONS.has(path.extname(entry.name))) found.push(full);
      }
      files.push(...found.sort());
    } else {
      files.push(input);
    }
  }
  return [...new Set(files)];
}

export async function loadConfigFromPaths(inputs: string[]): Promise<Config> {
  const files = await expandPaths(inputs);
  const documents: SourceDocument[] = [];
  const errors: ConfigError[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const parsed = parseYamlFile(file, text);
    documents.push(...parsed.documents);
    errors.push(...parsed.errors);
  }
  return loadConfigFromDocuments(documents, errors);
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
    const { status: _status, ...withoutStatus } = object;
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
