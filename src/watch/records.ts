// The state directory's records for a process that lives for days beside `mailops apply`: read
// afresh at the start of every run (under the state directory's lock), so that what an apply by
// hand recorded in between is never overwritten with an older copy.
import type { AppliedRecord } from '../plan/state.ts';
import { FileRecordStore, type OperationRecord, type RecordStore } from '../state/records.ts';

export class RereadRecordStore implements RecordStore {
  readonly #stateDir: string;
  #inner: FileRecordStore;
  #keyId: string | undefined;

  private constructor(stateDir: string, inner: FileRecordStore) {
    this.#stateDir = stateDir;
    this.#inner = inner;
  }

  static async open(stateDir: string): Promise<RereadRecordStore> {
    return new RereadRecordStore(stateDir, await FileRecordStore.open(stateDir));
  }

  /** Reads records.json again; only with the state directory locked. */
  async reread(): Promise<void> {
    await this.#inner.flush();
    const inner = await FileRecordStore.open(this.#stateDir);
    if (this.#keyId !== undefined) inner.useKey(this.#keyId);
    this.#inner = inner;
  }

  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord> {
    return this.#inner.recordsFor(backendKey);
  }
  set(backendKey: string, objectKey: string, record: AppliedRecord): void {
    this.#inner.set(backendKey, objectKey, record);
  }
  forgetAddress(backendKey: string, address: string): void {
    this.#inner.forgetAddress(backendKey, address);
  }
  operation(backendKey: string, changeId: string): OperationRecord | undefined {
    return this.#inner.operation(backendKey, changeId);
  }
  operationIds(backendKey: string): string[] {
    return this.#inner.operationIds(backendKey);
  }
  setOperation(backendKey: string, changeId: string, record: OperationRecord | undefined): void {
    this.#inner.setOperation(backendKey, changeId, record);
  }
  useKey(keyId: string): void {
    this.#keyId = keyId;
    this.#inner.useKey(keyId);
  }
  flush(): Promise<void> {
    return this.#inner.flush();
  }
}
