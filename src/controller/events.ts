// Kubernetes Events for what a person would want to see in `kubectl describe`: a change made on a
// backend, a failure, a deletion held up. Aggregated like the API server's own recorder: the same
// event on the same object within the hour bumps the count of the event already there instead of
// adding one per retry, and the controller only reports transitions, not every reconcile.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { describeKubeError, type KubeClient, type MailResource } from './kube.ts';

const AGGREGATION_WINDOW_MS = 60 * 60_000;
const COMPONENT = 'mailops-controller';

interface Recorded {
  name: string;
  namespace: string;
  count: number;
  last: number;
}

export class EventRecorder {
  readonly #kube: KubeClient;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #recent = new Map<string, Recorded>();

  constructor(kube: KubeClient, log: Logger, instance: string) {
    this.#kube = kube;
    this.#log = log;
    this.#instance = instance;
  }

  /** Best effort: an event that cannot be written is logged, never a reason to fail a reconcile. */
  async record(resource: MailResource, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const { namespace, name, uid } = resource.metadata;
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = Date.now();
    this.#expire(now);
    const timestamp = new Date(now);
    const seen = this.#recent.get(key);
    try {
      if (seen) {
        seen.count += 1;
        seen.last = now;
        await this.#kube.patchEvent(seen.namespace, seen.name, [
          { op: 'replace', path: '/count', value: seen.count },
          { op: 'replace', path: '/lastTimestamp', value: timestamp.toISOString() },
        ]);
        return;
      }
      const event: CoreV1Event = {
        metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
        involvedObject: { apiVersion: resource.apiVersion, kind: resource.kind, name, namespace, uid, resourceVersion: resource.metadata.resourceVersion },
        type,
        reason,
        message: message.slice(0, 1024),
        count: 1,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: this.#instance,
      };
      const created = await this.#kube.createEvent(namespace, event);
      this.#recent.set(key, { name: created.metadata?.name ?? event.metadata.name!, namespace, count: 1, last: now });
    } catch (error) {
      this.#recent.delete(key);
      this.#log.warn({ object: `${resource.kind}/${namespace}/${name}`, reason, error: describeKubeError(error) }, 'could not record an event');
    }
  }

  #expire(now: number): void {
    for (const [key, recorded] of this.#recent) if (now - recorded.last > AGGREGATION_WINDOW_MS) this.#recent.delete(key);
  }
}
