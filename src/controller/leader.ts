// Leader election with a coordination.k8s.io Lease, as client-go does it: the leader renews the
// lease every retry period; another replica takes it over only when it has seen no renewal for a
// whole lease duration (measured on its own clock, so clock skew between nodes does not matter).
// Every write is a compare-and-swap on the lease's resourceVersion. A leader that cannot renew
// within the renew deadline stops leading; on shutdown it releases the lease so that a standby
// takes over at once.
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.ts';
import { describeKubeError, isConflict, isNotFound, type KubeClient } from './kube.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

export class LeaderElector {
  readonly #kube: KubeClient;
  readonly #log: Logger;
  readonly #options: Required<LeaderElectionOptions>;
  #observed: { holder: string | undefined; renewTime: string | undefined; at: number } | undefined;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(kube: KubeClient, log: Logger, options: LeaderElectionOptions) {
    this.#kube = kube;
    this.#log = log;
    this.#options = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2, ...options };
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Resolves once this replica leads; `onLost` is called if it stops leading without being asked to. */
  async acquire(onLost: () => void): Promise<void> {
    this.#log.info({ lease: `${this.#options.namespace}/${this.#options.name}`, identity: this.#options.identity }, 'waiting to lead');
    while (!this.#stopped && !(await this.#tryAcquireOrRenew())) await this.#sleep(this.#options.retryPeriodSeconds * 1000);
    if (this.#stopped) return;
    this.#leading = true;
    this.#log.info({ identity: this.#options.identity }, 'leading');
    void this.#renewLoop(onLost);
  }

  /** Stops renewing and hands the lease back (holder cleared), so a standby need not wait it out. */
  async release(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#kube.readLease(this.#options.namespace, this.#options.name);
      if (lease.spec?.holderIdentity !== this.#options.identity) return;
      const now = new V1MicroTime();
      await this.#kube.replaceLease(this.#options.namespace, this.#options.name, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      this.#log.info('released the leader lease');
    } catch (error) {
      this.#log.warn({ error: describeKubeError(error) }, 'could not release the leader lease; it expires by itself');
    }
  }

  async #renewLoop(onLost: () => void): Promise<void> {
    let lastRenewal = Date.now();
    while (!this.#stopped) {
      await this.#sleep(this.#options.retryPeriodSeconds * 1000);
      if (this.#stopped) return;
      if (await this.#tryAcquireOrRenew()) {
        lastRenewal = Date.now();
      } else if (Date.now() - lastRenewal > this.#options.renewDeadlineSeconds * 1000) {
        this.#leading = false;
        this.#log.error({ identity: this.#options.identity }, 'lost the leader lease');
        onLost();
        return;
      }
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.#options;
    const now = new V1MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.#kube.readLease(namespace, name);
    } catch (error) {
      if (!isNotFound(error)) return this.#failed('read', error);
      try {
        await this.#kube.createLease(namespace, {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        });
        return true;
      } catch (createError) {
        return isConflict(createError) ? false : this.#failed('create', createError);
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? undefined;
    const renewTime = spec.renewTime ? new Date(spec.renewTime as unknown as string).toISOString() : undefined;
    if (!this.#observed || this.#observed.holder !== holder || this.#observed.renewTime !== renewTime) {
      this.#observed = { holder, renewTime, at: Date.now() };
    }
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder && holder !== identity && this.#observed.at + duration > Date.now()) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    try {
      await this.#kube.replaceLease(namespace, name, {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: holder === identity && spec.acquireTime ? new V1MicroTime(spec.acquireTime) : now,
          renewTime: now,
          leaseTransitions: transitions,
        },
      });
      return true;
    } catch (error) {
      return isConflict(error) ? false : this.#failed('update', error);
    }
  }

  #failed(what: string, error: unknown): false {
    this.#log.warn({ error: describeKubeError(error) }, `leader election: could not ${what} the lease`);
    return false;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }
}
