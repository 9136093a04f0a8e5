// What mailops last applied, per backend and per MailUser: the address (so that an address change
// is recognised as a move, not a new user) and the password fingerprint. In file mode this is a
// JSON file in the state directory; the controller will keep the same records in object status.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AppliedRecord } from '../plan/state.ts';

export interface RecordStore {
  /** Records of one backend, by MailUser objectKey. */
  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord>;
  set(backendKey: string, objectKey: string, record: AppliedRecord): void;
  /** Forgets every record of this address (the user was deleted). */
  forgetAddress(backendKey: string, address: string): void;
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

interface RecordFile {
  version: 1;
  backends: Record<string, Record<string, AppliedRecord>>;
}

export class FileRecordStore implements RecordStore {
  readonly file: string;
  #data: RecordFile;
  #dirty = false;

  private constructor(file: string, data: RecordFile) {
    this.file = file;
    this.#data = data;
  }

  static async open(stateDir: string): Promise<FileRecordStore> {
    const file = path.join(stateDir, 'records.json');
    let data: RecordFile = { version: 1, backends: {} };
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as RecordFile;
      if (parsed.version !== 1 || typeof parsed.backends !== 'object') {
        throw new Error(`${file} is not a mailops record file (version ${String(parsed.version)})`);
      }
      data = parsed;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new FileRecordStore(file, data);
  }

  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord> {
    return new Map(Object.entries(this.#data.backends[backendKey] ?? {}));
  }

  set(backendKey: string, objectKey: string, record: AppliedRecord): void {
    (this.#data.backends[backendKey] ??= {})[objectKey] = record;
    this.#dirty = true;
  }

  forgetAddress(backendKey: string, address: string): void {
    const records = this.#data.backends[backendKey];
    if (!records) return;
    for (const [key, record] of Object.entries(records)) {
      if (record.address === address) {
        delete records[key];
        this.#dirty = true;
      }
    }
  }

  /** Writes atomically (temporary file + rename), readable by the owner only. */
  async flush(): Promise<void> {
    if (!this.#dirty) return;
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(this.#data, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.file);
    this.#dirty = false;
  }
}

/** Records held in memory only (tests, the demo). */
export class MemoryRecordStore implements RecordStore {
  readonly #data = new Map<string, Map<string, AppliedRecord>>();
  recordsFor(backendKey: string): ReadonlyMap<string, AppliedRecord> {
    return new Map(this.#data.get(backendKey) ?? []);
  }
  set(backendKey: string, objectKey: string, record: AppliedRecord): void {
    if (!this.#data.has(backendKey)) this.#data.set(backendKey, new Map());
    this.#data.get(backendKey)!.set(objectKey, record);
  }
  forgetAddress(backendKey: string, address: string): void {
    const records = this.#data.get(backendKey);
    for (const [key, record] of records ?? []) if (record.address === address) records!.delete(key);
  }
  async flush(): Promise<void> {}
}

/**
 * One apply at a time per state directory: a second one would race on the records. A lock left
 * by a process that is gone is taken over.
 */
export async function lockStateDir(stateDir: string): Promise<() => Promise<void>> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lockFile = path.join(stateDir, 'apply.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (holder && isAlive(holder)) {
        throw new Error(`another mailops apply (pid ${holder}) is using ${stateDir}; wait for it or remove ${lockFile}`);
      }
      await rm(lockFile, { force: true });
    }
  }
  throw new Error(`cannot lock ${lockFile}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
