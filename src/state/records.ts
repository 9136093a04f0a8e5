// What mailops remembers per backend, because a backend cannot tell it:
//   - per MailUser, the address and password fingerprint it last applied (an address change is
//     recognised as a move, not a new user; a password is write-only on every backend);
//   - per change, the checkpoint of an operation that is under way (a rename task that moves
//     mail), so that a run that died resumes it instead of starting it again.
// In file mode this is records.json in the state directory; the controller keeps the same records
// in object status.
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Checkpoint } from '../engine/adapter.ts';
import type { Action } from '../plan/plan.ts';
import type { AppliedRecord } from '../plan/state.ts';

/** A checkpoint as stored, with what identifies the change it belongs to. */
export interface OperationRecord extends Checkpoint {
  action: Action;
  /** The objectKey of the manifest object the change serves (the controller keeps it in that object's status). */
  owner?: string;
  /** For an address change: the old address. A checkpoint resumes only the same move. */
  renameFrom?: string;
  /** When the operation's current task was started (ISO 8601). */
  taskStartedAt?: string;
  /**
   * For a user being created: the fingerprint of the password it is created with. Every backend
   * creates a user with its password in one call, so a user found on the server after the run
   * that created it died has this password (see Engine.plan).
   */
  passwordFingerprint?: string;
}

export interface RecordStore {
  /** Records of one backend, by MailUser objectKey. */
  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord>;
  set(backendKey: string, objectKey: string, record: AppliedRecord): void;
  /** Forgets every record of this address (the user was deleted). */
  forgetAddress(backendKey: string, address: string): void;
  operation(backendKey: string, changeId: string): OperationRecord | undefined;
  /** The changes of one backend that have a checkpoint. */
  operationIds(backendKey: string): string[];
  /** Stores (or, with undefined, clears) the checkpoint of a change; durable after flush(). */
  setOperation(backendKey: string, changeId: string, record: OperationRecord | undefined): void;
  /**
   * Declares the fingerprint key in use. Fingerprints made with another key cannot be compared:
   * they are dropped (the planner then asks the backend, or sets the password once).
   */
  useKey(keyId: string): void;
  flush(): Promise<void>;
}

/** Records are kept per backend *and* URL: pointing a MailBackend at another server starts afresh. */
export function backendKey(backendId: string, url: string): string {
  return `${backendId} ${url}`;
}

/** Where file mode keeps its state: --state-dir, MAILOPS_STATE_DIR, or the XDG state directory. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MAILOPS_STATE_DIR) return env.MAILOPS_STATE_DIR;
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'mailops');
}

interface RecordData {
  version: 1;
  /** Which fingerprint key the fingerprints were made with (derived from the key, not the key). */
  keyId?: string;
  backends: Record<string, Record<string, AppliedRecord>>;
  operations?: Record<string, Record<string, OperationRecord>>;
}

/** The records in memory (tests, the demo); FileRecordStore adds the file. */
export class MemoryRecordStore implements RecordStore {
  protected data: RecordData;
  protected dirty = false;

  constructor(data: RecordData = { version: 1, backends: {} }) {
    this.data = data;
  }

  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord> {
    return new Map(Object.entries(this.data.backends[backendKey] ?? {}));
  }

  set(backendKey: string, objectKey: string, record: AppliedRecord): void {
    (this.data.backends[backendKey] ??= {})[objectKey] = record;
    this.dirty = true;
  }

  forgetAddress(backendKey: string, address: string): void {
    const records = this.data.backends[backendKey] ?? {};
    for (const [key, record] of Object.entries(records)) {
      if (record.address !== address) continue;
      delete records[key];
      this.dirty = true;
    }
  }

  operation(backendKey: string, changeId: string): OperationRecord | undefined {
    return this.data.operations?.[backendKey]?.[changeId];
  }

  operationIds(backendKey: string): string[] {
    return Object.keys(this.data.operations?.[backendKey] ?? {});
  }

  setOperation(backendKey: string, changeId: string, record: OperationRecord | undefined): void {
    const operations = ((this.data.operations ??= {})[backendKey] ??= {});
    if (record) operations[changeId] = record;
    else if (changeId in operations) delete operations[changeId];
    else return;
    this.dirty = true;
  }

  useKey(keyId: string): void {
    if (this.data.keyId === keyId) return;
    // A file from before key ids were kept was made with the key next to it: adopt it as is.
    if (this.data.keyId !== undefined) {
      for (const records of Object.values(this.data.backends)) {
        for (const record of Object.values(records)) record.passwordFingerprint = null;
      }
    }
    this.data.keyId = keyId;
    this.dirty = true;
  }

  async flush(): Promise<void> {
    this.dirty = false;
  }
}

export class FileRecordStore extends MemoryRecordStore {
  readonly file: string;
  readonly #readOnly: boolean;
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, data: RecordData, readOnly: boolean) {
    super(data);
    this.file = file;
    this.#readOnly = readOnly;
  }

  /** `readOnly`: for commands that must not write the state directory (plan); flush does nothing. */
  static async open(stateDir: string, options: { readOnly?: boolean } = {}): Promise<FileRecordStore> {
    const file = path.join(stateDir, 'records.json');
    const readOnly = options.readOnly ?? false;
    if (!readOnly) await removeAbandonedWrites(stateDir);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new FileRecordStore(file, { version: 1, backends: {} }, readOnly);
      throw new Error(`cannot read ${file}: ${(error as Error).message}`);
    }
    return new FileRecordStore(file, parseRecords(file, text), readOnly);
  }

  /**
   * Writes atomically (temporary file + rename), readable by the owner only. Writes are queued:
   * a checkpoint during a phase must not interleave with the write at the phase's end. Flushes
   * asked for while a write runs become one write after it (the queued ones find nothing dirty).
   * A failed write fails its callers, not the writes after it.
   */
  override flush(): Promise<void> {
    if (this.#readOnly) return Promise.resolve();
    const write = this.#writing.catch(() => undefined).then(() => this.#write());
    this.#writing = write;
    return write;
  }

  async #write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      // A temporary file left by a killed run of the same pid keeps its mode when opened again.
      await handle.chmod(0o600);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
  }
}

/**
 * A writer killed between creating its temporary file and renaming (or linking) it leaves
 * `records.json.<pid>.tmp` (or `fingerprint.key.<pid>.tmp`) behind: never read as state, and
 * removed here so that kills do not pile them up. A file of a live process other than this one is
 * another writer's, and stays.
 */
async function removeAbandonedWrites(stateDir: string): Promise<void> {
  let files: string[];
  try {
    files = await readdir(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const name of files) {
    const pid = Number(/^(?:records\.json|fingerprint\.key)\.(\d+)\.tmp$/.exec(name)?.[1]);
    if (pid && (pid === process.pid || !isAlive(pid))) await rm(path.join(stateDir, name), { force: true });
  }
}

function parseRecords(file: string, text: string): RecordData {
  const recovery =
    'It is where mailops remembers the passwords it set (as fingerprints) and the address changes under way. ' +
    'Restore it from a backup, or move it aside: the next plan then asks the servers, and sets a password once where they cannot tell.';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}). ${recovery}`);
  }
  const data = parsed as Partial<RecordData> | null;
  if (data?.version !== 1 || typeof data.backends !== 'object' || data.backends === null) {
    throw new Error(`${file} is not a mailops record file of a version this mailops reads (version ${String(data?.version)}). ${recovery}`);
  }
  return data as RecordData;
}

/**
 * One apply at a time per state directory: a second one would race on the records. `mailops watch`
 * takes the same lock for each of its runs. A lock left by a process that is gone is taken over.
 */
export async function lockStateDir(stateDir: string, holder = 'mailops apply'): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lockFile = path.join(stateDir, 'apply.lock');
  return lockFileOf(lockFile, holder, (pid, by) => `another ${by} (pid ${pid}) is using ${stateDir}; wait for it or remove ${lockFile}`);
}

/**
 * An exclusive lock: a file holding the holder's pid (and what it is), created only if absent.
 * `busy` words the error when a live process holds it.
 *
 * A lock is taken over when its holder is gone. The pid alone can mislead once it is reused (a
 * container's mailops is pid 1 after every restart; a reboot starts pids afresh), so the lock also
 * names when its holder started (Linux: /proc/<pid>/stat): a live process of that pid that started
 * at another time is not the holder. A lock naming this very process is stale too: it never takes
 * a lock it holds. Where the start time cannot be read, a live pid is taken for the holder, and the
 * message says which file to remove.
 */
export async function lockFileOf(lockFile: string, holder: string, busy: (pid: number, by: string) => string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      const started = await processStartTime(process.pid);
      await handle.writeFile(`${process.pid} ${holder}\n${started ? `started ${started}\n` : ''}`);
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const [first = '', ...more] = (await readFile(lockFile, 'utf8').catch(() => '')).split('\n');
      const [pidText, ...by] = first.trim().split(' ');
      const pid = Number(pidText);
      const started = more.find((line) => line.startsWith('started '))?.slice('started '.length).trim();
      if (pid && pid !== process.pid && isAlive(pid) && (await sameProcess(pid, started))) {
        throw new StateLockedError(busy(pid, by.join(' ') || 'mailops apply'), pid);
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`cannot lock ${lockFile}`);
}

/** Whether the live process `pid` is the one that started at `started` (true when either is unknown). */
async function sameProcess(pid: number, started: string | undefined): Promise<boolean> {
  if (!started) return true;
  const now = await processStartTime(pid);
  return now === undefined || now === started;
}

/** When a process started, in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined off Linux. */
async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The lock is held by another live process. */
export class StateLockedError extends Error {
  readonly pid: number;
  constructor(message: string, pid: number) {
    super(message);
    this.name = 'StateLockedError';
    this.pid = pid;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
