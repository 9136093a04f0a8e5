// The validated configuration: every reference resolved, every address normalised, every quota
// parsed. This is what the planner works from, whichever front door (files, git, cluster) read it.
import type { ConfigError } from './errors.ts';
import type { Limit } from './quantity.ts';
import type { BackendType, KindName, SecretKeySelector } from './schema.ts';
import type { Throttle } from './throttle.ts';

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** Identifies a manifest object: kind, namespace, name, and where it was written. */
export interface ObjectRef {
  kind: KindName;
  namespace: string;
  name: string;
  /** metadata.generation in a cluster; absent in files. */
  generation?: number;
  source: SourceLocation;
}

export function objectKey(ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function describeObject(ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string {
  return ref.namespace === 'default' ? `${ref.kind} "${ref.name}"` : `${ref.kind} "${ref.namespace}/${ref.name}"`;
}

/** A secret's location, namespace included (file mode ignores the namespace). */
export interface SecretRef extends SecretKeySelector {
  namespace: string;
  /** Where the reference was written, for errors when the secret cannot be read. */
  source: SourceLocation;
  /** A user's password only: a secret that does not exist leaves the password unmanaged (schema.ts, PasswordSecretRef). */
  optional?: boolean;
}

/** Limits per field; null = not set at this level (inherit from the next one). */
export interface QuotaLimits {
  storage: Limit | null;
  messages: Limit | null;
}

export const NO_QUOTA: QuotaLimits = Object.freeze({ storage: null, messages: null });

export interface BackendDecl {
  ref: ObjectRef;
  /** Unique id within a configuration: `namespace/name`. */
  id: string;
  name: string;
  type: BackendType;
  url: string;
  credentials: {
    username?: string;
    password?: SecretRef;
    token?: SecretRef;
    /**
     * Secrets the settings block of the backend's type references (`spec.openxchange.contextAdmin.passwordSecretRef`),
     * by their path inside that block (`contextAdmin.passwordSecretRef`).
     */
    optionSecrets?: Readonly<Record<string, SecretRef>>;
  };
  limits: {
    concurrency: number;
    requestsPerSecond: number;
    timeoutSeconds: number;
    retries: number;
    taskTimeoutSeconds: number;
  };
  insecureSkipTLSVerify: boolean;
  /** Where the CA bundle that verifies the server's certificate is read from; absent: the system's CAs. */
  caBundle?: CaBundleRef;
  /** The settings block of the backend's own type (`spec.<type>`), schema-checked; {} when absent. */
  options: Readonly<Record<string, unknown>>;
}

/** A MailBackend's CA bundle: a key of a Secret (`caBundleSecretRef`) or a file (`caFile`), read at every run. */
export type CaBundleRef =
  | { secret: SecretRef }
  | {
      /** As written: relative to the manifest that declares it (file mode). */
      file: string;
      source: SourceLocation;
    };

// Ownership: a field a manifest leaves unset is null here and is not managed (observed, shown with
// `plan -v`, never changed); a field it sets is owned whole (`extraAddresses: []` means "none").

export interface DomainDecl {
  ref: ObjectRef;
  domain: string;
  backendIds: string[];
  /** null: not managed. */
  aliasDomains: string[] | null;
  /** null: the domain level is not managed; otherwise owned whole (an unset limit inherits). */
  defaultQuota: QuotaLimits | null;
  prune: { enabled: boolean; maxUserDeletionPercent: number };
  displayName: string | null;
  disabled: boolean | null;
  /** Storage of all the domain's mailboxes together. */
  totalStorage: Limit | null;
  /** The largest quota one user may have. */
  maxUserStorage: Limit | null;
  /** The throttle of the QuotaPolicy its defaultQuota names; null: not managed. */
  throttle: Throttle | null;
  /** Settings for backends of one type (`spec.openxchange: {contextId}`), by type; absent types: none. */
  backendSettings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface UserDecl {
  ref: ObjectRef;
  address: string;
  domain: string;
  /** null (for this and every field below): not managed. */
  displayName: string | null;
  password: SecretRef;
  extraAddresses: string[] | null;
  forwarding: { to: string[]; keepCopy: boolean } | null;
  disabled: boolean | null;
  /** The user's own limits (inline or from its policyRef), before domain and global defaults. */
  quota: QuotaLimits | null;
  /** The throttle of the QuotaPolicy its quota names; null: not managed. */
  throttle: Throttle | null;
  backendIds: string[];
}

export interface AliasDecl {
  ref: ObjectRef;
  address: string;
  domain: string;
  members: string[];
  backendIds: string[];
}

export interface GlobalQuotaDecl {
  ref: ObjectRef;
  limits: QuotaLimits;
  /** null: the policy declares no throttle (the global throttle is not managed). */
  throttle: Throttle | null;
}

/**
 * An object on its way out of a cluster whose deletionPolicy is Delete: what it declared, so that
 * the plan deletes it from its backends (files have none: a file that no longer declares an
 * object leaves it alone unless its domain prunes).
 */
export interface DeletionDecl {
  ref: ObjectRef;
  resource: 'domain' | 'user' | 'group';
  /** The domain name or the address. */
  key: string;
  backendIds: string[];
}

export interface Config {
  backends: BackendDecl[];
  domains: DomainDecl[];
  users: UserDecl[];
  aliases: AliasDecl[];
  /**
   * The QuotaPolicies marked globalDefault: at most one per namespace, acting on the backends of
   * that namespace (a cluster's namespaces do not reach into each other).
   */
  globalQuotas: GlobalQuotaDecl[];
  /** Every QuotaPolicy (their limits reach users through references and the global default). */
  quotaPolicies: ObjectRef[];
  /** Objects to delete from their backends (the controller's finalizers); absent in file mode. */
  deletions?: DeletionDecl[];
  /**
   * Addresses of objects that exist but are not reconciled now (a cluster object with an invalid
   * spec, or one waiting for a dependency): never pruned, since they are declared, only not usable.
   */
  reservedAddresses?: string[];
  /** Documents of other API groups that were read and left alone. */
  skippedDocuments: number;
  /** What is valid but probably not meant (an alias member that nothing declares): shown, never blocking. */
  warnings: ConfigError[];
  /** What mailops changed in how something was written, said once (addresses in lower case). */
  notes: string[];
}

/**
 * Precedence of quota limits, per field: the user's own quota (inline or its policyRef), then
 * its domain's defaultQuota, then the globalDefault QuotaPolicy. A limit that no level declares is
 * null: left to the backend (not managed).
 */
export function effectiveQuota(user: QuotaLimits | null, domain: QuotaLimits | null, global: QuotaLimits | null): QuotaLimits {
  return {
    storage: user?.storage ?? domain?.storage ?? global?.storage ?? null,
    messages: user?.messages ?? domain?.messages ?? global?.messages ?? null,
  };
}

/** The global default QuotaPolicy of a namespace (the namespace of the backends it acts on). */
export function globalQuotaOf(config: Pick<Config, 'globalQuotas'>, namespace: string): GlobalQuotaDecl | null {
  return config.globalQuotas.find((g) => g.ref.namespace === namespace) ?? null;
}

/**
 * The secret references inside a backend's settings block: every field named `…SecretRef`, by its path in the
 * block (`contextAdmin.passwordSecretRef`). The loader, the secret resolution and the controller's index of which
 * object reads which Secret all find them this way.
 */
export function secretRefsInOptions(options: unknown, path: readonly string[] = []): Array<{ path: string[]; selector: SecretKeySelector }> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return [];
  return Object.entries(options as Record<string, unknown>).flatMap(([key, value]) => {
    const here = [...path, key];
    if (key.endsWith('SecretRef') && typeof value === 'object' && value !== null && 'name' in value && 'key' in value) {
      return [{ path: here, selector: value as SecretKeySelector }];
    }
    return secretRefsInOptions(value, here);
  });
}

/** A MailBackend's CA bundle reference, located where it is written (`at` gives a field's position). */
export function backendCaBundle(
  spec: { caFile?: string; caBundleSecretRef?: SecretKeySelector },
  namespace: string,
  at: (path: Array<string | number>) => SourceLocation,
): { caBundle?: CaBundleRef } {
  if (spec.caBundleSecretRef) return { caBundle: { secret: { ...spec.caBundleSecretRef, namespace, source: at(['spec', 'caBundleSecretRef']) } } };
  if (spec.caFile !== undefined) return { caBundle: { file: spec.caFile, source: at(['spec', 'caFile']) } };
  return {};
}
