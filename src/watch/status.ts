// What `mailops watch` reports, in its status file and at GET /status: which commit is applied,
// which was attempted last and how that went, the configuration errors of a broken commit with
// file:line:column and field, and the last runs. Only commits, counts, object names and messages:
// never a password, a token or a cookie.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Condition } from '../model/schema.ts';

/**
 * How a run ended.
 *   Applied      every change converged: the backends are as the commit declares
 *   Progressing  backend tasks still run (an address change moving mail): looked at again shortly
 *   Failed       a backend could not be reached, a change failed, or a secret is missing
 *   Refused      the prune safety valve held back a domain's changes (the rest were applied)
 *   Invalid      the new commit has configuration errors: not applied; the previous one stays in force
 *   FetchFailed  the repository could not be fetched: the configuration in force is still reconciled
 *   StateLocked  another mailops (an apply by hand) holds the state directory: tried again shortly
 */
export type RunResult = 'Applied' | 'Progressing' | 'Failed' | 'Refused' | 'Invalid' | 'FetchFailed' | 'StateLocked';

/** Why a run happened. */
export type RunTrigger = 'start' | 'commit' | 'interval' | 'retry' | 'tasks' | 'signal' | 'resume';

export interface ChangeCounts {
  applied: number;
  failed: number;
  skipped: number;
  pending: number;
}

export interface RunRecord {
  trigger: RunTrigger;
  startedAt: string;
  finishedAt: string;
  /** The newest commit of the branch, as fetched in this run. */
  fetchedRevision?: string;
  /** The commit that was new in this run and so was validated (and, when valid, applied). */
  attemptedRevision?: string;
  /** The commit whose configuration the backends were reconciled to in this run. */
  appliedRevision?: string;
  result: RunResult;
  changes: ChangeCounts;
  /** Configuration errors, backend errors, failed changes, refusals: one line each. */
  errors: string[];
}

export interface WatchStatus {
  repository: string;
  branch: string;
  path: string;
  suspended: boolean;
  /** Create this file to suspend the watcher; remove it to resume. */
  suspendFile: string;
  /** `Ready`: the newest commit is applied and the backends converged. */
  conditions: Condition[];
  /** The last commit whose configuration fully converged on every backend. */
  lastAppliedRevision?: string;
  lastAppliedTime?: string;
  /** The last commit the watcher tried to apply (the newest it validated), and how that ended. */
  lastAttemptedRevision?: string;
  lastAttemptedTime?: string;
  lastAttemptResult?: RunResult;
  /** Why the last attempt did not apply: for an invalid commit, every error with file:line:column and field. */
  lastAttemptErrors?: string[];
  /** The commit whose configuration is in force: reconciled at every interval (drift correction). */
  revisionInForce?: string;
  lastFetchedRevision?: string;
  lastFetchTime?: string;
  /** Why the last fetch failed, while it does. */
  fetchError?: string;
  /** Warnings of the configuration in force (an alias member nothing declares). */
  warnings: string[];
  /** The last runs, newest first. */
  runs: RunRecord[];
}

export const RUNS_KEPT = 20;

/** The status of an earlier watcher of the same repository, so that a restart keeps the history. */
export async function readStatusFile(file: string): Promise<Partial<WatchStatus> | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<WatchStatus>;
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined; // none yet, or unreadable: start afresh
  }
}

/** The status as JSON, its fields in the order a person reads them (the same at GET /status). */
export function statusJson(status: WatchStatus): string {
  const order: Array<keyof WatchStatus> = [
    'repository', 'branch', 'path', 'suspended', 'suspendFile', 'conditions',
    'lastAppliedRevision', 'lastAppliedTime', 'lastAttemptedRevision', 'lastAttemptedTime', 'lastAttemptResult', 'lastAttemptErrors',
    'revisionInForce', 'lastFetchedRevision', 'lastFetchTime', 'fetchError', 'warnings', 'runs',
  ];
  return `${JSON.stringify(Object.fromEntries(order.map((key) => [key, status[key]])), null, 2)}\n`;
}

/** Written atomically (temporary file + rename), so a reader never sees half of it. */
export async function writeStatusFile(file: string, status: WatchStatus): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(statusJson(status));
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}

/** The Ready condition, keeping its transition time while status and reason stay the same. */
export function readyCondition(previous: Condition | undefined, status: Condition['status'], reason: string, message: string, now: Date): Condition {
  const same = previous?.status === status && previous.reason === reason;
  return { type: 'Ready', status, reason, message, lastTransitionTime: same ? previous.lastTransitionTime : now.toISOString() };
}
