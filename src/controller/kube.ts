// The controller's only door to the API server. Every write is a JSON Patch (RFC 6902) that
// carries `test` operations of what was read, so a write never overwrites what another writer
// changed in between: the API server refuses it (422), and the caller reads again and retries.
// Counts its writes, so that "an idle resync writes nothing" can be measured.
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubernetesObject,
  type RequestContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Operation } from 'fast-json-patch';
import { API_GROUP, API_VERSION, type KindName } from '../model/schema.ts';
import { KINDS } from '../model/kinds.ts';

/** A mailops custom resource as the API server returns it. */
export interface MailResource extends KubernetesObject {
  apiVersion: string;
  kind: KindName;
  metadata: KubernetesObject['metadata'] & { name: string; namespace: string; uid: string; resourceVersion: string };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface KubeOptions {
  /** --kubeconfig; otherwise KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
  kubeconfig?: string;
}

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * client-node builds a new HTTP agent for every API call, so each call opened a TLS connection of its
 * own: a handshake per status write, which made a burst of writes slow for the controller and the API
 * server alike. This keeps one agent per TLS setting and reuses its connections; a changed CA or
 * client certificate (another file, or the same file rewritten) gets a new agent.
 */
export class ReusingKubeConfig extends KubeConfig {
  #dispatcher: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getDispatcher();
    if (!made) return;
    const key = this.#tlsKey();
    if (this.#dispatcher?.key === key) {
      void made.close(); // never used: it has no connection to close
      context.setDispatcher(this.#dispatcher.dispatcher);
      return;
    }
    void this.#dispatcher?.dispatcher.close();
    this.#dispatcher = { key, dispatcher: made };
  }

  /** Closes the kept connections. */
  async close(): Promise<void> {
    const kept = this.#dispatcher;
    this.#dispatcher = undefined;
    await kept?.dispatcher.close();
  }

  #tlsKey(): string {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const version = (file: string | undefined) => {
      if (!file) return null;
      try {
        return statSync(file).mtimeMs;
      } catch {
        return null;
      }
    };
    return JSON.stringify([
      cluster?.server, cluster?.caFile, version(cluster?.caFile), cluster?.caData, cluster?.skipTLSVerify, cluster?.tlsServerName, cluster?.proxyUrl,
      user?.name, user?.certFile, version(user?.certFile), user?.certData, user?.keyFile, version(user?.keyFile), user?.keyData,
    ]);
  }
}

export function loadKubeConfig(options: KubeOptions): ReusingKubeConfig {
  const config = new ReusingKubeConfig();
  if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
  else config.loadFromDefault();
  if (!config.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  return config;
}

/** The namespace this process runs in: the service account's, in a cluster. */
export async function podNamespace(): Promise<string | undefined> {
  return readFile('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').then((s) => s.trim(), () => undefined);
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

/** A write the API server refused because what it tested no longer holds (or the object changed). */
export function isConflict(error: unknown): boolean {
  return error instanceof ApiException && (error.code === 409 || error.code === 422);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiException && error.code === 404;
}

/** The API server's own words for a failed call, without the response headers. */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? safeJson(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message;
    return `${error.code}${message ? ` ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 500) };
  }
}

export function pluralOf(kind: KindName): string {
  return KINDS.find((k) => k.kind === kind)!.plural;
}

export class KubeClient {
  readonly config: ReusingKubeConfig;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #coordination: CoordinationV1Api;
  /** API-server writes so far, by verb (patch, create, update). */
  readonly writes = new Map<string, number>();
  onWrite?: (what: string) => void;

  constructor(config: ReusingKubeConfig) {
    this.config = config;
    this.#custom = config.makeApiClient(CustomObjectsApi);
    this.#core = config.makeApiClient(CoreV1Api);
    this.#coordination = config.makeApiClient(CoordinationV1Api);
  }

  #counted(what: string): void {
    this.writes.set(what, (this.writes.get(what) ?? 0) + 1);
    this.onWrite?.(what);
  }

  /** The list path of a kind, cluster-wide or in one namespace (for informers). */
  static path(plural: string, namespace?: string, group = `${API_GROUP}/${API_VERSION}`): string {
    const base = group === 'v1' ? '/api/v1' : `/apis/${group}`;
    return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
  }

  async listMail(kind: KindName, namespace?: string): Promise<{ items: MailResource[]; metadata?: { resourceVersion?: string } }> {
    const common = { group: API_GROUP, version: API_VERSION, plural: pluralOf(kind) };
    const list = namespace
      ? await this.#custom.listNamespacedCustomObject({ ...common, namespace })
      : await this.#custom.listClusterCustomObject(common);
    return list as { items: MailResource[]; metadata?: { resourceVersion?: string } };
  }

  async getMail(kind: KindName, namespace: string, name: string): Promise<MailResource> {
    return (await this.#custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: pluralOf(kind), namespace, name })) as MailResource;
  }

  /** JSON Patch of `.status` (the status subresource). */
  async patchMailStatus(object: MailResource, patch: Operation[]): Promise<MailResource> {
    this.#counted('patch status');
    const { namespace, name } = object.metadata;
    return (await this.#custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, plural: pluralOf(object.kind), namespace, name, body: patch },
      jsonPatch,
    )) as MailResource;
  }

  /** JSON Patch of the object itself (finalizers). */
  async patchMail(object: MailResource, patch: Operation[]): Promise<MailResource> {
    this.#counted('patch object');
    const { namespace, name } = object.metadata;
    return (await this.#custom.patchNamespacedCustomObject(
      { group: API_GROUP, version: API_VERSION, plural: pluralOf(object.kind), namespace, name, body: patch },
      jsonPatch,
    )) as MailResource;
  }

  listSecrets(namespace?: string) {
    return namespace ? this.#core.listNamespacedSecret({ namespace }) : this.#core.listSecretForAllNamespaces();
  }

  async readSecret(namespace: string, name: string) {
    return this.#core.readNamespacedSecret({ namespace, name });
  }

  async createSecret(namespace: string, body: Parameters<CoreV1Api['createNamespacedSecret']>[0]['body']) {
    this.#counted('create secret');
    return this.#core.createNamespacedSecret({ namespace, body });
  }

  async createEvent(namespace: string, body: CoreV1Event): Promise<CoreV1Event> {
    this.#counted('create event');
    return this.#core.createNamespacedEvent({ namespace, body });
  }

  async patchEvent(namespace: string, name: string, patch: Operation[]): Promise<CoreV1Event> {
    this.#counted('patch event');
    return this.#core.patchNamespacedEvent({ namespace, name, body: patch }, jsonPatch);
  }

  async readLease(namespace: string, name: string): Promise<V1Lease> {
    return this.#coordination.readNamespacedLease({ namespace, name });
  }

  async createLease(namespace: string, body: V1Lease): Promise<V1Lease> {
    this.#counted('create lease');
    return this.#coordination.createNamespacedLease({ namespace, body });
  }

  /** Replaces a lease; the resourceVersion in `body` makes it a compare-and-swap. */
  async replaceLease(namespace: string, name: string, body: V1Lease): Promise<V1Lease> {
    this.#counted('update lease');
    return this.#coordination.replaceNamespacedLease({ namespace, name, body });
  }
}
