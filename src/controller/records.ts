// The controller's RecordStore: what the CLI keeps in records.json lives in each object's status
// here (`status.backends[].applied`), so a controller restarted on another node neither resets
// every password nor repeats an operation it had started. Memory is the truth while the process
// runs; an object's status seeds it the first time the object is seen.
//
// Durability: checkpoints of operations (a task under way, a step to resume from) are written to
// the owner's status before the slow part starts (flush). Password fingerprints, creations about to
// be sent and the end of an operation ride along with the status written at the end of each
// reconcile: a controller that dies in between sets such a password once more, or finds the
// operation's checkpoint and resumes it.
import { CREATING } from '../engine/apply.ts';
import type { AppliedRecord } from '../plan/state.ts';
import type { OperationRecord, RecordStore } from '../state/records.ts';

/** How `status.backends[].applied` looks (see model/schema.ts, AppliedOnBackend). */
export interface AppliedStatus {
  url: string;
  address?: string;
  passwordFingerprint?: string;
  keyId?: string;
  operation?: {
    changeId: string;
    action: string;
    step: string;
    renameFrom?: string;
    taskStartedAt?: string;
    /** cursor: the task's position in its status stream, as JSON (a number or a string). */
    task?: { id: string; description: string; cursor?: string };
    data?: string;
  };
}

interface Entry {
  applied?: AppliedRecord;
  operation?: { changeId: string; record: OperationRecord };
}

export class ClusterRecordStore implements RecordStore {
  /** objectKey → backendKey → entry. */
  readonly #byObject = new Map<string, Map<string, Entry>>();
  /** backendKey → changeId → owner objectKey: finds an operation without walking every object. */
  readonly #operationOwners = new Map<string, Map<string, string>>();
  readonly #seeded = new Set<string>();
  readonly #dirty = new Set<string>();
  #keyId = '';
  readonly #persist: (owners: ReadonlySet<string>) => Promise<void>;

  /** `persist` writes the status of these objects with their current records. */
  constructor(persist: (owners: ReadonlySet<string>) => Promise<void>) {
    this.#persist = persist;
  }

  /** Takes an object's records from its status, the first time the object is seen. */
  seed(key: string, namespace: string, backends: ReadonlyArray<{ name: string; applied?: AppliedStatus }> | undefined): void {
    if (this.#seeded.has(key)) return;
    this.#seeded.add(key);
    for (const backend of backends ?? []) {
      const applied = backend.applied;
      if (!applied) continue;
      const entry: Entry = {};
      if (applied.address !== undefined) {
        // A fingerprint made with another key cannot be compared: the planner asks the backend instead.
        const fingerprint = applied.keyId === this.#keyId ? (applied.passwordFingerprint ?? null) : null;
        entry.applied = { address: applied.address, passwordFingerprint: fingerprint };
      }
      const backendKey = `${namespace}/${backend.name} ${applied.url}`;
      if (applied.operation) {
        entry.operation = { changeId: applied.operation.changeId, record: operationRecord(applied.operation, key) };
        this.#indexOperation(backendKey, applied.operation.changeId, key);
      }
      this.#entries(key).set(backendKey, entry);
    }
  }

  /** The object is gone from the cluster. */
  forget(key: string): void {
    for (const [backendKey, entry] of this.#byObject.get(key) ?? []) if (entry.operation) this.#operationOwners.get(backendKey)?.delete(entry.operation.changeId);
    this.#byObject.delete(key);
    this.#seeded.delete(key);
    this.#dirty.delete(key);
  }

  /** What to write into `status.backends[].applied` of one object, by backend id. */
  statusOf(key: string): Map<string, AppliedStatus> {
    const out = new Map<string, AppliedStatus>();
    for (const [backendKey, entry] of this.#byObject.get(key) ?? []) {
      const [backendId, url] = splitBackendKey(backendKey);
      if (!entry.applied && !entry.operation) continue;
      out.set(backendId, {
        url,
        ...(entry.applied ? { address: entry.applied.address } : {}),
        ...(entry.applied?.passwordFingerprint ? { passwordFingerprint: entry.applied.passwordFingerprint, keyId: this.#keyId } : {}),
        ...(entry.operation ? { operation: operationStatus(entry.operation.changeId, entry.operation.record) } : {}),
      });
    }
    return out;
  }

  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord> {
    const out = new Map<string, AppliedRecord>();
    for (const [key, entries] of this.#byObject) {
      const applied = entries.get(backendKey)?.applied;
      if (applied) out.set(key, applied);
    }
    return out;
  }

  set(backendKey: string, key: string, record: AppliedRecord): void {
    this.#entry(key, backendKey).applied = record;
  }

  forgetAddress(backendKey: string, address: string): void {
    for (const [key, entries] of this.#byObject) {
      const entry = entries.get(backendKey);
      if (entry?.applied?.address !== address) continue;
      delete entry.applied;
      this.#dirty.add(key);
    }
  }

  operation(backendKey: string, changeId: string): OperationRecord | undefined {
    return this.#findOperation(backendKey, changeId)?.record;
  }

  operationIds(backendKey: string): string[] {
    return [...(this.#operationOwners.get(backendKey)?.keys() ?? [])];
  }

  setOperation(backendKey: string, changeId: string, record: OperationRecord | undefined): void {
    const existing = this.#findOperation(backendKey, changeId);
    if (existing) {
      delete this.#byObject.get(existing.owner)!.get(backendKey)!.operation;
      this.#operationOwners.get(backendKey)?.delete(changeId);
      // An operation that ended needs no write of its own: nothing resumes from its absence, and the
      // status written at the end of the reconcile drops it (one status write per object, not two).
      if (record) this.#dirty.add(existing.owner);
    }
    if (!record) return;
    const owner = record.owner ?? existing?.owner;
    if (!owner) throw new Error(`operation ${changeId} has no owner; the controller keeps operations in their owner's status`);
    // One operation per object and backend: a new one replaces what the object had there.
    const previous = this.#entry(owner, backendKey).operation;
    if (previous) this.#operationOwners.get(backendKey)?.delete(previous.changeId);
    this.#entry(owner, backendKey).operation = { changeId, record };
    this.#indexOperation(backendKey, changeId, owner);
    // A creation about to be sent is no step to resume: it rides with the status written after the
    // reconcile like a password fingerprint does (a write per new object less in a burst). A
    // controller that dies in between finds the user created and sets its password once more.
    if (record.step !== CREATING || record.task) this.#dirty.add(owner);
  }

  useKey(keyId: string): void {
    this.#keyId = keyId;
  }

  /** Makes checkpoints durable: the owners' statuses are written. */
  async flush(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const owners = new Set(this.#dirty);
    this.#dirty.clear();
    await this.#persist(owners);
  }

  #entries(key: string): Map<string, Entry> {
    let entries = this.#byObject.get(key);
    if (!entries) this.#byObject.set(key, (entries = new Map()));
    return entries;
  }

  #entry(key: string, backendKey: string): Entry {
    const entries = this.#entries(key);
    let entry = entries.get(backendKey);
    if (!entry) entries.set(backendKey, (entry = {}));
    return entry;
  }

  #findOperation(backendKey: string, changeId: string): { owner: string; record: OperationRecord } | undefined {
    const owner = this.#operationOwners.get(backendKey)?.get(changeId);
    const operation = owner === undefined ? undefined : this.#byObject.get(owner)?.get(backendKey)?.operation;
    return owner !== undefined && operation?.changeId === changeId ? { owner, record: operation.record } : undefined;
  }

  #indexOperation(backendKey: string, changeId: string, owner: string): void {
    let owners = this.#operationOwners.get(backendKey);
    if (!owners) this.#operationOwners.set(backendKey, (owners = new Map()));
    owners.set(changeId, owner);
  }
}

function splitBackendKey(backendKey: string): [string, string] {
  const space = backendKey.indexOf(' ');
  return [backendKey.slice(0, space), backendKey.slice(space + 1)];
}

function operationRecord(status: NonNullable<AppliedStatus['operation']>, owner: string): OperationRecord {
  return {
    action: status.action as OperationRecord['action'],
    owner,
    step: status.step,
    ...(status.renameFrom ? { renameFrom: status.renameFrom } : {}),
    ...(status.taskStartedAt ? { taskStartedAt: status.taskStartedAt } : {}),
    ...(status.task ? { task: { id: status.task.id, description: status.task.description, ...(status.task.cursor !== undefined ? { cursor: JSON.parse(status.task.cursor) as string | number } : {}) } } : {}),
    ...(status.data ? { data: JSON.parse(status.data) as Record<string, unknown> } : {}),
  };
}

function operationStatus(changeId: string, record: OperationRecord): NonNullable<AppliedStatus['operation']> {
  return {
    changeId,
    action: record.action,
    step: record.step,
    ...(record.renameFrom ? { renameFrom: record.renameFrom } : {}),
    ...(record.taskStartedAt ? { taskStartedAt: record.taskStartedAt } : {}),
    ...(record.task ? { task: { id: record.task.id, description: record.task.description, ...(record.task.cursor !== undefined ? { cursor: JSON.stringify(record.task.cursor) } : {}) } } : {}),
    ...(record.data ? { data: JSON.stringify(record.data) } : {}),
  };
}


