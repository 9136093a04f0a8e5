// James's tasks over the emulator's task worker (../../emulator/tasks.ts): the username change task and its steps
// (UsernameChangeTask, 3.8.1), the reports ExecutionDetailsDto writes, and the /tasks routes (TasksRoutes). The
// memory app runs one task at a time (SerialTaskManagerWorker), so the worker is serial.

import { hostname } from 'node:os';
import { parseDuration } from '../../emulator/duration.ts';
import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../emulator/router.ts';
import { createTaskWorker, type StepState, type Task, type TaskState, type TaskStep, type TaskWorker } from '../../emulator/tasks.ts';
import { empty, halt, json } from './answers.ts';
import { addForward } from './mapping-rules.ts';
import { limitsOf, mailboxesOf, type JamesStore } from './store.ts';

export type TaskStatus = 'waiting' | 'inProgress' | 'canceledRequested' | 'completed' | 'canceled' | 'failed';

const TASK_STATUS: Readonly<Record<TaskState, TaskStatus>> = {
  waiting: 'waiting', running: 'inProgress', cancelRequested: 'canceledRequested',
  completed: 'completed', cancelled: 'canceled', failed: 'failed',
};
const STEP_STATUS: Readonly<Record<StepState, string>> = {
  waiting: 'WAITING', running: 'IN_PROGRESS', done: 'DONE', failed: 'FAILED', aborted: 'ABORTED', skipped: 'SKIPPED',
};

export function taskStatus(task: Task<RenameContext>): TaskStatus {
  return TASK_STATUS[task.state];
}

export function taskStatusHistory(task: Task<RenameContext>): TaskStatus[] {
  return task.history.map((state) => TASK_STATUS[state]);
}

export interface RenameContext {
  readonly store: JamesStore;
  readonly oldUser: string;
  readonly newUser: string;
  readonly fromStep: string | null;
}

export type JamesTaskWorker = TaskWorker<RenameContext>;

interface RenameStep extends TaskStep<RenameContext> {
  /** Steps of a lower priority are skipped when the task starts from this one (`fromStep`). */
  readonly priority: number;
}

/** ForwardUsernameChangeTaskStep: moves old's forwards to new, one by one, then forwards old to new. */
function* moveForwards({ store, oldUser, newUser }: RenameContext): Generator<number> {
  const destinations = store.mappings.values(oldUser, 'Forward');
  for (const [index, destination] of destinations.entries()) {
    addForward(store, newUser, destination === oldUser ? newUser : destination);
    store.mappings.remove(oldUser, 'Forward', destination);
    yield (index + 1) / (destinations.length + 1);
  }
  addForward(store, oldUser, newUser);
}

/** MailboxUsernameChangeTaskStep: renames the mailboxes one by one; one that exists on both sides is merged. */
function* moveMailboxes({ store, oldUser, newUser }: RenameContext): Generator<number> {
  const from = store.mailboxes.get(oldUser);
  if (from === undefined) return;
  const to = mailboxesOf(store, newUser);
  const moving = [...from];
  for (const [index, [name, mailbox]] of moving.entries()) {
    const existing = to.get(name);
    to.set(name, existing === undefined ? mailbox : {
      id: mailbox.id,
      messageCount: mailbox.messageCount + existing.messageCount,
      size: mailbox.size + existing.size,
    });
    from.delete(name);
    yield (index + 1) / moving.length;
  }
}

/** QuotaUsernameChangeTaskStep: copies old's user-level limits onto new (old keeps its own). */
function copyUserQuota({ store, oldUser, newUser }: RenameContext): void {
  const old = store.userQuotas.get(oldUser);
  if (old === undefined) return;
  const target = limitsOf(store.userQuotas, newUser);
  if (old.count !== null) target.count = old.count;
  if (old.size !== null) target.size = old.size;
}

/** The emulator keeps no delegations, ACLs or filters. */
function nothingToMove(): void {}

export const RENAME_STEPS: readonly RenameStep[] = [
  { name: 'ForwardUsernameChangeTaskStep', priority: 0, run: moveForwards },
  { name: 'DelegationUsernameChangeTaskStep', priority: 1, run: nothingToMove },
  { name: 'MailboxUsernameChangeTaskStep', priority: 2, run: moveMailboxes },
  { name: 'ACLUsernameChangeTaskStep', priority: 3, run: nothingToMove },
  { name: 'QuotaUsernameChangeTaskStep', priority: 3, run: copyUserQuota },
  { name: 'FilterUsernameChangeTaskStep', priority: 4, run: nothingToMove },
];

// The order 3.8.1 writes the steps in a report (a hash map's, not the execution order).
const REPORTED_STEP_ORDER = ['ACLUsernameChangeTaskStep', 'DelegationUsernameChangeTaskStep', 'FilterUsernameChangeTaskStep',
  'QuotaUsernameChangeTaskStep', 'ForwardUsernameChangeTaskStep', 'MailboxUsernameChangeTaskStep'];

export function createJamesTaskWorker(store: JamesStore): JamesTaskWorker {
  return createTaskWorker<RenameContext>({ concurrency: 1, newMap: () => store.collections.map() });
}

/** Starts a rename; steps below `fromStep`'s priority are skipped. */
export function submitRename(worker: JamesTaskWorker, context: RenameContext, durationMs: number): Task<RenameContext> {
  const skipBelow = RENAME_STEPS.find((step) => step.name === context.fromStep)?.priority ?? 0;
  return worker.submit({ context, steps: RENAME_STEPS, durationMs, skip: (step) => (step as RenameStep).priority < skipBelow });
}

/** `yyyy-MM-dd'T'HH:mm:ss.SSSZ` in UTC, as ExecutionDetailsDto writes dates. */
function taskDate(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

const NODE = hostname();

/** ExecutionDetailsDto, keys in 3.8.1's order: absent dates are omitted; executedOn / cancelledFrom are null until known. */
function taskReport(task: Task<RenameContext>): Record<string, unknown> {
  const { oldUser, newUser, fromStep } = task.context;
  const finished = (state: TaskState): Date | undefined => (task.state === state ? task.finishedAt : undefined);
  const dates: [string, Date | undefined][] = [
    ['startedDate', task.startedAt],
    ['completedDate', finished('completed')],
    ['canceledDate', task.cancelRequestedAt],
    ['failedDate', finished('failed')],
  ];
  return {
    additionalInformation: {
      type: 'UsernameChangeTask',
      oldUser,
      newUser,
      status: Object.fromEntries(REPORTED_STEP_ORDER.map((name) => [name, STEP_STATUS[task.steps.get(name) ?? 'waiting']])),
      fromStep,
      // An Instant printed with nanoseconds.
      timestamp: new Date().toISOString().replace('Z', '000000Z'),
    },
    submittedFrom: NODE,
    executedOn: task.startedAt === undefined ? null : NODE,
    cancelledFrom: task.cancelRequestedAt === undefined ? null : NODE,
    submitDate: taskDate(task.submittedAt),
    type: 'UsernameChangeTask',
    status: taskStatus(task),
    taskId: task.id,
    ...Object.fromEntries(dates.flatMap(([name, date]) => (date === undefined ? [] : [[name, taskDate(date)]]))),
  };
}

const TASK_STATUSES = Object.values(TASK_STATUS);
const MAX_AWAIT_MS = 365 * 86_400_000;

/** TasksRoutes: ids are UUIDs. */
function taskIdOf(call: RouteCall): string {
  const raw = call.param('id');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) {
    halt(400, 'InvalidArgument', 'Invalid task id', `Invalid UUID string: ${raw}`);
  }
  return raw.toLowerCase();
}

/** `timeout` like "30s" or "500ms" (bare numbers are seconds), at most a year; default a year. */
function awaitTimeoutOf(call: RouteCall): number {
  const raw = call.query.get('timeout');
  if (raw === null || raw === '') return MAX_AWAIT_MS;
  const invalid = (details: string): never => halt(400, 'InvalidArgument', 'Invalid timeout', details);
  if (/^\s*-\s*\d/.test(raw)) invalid('Duration amount should be positive');
  let timeoutMs = 0;
  try {
    timeoutMs = parseDuration(raw, 's');
  } catch {
    const unit = /^\s*\d+\s*([a-zA-Z,]+)\s*$/.exec(raw)?.[1];
    invalid(unit === undefined
      ? 'Supplied value do not follow the unit format (number optionally suffixed with a string representing the unit'
      : `Unknown unit: ${unit}`);
  }
  if (timeoutMs > MAX_AWAIT_MS) invalid('Timeout should not exceed 365 days');
  return timeoutMs;
}

export function taskRoutes(worker: JamesTaskWorker): Route<RouteHandler>[] {
  const list: RouteHandler = (call) => {
    const status = call.query.get('status');
    const type = call.query.get('type');
    if (status !== null && !TASK_STATUSES.some((known) => known.toLowerCase() === status.toLowerCase())) {
      halt(400, 'InvalidArgument', 'Invalid status query parameter', `Unknown status value '${status}'`);
    }
    // TasksRoutes reports a bad offset or limit as a bad status too.
    const count = (name: string): number | undefined => {
      const raw = call.query.get(name);
      if (raw === null) return undefined;
      if (!/^\d+$/.test(raw)) halt(400, 'InvalidArgument', 'Invalid status query parameter', `For input string: "${raw}"`);
      return Number(raw);
    };
    const offset = count('offset') ?? 0;
    const limit = count('limit');
    const reports = [...worker.all()]
      .filter((task) => status === null || taskStatus(task).toLowerCase() === status.toLowerCase())
      .filter((task) => type === null || type === 'UsernameChangeTask')
      .sort((a, b) => b.submittedAt.getTime() - a.submittedAt.getTime())
      .slice(offset, limit === undefined ? undefined : offset + limit)
      .map(taskReport);
    return json(reports);
  };
  const show: RouteHandler = (call) => {
    const id = taskIdOf(call);
    const task = worker.get(id);
    return task === undefined ? halt(404, 'notFound', `${id} can not be found`) : json(taskReport(task));
  };
  /** Blocks until the task ends (a long poll). */
  const awaitTask: RouteHandler = async (call) => {
    const id = taskIdOf(call);
    const timeoutMs = awaitTimeoutOf(call);
    const task = worker.get(id);
    if (task === undefined) halt(404, 'ServerError', 'The taskId is not found');
    return (await worker.waitForEnd(task, timeoutMs, call.request.signal)) ? json(taskReport(task)) : halt(408, 'ServerError', 'The timeout has been reached');
  };
  /** Asks for cancellation; 204 even for an unknown or finished task. */
  const cancel: RouteHandler = (call) => {
    const task = worker.get(taskIdOf(call));
    if (task !== undefined) worker.cancel(task);
    return empty();
  };
  return routeTable([
    ['GET', '/tasks', list],
    ['GET', '/tasks/:id', show],
    ['GET', '/tasks/:id/await', awaitTask],
    ['DELETE', '/tasks/:id', cancel],
  ]);
}

