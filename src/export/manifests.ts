// An export model → manifest files: one per domain (its MailDomain, users and aliases), or one per
// object, and the server-wide default quota in a file of its own. Comments say where each object
// came from, that its password is unmanaged until its secret exists, and what the backends
// disagree on. Pure and deterministic: the same servers give the same files.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Document, isMap, isSeq } from 'yaml';
import { UNLIMITED, type Limit } from '../model/quantity.ts';
import { API_GROUP_VERSION } from '../model/schema.ts';
import type { Disagreement, ExportedResource, ExportModel } from './merge.ts';

export interface ManifestFileOut {
  /** Relative to the output directory. */
  path: string;
  text: string;
}

export interface ManifestOptions {
  /** Backend id → MailBackend name. */
  backendNames: ReadonlyMap<string, string>;
  namespace: string;
  /** One file per object instead of one per domain. */
  perObject: boolean;
}

/** The Secret a user's password will come from: named like the MailUser, key `password`. */
export const PASSWORD_KEY = 'password';

export function renderManifests(model: ExportModel, options: ManifestOptions): ManifestFileOut[] {
  const names = {
    domain: new UniqueNames(),
    user: new UniqueNames(),
    alias: new UniqueNames(),
  };
  const domainBackends = new Map(model.domains.map((d) => [d.domain, d.backends]));
  const backendRefs = (ids: readonly string[]) => ids.map((id) => ({ name: options.backendNames.get(id) ?? id.slice(id.indexOf('/') + 1) }));
  const sources = (ids: readonly string[]) => ids.map((id) => options.backendNames.get(id) ?? id).join(', ');
  const manifest = (kind: string, name: string, spec: Record<string, unknown>) => ({
    apiVersion: API_GROUP_VERSION,
    kind,
    metadata: { name, ...(options.namespace !== 'default' ? { namespace: options.namespace } : {}) },
    spec,
  });
  /** backendRefs, where the object is on fewer backends than its domain. */
  const narrowed = (object: { backends: string[]; domain: string }) =>
    sameList(object.backends, domainBackends.get(object.domain) ?? []) ? {} : { backendRefs: backendRefs(object.backends) };
  const disagreements = new Map<string, Disagreement[]>();
  for (const d of model.disagreements) {
    const key = `${d.resource}:${d.key}`;
    disagreements.set(key, [...(disagreements.get(key) ?? []), d]);
  }
  const notes = (resource: ExportedResource, key: string) =>
    (disagreements.get(`${resource}:${key}`) ?? []).map((d) => ` ${d.field} ${d.outcome}: ${d.values.map((v) => `${v.backend} has ${v.value}`).join('; ')}`);

  const files = new Map<string, string[]>();
  const add = (file: string, document: string) => files.set(file, [...(files.get(file) ?? []), document]);
  /** One object into its domain's file (or a file of its own), with the comment above it. */
  const put = (domain: string, object: ReturnType<typeof manifest>, comment: string[], flow: string[]) =>
    add(options.perObject ? path.join(domain, `${object.kind.toLowerCase()}-${object.metadata.name}.yaml`) : `${domain}.yaml`, render(object, comment, flow));

  for (const domain of model.domains) {
    const name = names.domain.take(domain.domain);
    const spec = {
      domain: domain.domain,
      backendRefs: backendRefs(domain.backends),
      ...(domain.aliasDomains ? { aliasDomains: domain.aliasDomains } : {}),
      ...(domain.defaultQuota ? { defaultQuota: limits(domain.defaultQuota) } : {}),
      ...(domain.displayName !== undefined ? { displayName: domain.displayName } : {}),
      ...(domain.disabled !== undefined ? { disabled: domain.disabled } : {}),
      ...(domain.totalStorage !== undefined ? { totalStorage: storage(domain.totalStorage) } : {}),
      ...(domain.maxUserStorage !== undefined ? { maxUserStorage: storage(domain.maxUserStorage) } : {}),
    };
    const comment = [
      ` Exported from ${sources(domain.backends)}. Not pruned: users and aliases that are not declared are left alone`,
      ' (set prune.enabled: true to have them deleted).',
      ...notes('domain', domain.domain),
    ];
    put(domain.domain, manifest('MailDomain', name, spec), comment, ['backendRefs']);
  }

  for (const user of model.users) {
    const name = names.user.take(user.address);
    const spec = {
      address: user.address,
      passwordSecretRef: { name, key: PASSWORD_KEY, optional: true },
      ...(user.displayName !== undefined ? { displayName: user.displayName } : {}),
      ...(user.disabled !== undefined ? { disabled: user.disabled } : {}),
      ...(user.extraAddresses ? { extraAddresses: user.extraAddresses } : {}),
      ...(user.forwarding ? { forwarding: user.forwarding } : {}),
      ...(user.quota ? { quota: limits(user.quota) } : {}),
      ...narrowed(user),
    };
    const comment = [
      ` Exported from ${sources(user.backends)}. A password cannot be read back: it stays as it is on the server until`,
      ` the Secret ${name} (key ${PASSWORD_KEY}) exists; from then on mailops manages it.`,
      ...notes('user', user.address),
    ];
    put(user.domain, manifest('MailUser', name, spec), comment, ['passwordSecretRef', 'backendRefs']);
  }

  for (const alias of model.aliases) {
    const name = names.alias.take(alias.address);
    put(alias.domain, manifest('Alias', name, { address: alias.address, members: alias.members, ...narrowed(alias) }), [` Exported from ${sources(alias.backends)}.`, ...notes('alias', alias.address)], ['backendRefs']);
  }

  if (model.globalQuota) {
    add(
      'global-default.yaml',
      render(
        manifest('QuotaPolicy', 'global-default', { ...limits(model.globalQuota.limits), globalDefault: true }),
        [` The server-wide default quota of ${sources(model.globalQuota.backends)}.`, ...notes('globalQuota', 'global')],
        [],
      ),
    );
  }

  const header = '# Written by `mailops export`. Fields that are not written here are not managed: what the server has is kept.\n';
  return [...files].sort(([a], [b]) => a.localeCompare(b)).map(([file, documents]) => ({ path: file, text: header + documents.join('---\n') }));
}

function render(object: Record<string, unknown>, comment: string[], flow: string[]): string {
  const document = new Document(object);
  // On the object itself, not the document: no blank line between the comment and the object.
  if (document.contents) document.contents.commentBefore = comment.join('\n');
  for (const field of flow) {
    const node = document.getIn(['spec', field], true);
    if (isMap(node) || isSeq(node)) node.flow = true;
  }
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function limits(limits: { storage?: Limit | null; messages?: Limit | null }): Record<string, string | number> {
  return {
    ...(limits.storage != null ? { storage: storage(limits.storage) } : {}),
    ...(limits.messages != null ? { messages: limits.messages } : {}),
  };
}

const BINARY: Array<[string, number]> = [['Ei', 1024 ** 6], ['Pi', 1024 ** 5], ['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]];
const DECIMAL: Array<[string, number]> = [['E', 1e18], ['P', 1e15], ['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]];

/** A storage limit as a person would write it: 2Gi, 1500M, or bytes. */
export function storage(limit: Limit): string | number {
  if (limit === UNLIMITED) return UNLIMITED;
  for (const [unit, size] of [...BINARY, ...DECIMAL]) if (limit >= size && limit % size === 0) return `${limit / size}${unit}`;
  return limit;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Kubernetes object names (DNS-1123 subdomains) from addresses and domains, unique per kind. */
class UniqueNames {
  readonly #taken = new Set<string>();

  take(from: string): string {
    const base = objectName(from);
    let name = base;
    for (let n = 2; this.#taken.has(name); n++) name = `${base.slice(0, 240)}-${n}`;
    this.#taken.add(name);
    return name;
  }
}

/** `Alice_B@Example.com` → `alice-b.example.com`: lower case, other characters as `-`, labels trimmed. */
export function objectName(from: string): string {
  const labels = from
    .toLowerCase()
    .replace('@', '.')
    .replace(/[^a-z0-9.-]+/g, '-')
    .split('.')
    .map((label) => label.replace(/^-+|-+$/g, ''))
    .filter(Boolean);
  const name = labels.join('.') || 'x';
  if (name.length <= 253) return name;
  // Too long for a name: shortened, with a hash so that two long addresses stay apart.
  return `${name.slice(0, 240).replace(/[.-]+$/, '')}-${createHash('sha256').update(from).digest('hex').slice(0, 10)}`;
}
