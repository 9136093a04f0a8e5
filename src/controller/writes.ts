// Status and finalizer writes. Each is a JSON Patch that tests what it was computed from; when the
// API server refuses it because the object changed in between, the object is read again and the
// patch computed anew (never forced). A status that did not change is not written at all, so an
// idle resync writes nothing.
import jsonPatch, { type Operation } from 'fast-json-patch';
import type { Logger } from '../log.ts';
import { FINALIZER, resourceKey } from './cluster-config.ts';
import { isConflict, isNotFound, type KubeClient, type MailResource } from './kube.ts';

const ATTEMPTS = 4;

export class ResourceWriter {
  readonly #kube: KubeClient;
  readonly #log: Logger;
  /** What this controller last wrote, per object: newer than the informer's copy until the watch catches up. */
  readonly #latest = new Map<string, MailResource>();

  constructor(kube: KubeClient, log: Logger) {
    this.#kube = kube;
    this.#log = log;
  }

  /** The newer of the informer's copy and the one this controller last wrote. */
  current(resource: MailResource): MailResource {
    const key = resourceKey(resource);
    const written = this.#latest.get(key);
    if (!written || written.metadata.uid !== resource.metadata.uid) return resource;
    // Resource versions are etcd revisions: numbers that grow. Compared only to pick the fresher copy.
    return Number(written.metadata.resourceVersion) > Number(resource.metadata.resourceVersion) ? written : resource;
  }

  forget(resource: Pick<MailResource, 'kind' | 'metadata'>): void {
    this.#latest.delete(resourceKey(resource));
  }

  /** Writes `.status` when it differs from what the object has. Returns whether it wrote. */
  async writeStatus(resource: MailResource, status: Record<string, unknown>): Promise<boolean> {
    return this.#patch(resource, (current) => statusPatch(current.status, status), (current, patch) => this.#kube.patchMailStatus(current, patch));
  }

  /** Adds the finalizer (before anything reaches a backend). */
  addFinalizer(resource: MailResource): Promise<boolean> {
    return this.#patch(resource, (current) => finalizerPatch(current, 'add'), (current, patch) => this.#kube.patchMail(current, patch));
  }

  /** Removes the finalizer (the object has left its backends, or is orphaned). */
  removeFinalizer(resource: MailResource): Promise<boolean> {
    return this.#patch(resource, (current) => finalizerPatch(current, 'remove'), (current, patch) => this.#kube.patchMail(current, patch));
  }

  async #patch(
    resource: MailResource,
    compute: (current: MailResource) => Operation[],
    send: (current: MailResource, patch: Operation[]) => Promise<MailResource>,
  ): Promise<boolean> {
    let current = this.current(resource);
    for (let attempt = 1; ; attempt++) {
      const patch = compute(current);
      if (!patch.some((op) => op.op !== 'test')) return false;
      try {
        const updated = await send(current, patch);
        this.#latest.set(resourceKey(updated), updated);
        return true;
      } catch (error) {
        if (isNotFound(error)) return false; // gone meanwhile: nothing to write to
        if (!isConflict(error) || attempt === ATTEMPTS) throw error;
        this.#log.debug({ object: resourceKey(resource), attempt }, 'the object changed while it was being written; reading it again');
        current = await this.#kube.getMail(resource.kind, resource.metadata.namespace, resource.metadata.name);
        this.#latest.set(resourceKey(current), current);
      }
    }
  }
}

/** Replaces `.status` with `next`, testing every value it replaces or removes. */
export function statusPatch(previous: Record<string, unknown> | undefined, next: Record<string, unknown>): Operation[] {
  if (previous === undefined) return [{ op: 'add', path: '/status', value: next }];
  return jsonPatch.compare({ status: previous }, { status: next }, true);
}

function finalizerPatch(resource: MailResource, change: 'add' | 'remove'): Operation[] {
  const finalizers = resource.metadata.finalizers;
  const index = finalizers?.indexOf(FINALIZER) ?? -1;
  if (change === 'add') {
    if (index >= 0) return [];
    // No list yet: the resourceVersion test stands in for "still no list" (JSON Patch cannot test absence).
    if (!finalizers) return [{ op: 'test', path: '/metadata/resourceVersion', value: resource.metadata.resourceVersion }, { op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }];
    return [{ op: 'test', path: '/metadata/finalizers', value: finalizers }, { op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }];
  }
  if (index < 0) return [];
  return [{ op: 'test', path: `/metadata/finalizers/${index}`, value: FINALIZER }, { op: 'remove', path: `/metadata/finalizers/${index}` }];
}
