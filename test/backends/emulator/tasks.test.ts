import { afterEach, describe, expect, it } from 'vitest';
import { createActionTable, readForm, ActionParameters } from '../../../src/backends/emulator/actions.ts';
import { halt, jsonAnswer } from '../../../src/backends/emulator/answers.ts';
import { createRouteDispatcher, routeTable, type RouteHandler } from '../../../src/backends/emulator/router.ts';
import { startEmulator, type RunningEmulator } from '../../../src/backends/emulator/server.ts';
import { createTaskWorker, isFinal, type Task, type TaskStep, type TaskWorker } from '../../../src/backends/emulator/tasks.ts';

const workers: TaskWorker<unknown>[] = [];
const emulators: RunningEmulator[] = [];
afterEach(async () => {
  for (const worker of workers.splice(0)) worker.close();
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

function worker<C>(concurrency?: number): TaskWorker<C> {
  const created = createTaskWorker<C>(concurrency === undefined ? {} : { concurrency });
  workers.push(created as TaskWorker<unknown>);
  return created;
}

const never = new AbortController().signal;

/** A step that moves items from one list to another, one per pause. */
function moveStep(name = 'move'): TaskStep<{ from: string[]; to: string[] }> {
  return {
    name,
    *run(context, report) {
      const total = context.from.length;
      for (let moved = 1; context.from.length > 0; moved += 1) {
        context.to.push(context.from.shift() ?? '');
        report.log(`moved ${moved} of ${total}`);
        yield moved / total;
      }
    },
  };
}

describe('task worker', () => {
  it('runs the steps in order, moving the version on every change, and reports progress and log lines', async () => {
    const tasks = worker<{ from: string[]; to: string[] }>();
    const context = { from: ['a', 'b'], to: [] as string[] };
    const task = tasks.submit({ context, steps: [moveStep(), { name: 'finish', run: (_, report) => report.setResult('ok') }], durationMs: 40 });
    expect([task.state, task.version]).toEqual(['waiting', 1]);
    const versions: number[] = [];
    let known = task.version;
    while (!isFinal(task.state)) {
      expect(await tasks.waitForChange(task, known, 5_000, never)).toBe(true);
      expect(task.version).toBeGreaterThan(known);
      known = task.version;
      versions.push(task.version);
    }
    expect(task.state).toBe('completed');
    expect(task.history).toEqual(['waiting', 'running', 'completed']);
    expect(task.progress).toBe(1);
    expect(task.log).toEqual(['moved 1 of 2', 'moved 2 of 2']);
    expect(task.result).toBe('ok');
    expect(context.to).toEqual(['a', 'b']);
    expect([...task.steps]).toEqual([['move', 'done'], ['finish', 'done']]);
    expect(versions.length).toBeGreaterThan(2);
  });

  it('answers a long poll at once when the version has already moved, and on timeout otherwise', async () => {
    const tasks = worker<null>();
    const task = tasks.submit({ context: null, steps: [{ name: 'slow', run: () => {} }], durationMs: 60_000 });
    await tasks.waitForChange(task, 1, 5_000, never);
    expect(await tasks.waitForChange(task, 0, 0, never)).toBe(true);
    const started = performance.now();
    expect(await tasks.waitForChange(task, task.version, 100, never)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('releases a long poll when the client goes away or the worker closes', async () => {
    const tasks = worker<null>();
    const task = tasks.submit({ context: null, steps: [{ name: 'slow', run: () => {} }], durationMs: 60_000 });
    const client = new AbortController();
    const abandoned = tasks.waitForEnd(task, 60_000, client.signal);
    client.abort();
    expect(await abandoned).toBe(false);
    const pending = tasks.waitForEnd(task, 60_000, never);
    tasks.close();
    expect(await pending).toBe(false);
  });

  it('cancels a running task at its next pause: what the current step did stays, the steps after it never run', async () => {
    const tasks = worker<{ from: string[]; to: string[] }>();
    const context = { from: ['a', 'b', 'c'], to: [] as string[] };
    const later = { name: 'later', run: () => { throw new Error('must not run'); } };
    const task = tasks.submit({ context, steps: [moveStep(), later], durationMs: 120_000 });
    await tasks.waitForChange(task, 2, 5_000, never);
    expect(context.to).toEqual(['a']);
    tasks.cancel(task);
    expect(task.state).toBe('cancelRequested');
    expect(await tasks.waitForEnd(task, 5_000, never)).toBe(true);
    expect(task.history).toEqual(['waiting', 'running', 'cancelRequested', 'cancelled']);
    expect(context).toEqual({ from: ['b', 'c'], to: ['a'] });
    expect([...task.steps]).toEqual([['move', 'running'], ['later', 'waiting']]);
  });

  it('runs one task at a time by default; a cancelled waiting task ends when the worker reaches it', async () => {
    const tasks = worker<string>();
    const ran: string[] = [];
    const step: TaskStep<string> = { name: 'note', run: (name) => { ran.push(name); } };
    const first = tasks.submit({ context: 'first', steps: [step], durationMs: 50 });
    const second = tasks.submit({ context: 'second', steps: [step], durationMs: 50 });
    tasks.cancel(second);
    expect(second.state).toBe('cancelRequested');
    expect(await tasks.waitForEnd(second, 5_000, never)).toBe(true);
    expect([first.state, second.state, second.startedAt]).toEqual(['completed', 'cancelled', undefined]);
    expect(ran).toEqual(['first']);
  });

  it('fails a task whose step throws and aborts the steps after it; with concurrency, tasks overlap', async () => {
    const tasks = worker<null>(2);
    const failing = tasks.submit({
      context: null,
      steps: [{ name: 'breaks', run: () => { throw new Error('disk full'); } }, { name: 'after', run: () => {} }],
      durationMs: 10,
    });
    const slow = tasks.submit({ context: null, steps: [{ name: 'slow', run: () => {} }], durationMs: 60_000 });
    expect(await tasks.waitForEnd(failing, 5_000, never)).toBe(true);
    expect([failing.state, failing.error, [...failing.steps]]).toEqual(['failed', 'disk full', [['breaks', 'failed'], ['after', 'aborted']]]);
    expect(slow.state).toBe('running');
  });
});

// MailStore's current API (mailstore.md): every call is POST /api/invoke/{Function} with form fields and answers an
// envelope; a call not done within the wait time answers `running` with a token, then POST /api/get-status long-polls
// with lastKnownStatusVersion and millisecondsTimeout; POST /api/cancel-async cancels without acknowledging.
describe('a MailStore-style asynchronous API on the framework', () => {
  type Store = string[];
  interface Envelope {
    error: { message: string } | null;
    token: string | null;
    statusVersion: number;
    statusCode: string;
    percentProgress: number | null;
    result: unknown;
    logOutput: string | null;
  }

  async function startMailStoreLike(): Promise<RunningEmulator> {
    const store: Store = ['INBOX', 'Sent'];
    const tasks = worker<Store>(Infinity);
    const STATUS = { waiting: 'running', running: 'running', cancelRequested: 'running', completed: 'succeeded', cancelled: 'cancelled', failed: 'failed' };
    const envelope = (task: Task<Store>) => jsonAnswer({
      error: task.error === undefined ? null : { message: task.error, details: null },
      token: isFinal(task.state) ? null : task.id,
      statusVersion: task.version,
      statusCode: STATUS[task.state],
      percentProgress: Math.round(task.progress * 100),
      statusText: null,
      result: task.result ?? null,
      logOutput: task.log.length === 0 ? null : task.log.join('\n'),
    }, { bom: true });
    const failed = (message: string) => jsonAnswer({ error: { message, details: null }, statusCode: 'failed' }, { bom: true });
    const failure = (message: string): never => halt(failed(message));
    const verifyStore: TaskStep<Store> = {
      name: 'verify',
      *run(folders, report) {
        for (const [index, folder] of folders.entries()) {
          report.log(`verified ${folder}`);
          yield (index + 1) / folders.length;
        }
        report.setResult({ verified: folders.length });
      },
    };
    const functions = createActionTable<(params: ActionParameters) => Task<Store>>({
      VerifyStore: (params) => tasks.submit({ context: store, steps: [verifyStore], durationMs: Number(params.required('durationMs')) }),
    });
    const params = (call: Parameters<RouteHandler>[0]) => new ActionParameters(readForm(call.request), failure);
    const taskOf = (token: string) => tasks.get(token) ?? halt({ status: 404 });
    const dispatch = createRouteDispatcher(routeTable<RouteHandler>([
      ['POST', '/api/invoke/:function', async (call) => {
        const run = functions.find(call.param('function')) ?? failure(`Unknown function ${call.param('function')}`);
        const task = run(params(call));
        await tasks.waitForEnd(task, 0, call.request.signal);
        return envelope(task);
      }],
      ['POST', '/api/get-status', async (call) => {
        const form = params(call);
        const task = taskOf(form.required('token'));
        await tasks.waitForChange(task, Number(form.required('lastKnownStatusVersion')), Number(form.required('millisecondsTimeout')), call.request.signal);
        return envelope(task);
      }],
      ['POST', '/api/cancel-async', (call) => {
        tasks.cancel(taskOf(params(call).required('token')));
        return { status: 200 };
      }],
    ]), { malformedPath: () => ({ status: 400 }), notFound: () => ({ status: 404 }) });
    const emulator = await startEmulator({ name: 'mailstore', handle: dispatch, serverError: failed });
    emulators.push(emulator);
    return emulator;
  }

  async function post(emulator: RunningEmulator, path: string, form: Record<string, string>): Promise<Envelope> {
    const response = await fetch(`${emulator.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    // Read as bytes: a text decoder would drop the byte order mark this API starts its answers with.
    const bytes = Buffer.from(await response.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    return JSON.parse(bytes.subarray(3).toString('utf8')) as Envelope;
  }

  it('follows a long-running call by its token: status versions, progress, log output, then the result', async () => {
    const emulator = await startMailStoreLike();
    const first = await post(emulator, '/api/invoke/VerifyStore', { durationMs: '200' });
    expect(first).toMatchObject({ statusCode: 'running', token: expect.any(String), error: null });
    const seen: Envelope[] = [first];
    let status = first;
    while (status.statusCode === 'running') {
      status = await post(emulator, '/api/get-status', {
        token: first.token ?? '', lastKnownStatusVersion: String(status.statusVersion), millisecondsTimeout: '5000',
      });
      expect(status.statusVersion).toBeGreaterThan(seen.at(-1)?.statusVersion ?? 0);
      seen.push(status);
    }
    expect(status).toMatchObject({ statusCode: 'succeeded', token: null, percentProgress: 100, result: { verified: 2 } });
    expect(status.logOutput).toBe('verified INBOX\nverified Sent');
    const progress = seen.map((envelope) => envelope.percentProgress ?? 0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.some((percent) => percent > 0 && percent < 100)).toBe(true);
  });

  it('cancels a call on request; polling goes on until the final status', async () => {
    const emulator = await startMailStoreLike();
    const first = await post(emulator, '/api/invoke/VerifyStore', { durationMs: '60000' });
    await fetch(`${emulator.url}/api/cancel-async`, { method: 'POST', body: new URLSearchParams({ token: first.token ?? '' }) });
    let status = first;
    while (status.statusCode === 'running') {
      status = await post(emulator, '/api/get-status', {
        token: first.token ?? '', lastKnownStatusVersion: String(status.statusVersion), millisecondsTimeout: '5000',
      });
    }
    expect(status.statusCode).toBe('cancelled');
    expect((await post(emulator, '/api/invoke/Nope', {})).error).toEqual({ message: 'Unknown function Nope', details: null });
    expect((await post(emulator, '/api/invoke/VerifyStore', {})).error).toEqual({ message: "parameter 'durationMs' is missing", details: null });
  });
});
