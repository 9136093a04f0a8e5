// The cluster's objects → the same Config that files give, through the same loader, so that a
// manifest means the same thing in both. What differs is how failures count: in a file one bad
// object stops the run; in a cluster it is reported in that object's status and the rest carry on.
// An object that names another that is not there (yet) waits for it (DependencyNotReady); an object
// that is wrong in itself is InvalidSpec. Objects on their way out become deletions (finalizers).
import { loadConfigFromDocuments, InvalidConfigError, type SourceDocument } from '../load/index.ts';
import type { ConfigError } from '../model/errors.ts';
import { objectKey, type Config, type DeletionDecl } from '../model/config.ts';
import type { KindName } from '../model/schema.ts';
import type { MailResource } from './kube.ts';

/** Held by every object that reached a backend, until it has left its backends (or is orphaned). */
export const FINALIZER = 'mailops.dev/backend-cleanup';

export type DeletionPolicy = 'Delete' | 'Orphan';

export interface Excluded {
  reason: 'InvalidSpec' | 'DependencyNotReady';
  messages: string[];
}

export interface Deleting {
  policy: DeletionPolicy;
  /** Why the deletion waits (a domain that still has users in the cluster). */
  waitingFor?: string;
}

export interface ClusterConfig {
  /** The valid objects, with the deletions under way. */
  config: Config;
  /** Objects that are not reconciled, by objectKey, and why. */
  excluded: Map<string, Excluded>;
  /** Objects being deleted that still hold the finalizer, by objectKey. */
  deleting: Map<string, Deleting>;
  /** Every object read, by objectKey. */
  objects: Map<string, MailResource>;
}

export function resourceKey(resource: Pick<MailResource, 'kind' | 'metadata'>): string {
  return objectKey({ kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name });
}

export function holdsFinalizer(resource: MailResource): boolean {
  return resource.metadata.finalizers?.includes(FINALIZER) ?? false;
}

export function isDeleting(resource: MailResource): boolean {
  return resource.metadata.deletionTimestamp !== undefined && resource.metadata.deletionTimestamp !== null;
}

export function clusterConfig(resources: readonly MailResource[]): ClusterConfig {
  const objects = new Map<string, MailResource>();
  const documents = new Map<string, SourceDocument>();
  for (const resource of resources) {
    const key = resourceKey(resource);
    objects.set(key, resource);
    // Going away without our finalizer: nothing left for mailops to do.
    if (isDeleting(resource) && !holdsFinalizer(resource)) continue;
    documents.set(key, documentOf(key, resource));
  }

  const excluded = new Map<string, Excluded>();
  let config: Config | undefined;
  // Each round leaves out the objects with errors; objects that referred to them fail the next
  // round with a missing reference, so they wait. Every round removes at least one document.
  while (!config) {
    try {
      config = loadConfigFromDocuments([...documents.values()]);
    } catch (error) {
      if (!(error instanceof InvalidConfigError)) throw error;
      const byObject = new Map<string, ConfigError[]>();
      for (const e of error.errors) byObject.set(e.position.file, [...(byObject.get(e.position.file) ?? []), e]);
      const culprits = [...byObject.keys()].filter((key) => documents.has(key));
      if (culprits.length === 0) throw error;
      for (const key of culprits) {
        const errors = byObject.get(key)!;
        excluded.set(key, {
          reason: errors.every((e) => e.missingReference) ? 'DependencyNotReady' : 'InvalidSpec',
          messages: errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)),
        });
        documents.delete(key);
      }
    }
  }
  const reservedAddresses = [...excluded.keys()].flatMap((key) => addressesOf(objects.get(key)!));
  return { config: { ...withDeletions(config, objects), reservedAddresses }, excluded, deleting: deletingObjects(config, objects), objects };
}

/**
 * The addresses an object that is not reconciled now still claims: a user or alias whose spec is
 * wrong, or waits for something, is still declared, and a domain that prunes must not delete it.
 */
function addressesOf(resource: MailResource): string[] {
  if (resource.kind !== 'MailUser' && resource.kind !== 'Alias') return [];
  const spec = resource.spec as { address?: unknown; extraAddresses?: unknown };
  const extra = Array.isArray(spec.extraAddresses) ? spec.extraAddresses : [];
  return [spec.address, ...extra].filter((a): a is string => typeof a === 'string').map((a) => a.trim().toLowerCase());
}

/** One object as a document of its own: errors are located by its key (there are no lines). */
function documentOf(key: string, resource: MailResource): SourceDocument {
  const { name, namespace, generation, labels } = resource.metadata;
  const value = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: { name, namespace, ...(generation !== undefined ? { generation } : {}), ...(labels ? { labels } : {}) },
    spec: resource.spec,
  };
  return { file: key, value, locate: () => ({ file: key, line: 0, column: 0 }) };
}

function policyOf(resource: MailResource): DeletionPolicy {
  return resource.spec.deletionPolicy === 'Orphan' ? 'Orphan' : 'Delete';
}

const deletingHere = (objects: Map<string, MailResource>, key: string) => {
  const resource = objects.get(key);
  return resource !== undefined && isDeleting(resource) && holdsFinalizer(resource);
};

/** The domains whose deletion waits: users or aliases in the cluster still belong to them. */
function domainDependents(config: Config, domain: string): number {
  return config.users.filter((u) => u.domain === domain).length + config.aliases.filter((a) => a.domain === domain).length;
}

function deletingObjects(config: Config, objects: Map<string, MailResource>): Map<string, Deleting> {
  const deleting = new Map<string, Deleting>();
  for (const [key, resource] of objects) {
    if (!deletingHere(objects, key)) continue;
    const entry: Deleting = { policy: policyOf(resource) };
    const domain = config.domains.find((d) => objectKey(d.ref) === key);
    if (domain) {
      const dependents = domainDependents(config, domain.domain);
      if (dependents > 0) entry.waitingFor = `${dependents} MailUser or Alias object${dependents === 1 ? '' : 's'} of ${domain.domain} still exist in the cluster; delete them first`;
    }
    deleting.set(key, entry);
  }
  return deleting;
}

/**
 * Objects being deleted leave the declared configuration; with deletionPolicy Delete they become
 * deletions that the plan carries out. A domain stays declared while the cluster still has users
 * or aliases in it (they need it, and deleting it first would be a cascade nobody asked for).
 */
function withDeletions(config: Config, objects: Map<string, MailResource>): Config {
  const leaving = (ref: { kind: KindName; namespace: string; name: string }) => deletingHere(objects, objectKey(ref));
  const deletions: DeletionDecl[] = [];
  const policy = (ref: Parameters<typeof objectKey>[0]) => policyOf(objects.get(objectKey(ref))!);
  for (const user of config.users.filter((u) => leaving(u.ref) && policy(u.ref) === 'Delete')) {
    deletions.push({ ref: user.ref, resource: 'user', key: user.address, backendIds: user.backendIds });
  }
  for (const alias of config.aliases.filter((a) => leaving(a.ref) && policy(a.ref) === 'Delete')) {
    deletions.push({ ref: alias.ref, resource: 'group', key: alias.address, backendIds: alias.backendIds });
  }
  const users = config.users.filter((u) => !leaving(u.ref));
  const aliases = config.aliases.filter((a) => !leaving(a.ref));
  const domainLeaves = (d: Config['domains'][number]) => leaving(d.ref) && domainDependents(config, d.domain) === 0;
  for (const domain of config.domains.filter((d) => domainLeaves(d) && policy(d.ref) === 'Delete')) {
    deletions.push({ ref: domain.ref, resource: 'domain', key: domain.domain, backendIds: domain.backendIds });
  }
  return { ...config, users, aliases, domains: config.domains.filter((d) => !domainLeaves(d)), deletions };
}


