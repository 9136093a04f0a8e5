import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startJamesEmulator, type JamesEmulator, type JamesEmulatorOptions } from '../../../src/backends/james/emulator.ts';

// ---------------------------------------------------------------------------------------------------------------
// Helpers: raw HTTP against the emulator, the way a client (or curl) would talk to WebAdmin.

interface Answer {
  status: number;
  contentType: string | null;
  location: string | null;
  text: string;
  body: unknown;
}

type Call = (method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }) => Promise<Answer>;

function caller(emulator: JamesEmulator, defaults: Record<string, string> = {}): Call {
  return async (method, path, options = {}) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const response = await fetch(`${emulator.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...defaults, ...options.headers },
      body,
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, contentType: response.headers.get('content-type'), location: response.headers.get('location'), text, body: parsed };
  };
}

function jamesError(statusCode: number, type: string, message: string, details: string | null = null) {
  return { statusCode, type, message, details };
}

const emulators: JamesEmulator[] = [];
async function james(options: JamesEmulatorOptions = {}): Promise<{ emulator: JamesEmulator; call: Call }> {
  const emulator = await startJamesEmulator(options);
  emulators.push(emulator);
  return { emulator, call: caller(emulator) };
}
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

/** A domain and its users, as most tests start. */
async function withUsers(call: Call, ...usernames: string[]): Promise<void> {
  for (const domain of new Set(usernames.map((username) => username.split('@')[1]))) {
    expect((await call('PUT', `/domains/${domain}`)).status).toBe(204);
  }
  for (const username of usernames) {
    expect((await call('PUT', `/users/${username}`, { body: { password: 'secret' } })).status).toBe(204);
  }
}

async function renameTask(call: Call, from: string, to: string): Promise<string> {
  const started = await call('POST', `/users/${from}/rename/${to}?action=rename`);
  expect(started.status).toBe(201);
  return (started.body as { taskId: string }).taskId;
}

// ---------------------------------------------------------------------------------------------------------------

describe('James emulator: domains', () => {
  it('starts with the default domain, which cannot be deleted', async () => {
    const { call } = await james();
    expect((await call('GET', '/domains')).body).toEqual(['localhost']);
    const refused = await call('DELETE', '/domains/localhost');
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual(jamesError(400, 'InvalidArgument', 'Can not remove domain', 'localhost is autodetected and cannot be removed'));
  });

  it('creates, finds and deletes domains; deleting or re-creating is idempotent', async () => {
    const { call, emulator } = await james({ defaultDomain: 'mail.test' });
    expect((await call('PUT', '/domains/example.org')).status).toBe(204);
    expect((await call('PUT', '/domains/example.org')).status).toBe(204);
    expect((await call('GET', '/domains/example.org')).status).toBe(204);
    expect(emulator.state.domains).toEqual(['mail.test', 'example.org']);
    expect((await call('DELETE', '/domains/example.org')).status).toBe(204);
    expect((await call('DELETE', '/domains/example.org')).status).toBe(204);
    const missing = await call('GET', '/domains/example.org');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual(jamesError(404, 'InvalidArgument', 'The domain list does not contain: example.org'));
  });

  it.each([
    ['a%40b.org', 'a@b.org', 'Domain parts ASCII chars must be a-z A-Z 0-9 - or _'],
    ['a%2Fb.org', 'a/b.org', 'Domain parts ASCII chars must be a-z A-Z 0-9 - or _'],
    ['-x.org', '-x.org', "Domain part should not start with '-' or '_'"],
    [`${'a'.repeat(250)}.org`, `${'a'.repeat(250)}.org`, 'Domain name length should not exceed 253 characters'],
  ])('refuses the domain name %s', async (encoded, name, details) => {
    const { call } = await james();
    const answer = await call('PUT', `/domains/${encoded}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(jamesError(400, 'InvalidArgument', `Invalid request for domain creation ${name}`, details));
  });

  it('needs the alias domain to exist before it can point at another domain', async () => {
    const { call, emulator } = await james();
    await call('PUT', '/domains/example.org');
    const early = await call('PUT', '/domains/example.org/aliases/alias.org');
    expect(early.status).toBe(404);
    expect(early.body).toEqual(jamesError(404, 'InvalidArgument', 'The domain list does not contain: alias.org'));
    await call('PUT', '/domains/alias.org');
    expect((await call('PUT', '/domains/example.org/aliases/alias.org')).status).toBe(204);
    expect((await call('GET', '/domains/example.org/aliases')).body).toEqual([{ source: 'alias.org' }]);
    expect(emulator.state.mappings).toEqual({ 'alias.org': [{ type: 'DomainAlias', mapping: 'example.org' }] });
    const same = await call('PUT', '/domains/example.org/aliases/example.org');
    expect(same.status).toBe(400);
    expect(same.body).toMatchObject({ message: 'Source domain and destination domain can not have same value(example.org)' });
  });

  it('stores a repeated domain alias twice, as the memory server does, and lists it once', async () => {
    const { call } = await james();
    await call('PUT', '/domains/example.org');
    await call('PUT', '/domains/alias.org');
    await call('PUT', '/domains/example.org/aliases/alias.org');
    await call('PUT', '/domains/example.org/aliases/alias.org');
    expect((await call('GET', '/mappings')).body).toEqual({
      'alias.org': [{ type: 'DomainAlias', mapping: 'example.org' }, { type: 'DomainAlias', mapping: 'example.org' }],
    });
    expect((await call('GET', '/domains/example.org/aliases')).body).toEqual([{ source: 'alias.org' }]);
    await call('DELETE', '/domains/example.org/aliases/alias.org');
    expect((await call('GET', '/domains/example.org/aliases')).body).toEqual([{ source: 'alias.org' }]);
  });
});

describe('James emulator: users', () => {
  it('creates a user once, then answers 409; ?force changes the password', async () => {
    const { call, emulator } = await james();
    await withUsers(call, 'bob@example.org');
    const again = await call('PUT', '/users/bob@example.org', { body: { password: 'other' } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(jamesError(409, 'WrongState', "'bob@example.org' user already exist", "'bob@example.org' user already exist"));
    expect((await call('POST', '/users/bob@example.org/verify', { body: { password: 'secret' } })).status).toBe(204);
    expect((await call('PUT', '/users/bob@example.org?force', { body: { password: 'other' } })).status).toBe(204);
    expect((await call('POST', '/users/bob@example.org/verify', { body: { password: 'secret' } })).status).toBe(401);
    expect((await call('POST', '/users/bob@example.org/verify', { body: { password: 'other' } })).status).toBe(204);
    expect((await call('PUT', '/users/new@example.org?force', { body: { password: 'p' } })).status).toBe(204);
    expect(emulator.state.users).toEqual(['bob@example.org', 'new@example.org']);
    expect((await call('GET', '/users')).body).toEqual([{ username: 'bob@example.org' }, { username: 'new@example.org' }]);
  });

  it('lower-cases usernames, as James does', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    expect((await call('PUT', '/users/Bob@Example.ORG', { body: { password: 'x' } })).status).toBe(409);
    expect((await call('HEAD', '/users/BOB@example.org')).status).toBe(200);
  });

  it('refuses a user in an unknown domain or without a domain part', async () => {
    const { call } = await james();
    const unknown = await call('PUT', '/users/bob@unknown.org', { body: { password: 'x' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toEqual(jamesError(400, 'InvalidArgument', 'Username supplied is invalid', 'Domain does not exist in DomainList'));
    const bare = await call('PUT', '/users/bob', { body: { password: 'x' } });
    expect(bare.status).toBe(400);
    expect(bare.body).toEqual(jamesError(400, 'InvalidArgument', 'Username supplied is invalid', 'Given Username needs to contain a @domainpart'));
  });

  it('loses a body sent as a form, like curl without a JSON content type', async () => {
    const { call, emulator } = await james();
    await call('PUT', '/domains/example.org');
    const form = await call('PUT', '/users/bob@example.org', {
      body: { password: 'x' },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(400);
    expect(form.body).toMatchObject({ statusCode: 400, type: 'InvalidArgument', message: 'JSON payload of the request is not valid' });
    expect(emulator.state.users).toEqual([]);
    const unknownField = await call('PUT', '/users/bob@example.org', { body: { password: 'x', admin: true } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body).toMatchObject({ message: 'JSON payload of the request is not valid' });
    const plain = await call('PUT', '/users/bob@example.org', { body: { password: 'x' }, headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(204);
  });

  it('tells existing users with HEAD and deletes with 204 even when absent, keeping their mailboxes', async () => {
    const { call, emulator } = await james();
    await withUsers(call, 'bob@example.org');
    await call('PUT', '/users/bob@example.org/mailboxes/INBOX');
    expect((await call('HEAD', '/users/bob@example.org')).status).toBe(200);
    expect((await call('HEAD', '/users/ghost@example.org')).status).toBe(404);
    expect((await call('DELETE', '/users/bob@example.org')).status).toBe(204);
    expect((await call('DELETE', '/users/bob@example.org')).status).toBe(204);
    expect(emulator.state.users).toEqual([]);
    expect(emulator.state.mailboxes['bob@example.org']).toHaveLength(1);
  });

  it('has no deleteData action in 3.8.1', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    const answer = await call('POST', '/users/bob@example.org?action=deleteData');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(jamesError(404, 'notFound', 'POST /users/bob@example.org can not be found'));
  });

  it('answers a malformed URL with an HTML 400 and an unknown route or method with a JSON 404', async () => {
    const { call } = await james();
    const malformed = await call('GET', '/domains/%zz');
    expect(malformed.status).toBe(400);
    expect(malformed.contentType).toMatch(/^text\/html/);
    expect(malformed.text).toMatch(/^<h1>Bad Message 400<\/h1>/);
    expect((await call('GET', '/nothing/here')).body).toEqual(jamesError(404, 'notFound', 'GET /nothing/here can not be found'));
    // Spark has no 405: another method on a known path is "not found" too.
    expect((await call('POST', '/domains/example.org')).body).toEqual(jamesError(404, 'notFound', 'POST /domains/example.org can not be found'));
  });
});

describe('James emulator: user mailboxes', () => {
  it('creates nested mailboxes with their parents, lists and finds them', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    expect((await call('PUT', '/users/bob@example.org/mailboxes/INBOX.work')).status).toBe(204);
    expect((await call('GET', '/users/bob@example.org/mailboxes')).body).toEqual([
      { mailboxName: 'INBOX', mailboxId: '1' },
      { mailboxName: 'INBOX.work', mailboxId: '2' },
    ]);
    expect((await call('GET', '/users/bob@example.org/mailboxes/INBOX')).status).toBe(204);
    expect((await call('GET', '/users/bob@example.org/mailboxes/Sent')).body).toEqual(jamesError(404, 'notFound', 'Mailbox does not exist'));
    expect((await call('DELETE', '/users/bob@example.org/mailboxes/INBOX')).status).toBe(204);
    expect((await call('GET', '/users/bob@example.org/mailboxes')).body).toEqual([]);
  });

  it('refuses unknown users and invalid names', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    const ghost = await call('PUT', '/users/ghost@example.org/mailboxes/INBOX');
    expect(ghost.body).toEqual(jamesError(404, 'notFound', 'Invalid get on user mailboxes', 'User does not exist'));
    const invalid = await call('PUT', '/users/bob@example.org/mailboxes/bad%25name');
    expect(invalid.body).toEqual(jamesError(400, 'InvalidArgument', 'Attempt to create an invalid mailbox',
      '#private:bob@example.org:bad%name contains one of the forbidden characters %* or starts with #'));
  });
});

describe('James emulator: rename task', () => {
  it('answers 201 with the task id and its Location, and needs both users to exist', async () => {
    const { call } = await james();
    await withUsers(call, 'old@example.org', 'new@example.org');
    const started = await call('POST', '/users/old@example.org/rename/new@example.org?action=rename');
    expect(started.status).toBe(201);
    const { taskId } = started.body as { taskId: string };
    expect(started.location).toBe(`/tasks/${taskId}`);
    const missing = await call('POST', '/users/old@example.org/rename/ghost@example.org?action=rename');
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid arguments supplied in the user request',
      "'newUser' parameter should be an existing user"));
    const noAction = await call('POST', '/users/old@example.org/rename/new@example.org');
    expect(noAction.body).toMatchObject({ details: "'action' query parameter is compulsory. Supported values are [rename]" });
  });

  it("moves the old user's mailboxes, forwards and quota to the new one and forwards old to new", async () => {
    const { call, emulator } = await james({ taskDurationMs: 30 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    await call('PUT', '/users/old@example.org/mailboxes/INBOX.work');
    emulator.deliverMessage('old@example.org', 'INBOX', 1_000);
    await call('PUT', '/address/forwards/old@example.org/targets/ext@else.net');
    await call('PUT', '/quota/users/old@example.org', { body: { count: 100, size: 5_000 } });

    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    const report = (await call('GET', `/tasks/${taskId}`)).body as { status: string };
    expect(['waiting', 'inProgress']).toContain(report.status);
    const done = await call('GET', `/tasks/${taskId}/await?timeout=30s`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      taskId,
      type: 'UsernameChangeTask',
      status: 'completed',
      cancelledFrom: null,
      additionalInformation: {
        type: 'UsernameChangeTask',
        oldUser: 'old@example.org',
        newUser: 'new@example.org',
        status: {
          ForwardUsernameChangeTaskStep: 'DONE', DelegationUsernameChangeTaskStep: 'DONE', MailboxUsernameChangeTaskStep: 'DONE',
          ACLUsernameChangeTaskStep: 'DONE', QuotaUsernameChangeTaskStep: 'DONE', FilterUsernameChangeTaskStep: 'DONE',
        },
      },
    });
    expect(Object.keys(done.body as object)).toEqual(expect.arrayContaining(['submitDate', 'startedDate', 'completedDate']));
    expect(Object.keys(done.body as object)).not.toContain('failedDate');

    expect((await call('GET', '/users/new@example.org/mailboxes')).body).toEqual([
      { mailboxName: 'INBOX', mailboxId: '1' },
      { mailboxName: 'INBOX.work', mailboxId: '2' },
    ]);
    expect((await call('GET', '/users/old@example.org/mailboxes')).body).toEqual([]);
    expect((await call('GET', '/users/new@example.org/mailboxes/INBOX/messageCount')).body).toBe(1);
    expect((await call('GET', '/mappings')).body).toEqual({
      'new@example.org': [{ type: 'Forward', mapping: 'ext@else.net' }],
      'old@example.org': [{ type: 'Forward', mapping: 'new@example.org' }],
    });
    expect((await call('GET', '/quota/users/new@example.org')).body).toMatchObject({ user: { count: 100, size: 5_000 } });
    expect((await call('HEAD', '/users/old@example.org')).status).toBe(200);
  });

  it('fails a third rename between the same users at the forward step, as 3.8.1 does', async () => {
    const { call } = await james({ taskDurationMs: 6 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    for (const expected of ['completed', 'completed', 'failed']) {
      const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
      const report = (await call('GET', `/tasks/${taskId}/await`)).body as { status: string; additionalInformation: { status: object } };
      expect(report.status).toBe(expected);
      if (expected === 'failed') {
        expect(report.additionalInformation.status).toMatchObject({ ForwardUsernameChangeTaskStep: 'FAILED', MailboxUsernameChangeTaskStep: 'ABORTED' });
      }
    }
  });

  it('answers 408 when the task outlives the await timeout, without waiting for the task', async () => {
    const { call } = await james({ taskDurationMs: 60_000 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    const started = performance.now();
    const timedOut = await call('GET', `/tasks/${taskId}/await?timeout=200ms`);
    expect(timedOut.status).toBe(408);
    expect(timedOut.body).toEqual(jamesError(408, 'ServerError', 'The timeout has been reached'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((await call('GET', `/tasks/${taskId}/await?timeout=soon`)).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid timeout',
      'Supplied value do not follow the unit format (number optionally suffixed with a string representing the unit'));
  });

  it('cancels a running task: canceledRequested, then canceled, and the data stays put', async () => {
    const { call, emulator } = await james({ taskDurationMs: 60_000 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    await call('PUT', '/users/old@example.org/mailboxes/INBOX');
    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    await expect.poll(async () => ((await call('GET', `/tasks/${taskId}`)).body as { status: string }).status).toBe('inProgress');
    expect((await call('DELETE', `/tasks/${taskId}`)).status).toBe(204);
    const report = await call('GET', `/tasks/${taskId}/await?timeout=10s`);
    expect(report.body).toMatchObject({ status: 'canceled', cancelledFrom: expect.any(String) });
    expect(Object.keys(report.body as object)).toContain('canceledDate');
    expect(emulator.state.tasks[0]?.statusHistory).toEqual(['waiting', 'inProgress', 'canceledRequested', 'canceled']);
    expect(emulator.state.mailboxes).toEqual({ 'old@example.org': [{ name: 'INBOX', id: '1', messageCount: 0, size: 0 }] });
  });

  it('keeps a cancelled waiting task in canceledRequested until the worker reaches it', async () => {
    const { call } = await james({ taskDurationMs: 1_000 });
    await withUsers(call, 'a@example.org', 'b@example.org', 'c@example.org', 'd@example.org');
    const first = await renameTask(call, 'a@example.org', 'b@example.org');
    const second = await renameTask(call, 'c@example.org', 'd@example.org');
    expect((await call('DELETE', `/tasks/${second}`)).status).toBe(204);
    expect((await call('GET', `/tasks/${second}`)).body).toMatchObject({ status: 'canceledRequested', executedOn: null });
    expect((await call('GET', `/tasks/${first}/await?timeout=10s`)).body).toMatchObject({ status: 'completed' });
    expect((await call('GET', `/tasks/${second}/await?timeout=10s`)).body).toMatchObject({ status: 'canceled', executedOn: null });
  });

  it('lists tasks by status and refuses bad or unknown task ids', async () => {
    const { call } = await james({ taskDurationMs: 6 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    await call('GET', `/tasks/${taskId}/await`);
    expect((await call('GET', '/tasks?status=completed')).body).toMatchObject([{ taskId, status: 'completed' }]);
    expect((await call('GET', '/tasks?status=failed')).body).toEqual([]);
    expect((await call('GET', '/tasks?status=done')).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid status query parameter', "Unknown status value 'done'"));
    expect((await call('GET', '/tasks/not-a-uuid')).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid task id', 'Invalid UUID string: not-a-uuid'));
    const unknown = '4f9c6a0e-0000-4000-8000-000000000000';
    expect((await call('GET', `/tasks/${unknown}`)).body).toEqual(jamesError(404, 'notFound', `${unknown} can not be found`));
    expect((await call('GET', `/tasks/${unknown}/await`)).body).toEqual(jamesError(404, 'ServerError', 'The taskId is not found'));
    expect((await call('DELETE', `/tasks/${unknown}`)).status).toBe(204);
  });
});

describe('James emulator: quotas', () => {
  it('needs an existing user for user quotas', async () => {
    const { call } = await james();
    await call('PUT', '/domains/example.org');
    expect((await call('GET', '/quota/users/ghost@example.org')).body).toEqual(jamesError(404, 'notFound', 'User not found'));
    expect((await call('PUT', '/quota/users/ghost@example.org/size', { body: '10' })).status).toBe(404);
  });

  it('resolves each field from the user, then the domain, then the global limit', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    expect((await call('GET', '/quota/users/bob@example.org')).body).toEqual({
      global: null, domain: null, user: null, computed: { count: null, size: null },
      occupation: { size: 0, count: 0, ratio: { size: 0, count: 0, max: 0 } },
    });
    expect((await call('PUT', '/quota', { body: { count: 1_000, size: 1_000_000 } })).status).toBe(204);
    expect((await call('PUT', '/quota/domains/example.org/count', { body: '100' })).status).toBe(204);
    expect((await call('PUT', '/quota/users/bob@example.org/count', { body: '10' })).status).toBe(204);
    expect((await call('GET', '/quota/users/bob@example.org')).body).toMatchObject({
      global: { count: 1_000, size: 1_000_000 },
      domain: { count: 100, size: null },
      user: { count: 10, size: null },
      computed: { count: 10, size: 1_000_000 },
    });
    expect((await call('GET', '/quota/domains/example.org')).body).toEqual({
      global: { count: 1_000, size: 1_000_000 }, domain: { count: 100, size: null }, computed: { count: 100, size: 1_000_000 },
    });
    expect((await call('GET', '/quota')).body).toEqual({ count: 1_000, size: 1_000_000 });
    // A user's /size is the resolved limit (here the global one); the domain's /size is its own, unset: 204.
    expect((await call('GET', '/quota/users/bob@example.org/size')).body).toBe(1_000_000);
    expect((await call('GET', '/quota/domains/example.org/size')).status).toBe(204);
  });

  it('takes -1 as unlimited, null or an absent field as unset, and refuses other negatives', async () => {
    const { call, emulator } = await james();
    await withUsers(call, 'bob@example.org');
    expect((await call('PUT', '/quota/users/bob@example.org', { body: { count: -1, size: 5_000 } })).status).toBe(204);
    expect(emulator.state.quotas.users['bob@example.org']).toEqual({ count: -1, size: 5_000 });
    expect((await call('PUT', '/quota/users/bob@example.org', { body: { size: 7 } })).status).toBe(204);
    expect(emulator.state.quotas.users['bob@example.org']).toEqual({ count: null, size: 7 });
    const negative = await call('PUT', '/quota/users/bob@example.org', { body: { count: -2 } });
    expect(negative.status).toBe(400);
    expect(negative.body).toMatchObject({ message: 'Invalid quota. Need to be an integer value greater or equal to -1' });
    expect((await call('PUT', '/quota/count', { body: '1.5' })).status).toBe(400);
    expect((await call('PUT', '/quota/count', { body: '-2' })).status).toBe(400);
    expect((await call('GET', '/quota/count')).status).toBe(204);
    // Jackson coerces JSON numbers and numeric strings, as the real 3.8.1 does.
    expect((await call('PUT', '/quota', { body: { count: 1.5, size: '12' } })).status).toBe(204);
    expect((await call('GET', '/quota')).body).toEqual({ count: 1, size: 12 });
    expect((await call('DELETE', '/quota/count')).status).toBe(204);
    expect((await call('GET', '/quota/count')).status).toBe(204);
  });

  it('lists the users of a domain alphabetically with their details, filtered by occupation', async () => {
    const { call, emulator } = await james();
    await withUsers(call, 'carl@example.org', 'amy@example.org', 'bob@example.org', 'dan@other.org');
    await call('PUT', '/quota/size', { body: '1000' });
    emulator.deliverMessage('bob@example.org', 'INBOX', 900);
    const all = (await call('GET', '/quota/users?domain=example.org')).body as { username: string }[];
    expect(all.map((entry) => entry.username)).toEqual(['amy@example.org', 'bob@example.org', 'carl@example.org']);
    expect((await call('GET', '/quota/users?domain=example.org&offset=1&limit=1')).body).toMatchObject([{ username: 'bob@example.org' }]);
    expect((await call('GET', '/quota/users?minOccupationRatio=0.8')).body).toEqual([{
      username: 'bob@example.org',
      detail: {
        global: { count: null, size: 1_000 }, domain: null, user: null, computed: { count: null, size: 1_000 },
        occupation: { size: 900, count: 1, ratio: { size: 0.9, count: 0, max: 0.9 } },
      },
    }]);
    expect((await call('GET', '/quota/users?limit=0')).body).toEqual(jamesError(400, 'InvalidArgument', 'limit can not be equal to zero'));
  });

  it('needs an existing domain for domain quotas', async () => {
    const { call } = await james();
    expect((await call('GET', '/quota/domains/nope.org')).body).toEqual(jamesError(404, 'notFound', 'Domain not found'));
  });
});

describe('James emulator: address mappings', () => {
  it('lists every alias, group, forward and domain alias in one /mappings call', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    await call('PUT', '/domains/alias.org');
    await call('PUT', '/address/aliases/bob@example.org/sources/robert@example.org');
    await call('PUT', '/address/groups/team@example.org/bob@example.org');
    await call('PUT', '/address/groups/team@example.org/ext@else.net');
    await call('PUT', '/address/forwards/bob@example.org/targets/bob@example.org');
    await call('PUT', '/address/forwards/bob@example.org/targets/ext@else.net');
    await call('PUT', '/domains/example.org/aliases/alias.org');
    expect((await call('GET', '/mappings')).body).toEqual({
      'robert@example.org': [{ type: 'Alias', mapping: 'bob@example.org' }],
      'team@example.org': [{ type: 'Group', mapping: 'bob@example.org' }, { type: 'Group', mapping: 'ext@else.net' }],
      'bob@example.org': [{ type: 'Forward', mapping: 'bob@example.org' }, { type: 'Forward', mapping: 'ext@else.net' }],
      'alias.org': [{ type: 'DomainAlias', mapping: 'example.org' }],
    });
    expect((await call('GET', '/mappings/user/bob@example.org')).body).toEqual([
      { type: 'Forward', mapping: 'bob@example.org' }, { type: 'Forward', mapping: 'ext@else.net' },
    ]);
    expect((await call('GET', '/address/aliases')).body).toEqual(['bob@example.org']);
    expect((await call('GET', '/address/aliases/bob@example.org')).body).toEqual([{ source: 'robert@example.org' }]);
    expect((await call('GET', '/address/forwards')).body).toEqual(['bob@example.org']);
    expect((await call('GET', '/address/forwards/bob@example.org')).body).toEqual([
      { mailAddress: 'bob@example.org' }, { mailAddress: 'ext@else.net' },
    ]);
    expect((await call('GET', '/address/groups')).body).toEqual(['team@example.org']);
  });

  it('refuses aliases that loop, leave the managed domains or point at themselves', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org', 'amy@example.org');
    expect((await call('PUT', '/address/aliases/bob@example.org/sources/b@example.org')).status).toBe(204);
    const loop = await call('PUT', '/address/aliases/b@example.org/sources/bob@example.org');
    expect(loop.status).toBe(409);
    expect(loop.body).toEqual(jamesError(409, 'WrongState',
      'Creation of redirection of bob@example.org to alias:b@example.org would lead to a loop, operation not performed'));
    const foreign = await call('PUT', '/address/aliases/bob@example.org/sources/x@unknown.org');
    expect(foreign.body).toEqual(jamesError(400, 'InvalidArgument', "Source domain 'unknown.org' is not managed by the domainList"));
    const same = await call('PUT', '/address/aliases/bob@example.org/sources/bob@example.org');
    expect(same.body).toEqual(jamesError(400, 'InvalidArgument', "Source and destination can't be the same!"));
    // The rewrite table only checks mappings: an existing user may become an alias source (204 on 3.8.1) …
    expect((await call('PUT', '/address/aliases/bob@example.org/sources/amy@example.org')).status).toBe(204);
    // … but an address that is already a group cannot.
    await call('PUT', '/address/groups/team@example.org/amy@example.org');
    const group = await call('PUT', '/address/aliases/bob@example.org/sources/team@example.org');
    expect(group.body).toEqual(jamesError(409, 'WrongState', "'team@example.org' already have associated mappings: group:amy@example.org"));
  });

  it('refuses a + in an alias source, which James URL-decodes a second time into a space', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    const answer = await call('PUT', '/address/aliases/bob@example.org/sources/tag%2Bbob@example.org');
    expect(answer.body).toEqual(jamesError(400, 'InvalidArgument', 'The alias is not an email address',
      "Invalid character in local-part (user account) at position 4 in 'tag bob@example.org'"));
  });

  it('needs an existing user as the base of a forward', async () => {
    const { call } = await james();
    await call('PUT', '/domains/example.org');
    const answer = await call('PUT', '/address/forwards/ghost@example.org/targets/ext@else.net');
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(jamesError(404, 'InvalidArgument', 'Requested base forward address does not correspond to a user'));
    expect((await call('GET', '/address/forwards/ghost@example.org')).body).toEqual(jamesError(404, 'InvalidArgument', 'The forward does not exist'));
  });

  it('creates a group with its first member and removes it with its last', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    expect((await call('GET', '/address/groups/team@example.org')).body).toEqual(jamesError(404, 'InvalidArgument', 'The group does not exist'));
    expect((await call('PUT', '/address/groups/team@example.org/bob@example.org')).status).toBe(204);
    expect((await call('PUT', '/address/groups/team@example.org/ext@else.net')).status).toBe(204);
    expect((await call('GET', '/address/groups/team@example.org')).body).toEqual(['bob@example.org', 'ext@else.net']);
    await call('DELETE', '/address/groups/team@example.org/bob@example.org');
    await call('DELETE', '/address/groups/team@example.org/ext@else.net');
    expect((await call('GET', '/address/groups/team@example.org')).status).toBe(404);
    expect((await call('GET', '/address/groups')).body).toEqual([]);
    const foreign = await call('PUT', '/address/groups/team@unknown.org/bob@example.org');
    expect(foreign.body).toEqual(jamesError(400, 'InvalidArgument', "Source domain 'unknown.org' is not managed by the domainList"));
  });

  it('refuses a group address that already holds other mappings, and a user named like a group', async () => {
    const { call } = await james();
    await withUsers(call, 'bob@example.org');
    await call('PUT', '/address/forwards/bob@example.org/targets/ext@else.net');
    const shadow = await call('PUT', '/address/groups/bob@example.org/ext@else.net');
    expect(shadow.body).toEqual(jamesError(409, 'WrongState', "'bob@example.org' already have associated mappings: forward:ext@else.net"));
    await call('PUT', '/address/groups/team@example.org/bob@example.org');
    const user = await call('PUT', '/users/team@example.org', { body: { password: 'x' } });
    expect(user.status).toBe(409);
    expect(user.body).toMatchObject({ message: "'team@example.org' already have associated mappings: group:bob@example.org" });
  });
});

describe('James emulator: cost of a request', () => {
  // Counted with the emulator's meter (entries of its store iterated over), never timed: the benchmarks time.
  it('answers about one user at the same cost whatever the number of other users and mappings', async () => {
    const { call, emulator } = await james();
    await call('PUT', '/domains/probe.test');
    await call('PUT', '/domains/bulk.test');
    const ok = async (method: string, path: string, status = 204, body?: unknown): Promise<unknown> => {
      const answer = await call(method, path, body === undefined ? {} : { body });
      expect(answer.status, `${method} ${path}`).toBe(status);
      return answer.body;
    };
    /** Users in bulk.test, each with an alias and in one big group. */
    const addBulkUsers = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 1) {
        await ok('PUT', `/users/user${i}@bulk.test`, 204, { password: 'secret' });
        await ok('PUT', `/address/aliases/user${i}@bulk.test/sources/alias${i}@bulk.test`);
        await ok('PUT', `/address/groups/all@bulk.test/user${i}@bulk.test`);
      }
    };
    /** What applying and observing one user costs: every per-user call, then back to the state before. */
    const probe = async (i: number): Promise<number> => {
      const before = emulator.entriesVisited;
      const [user, other] = [`p${i}@probe.test`, `q${i}@probe.test`];
      await ok('PUT', `/users/${user}`, 204, { password: 'secret' });
      await ok('PUT', `/users/${other}`, 204, { password: 'secret' });
      await ok('HEAD', `/users/${user}`, 200);
      await ok('PUT', `/users/${user}/mailboxes/INBOX.work`);
      await ok('GET', `/users/${user}/mailboxes`, 200);
      await ok('PUT', `/quota/users/${user}`, 204, { count: 10, size: 1000 });
      await ok('GET', `/quota/users/${user}`, 200);
      expect(await ok('GET', '/quota/users?domain=probe.test', 200)).toHaveLength(2);
      await ok('PUT', `/address/aliases/${user}/sources/a${i}@probe.test`);
      expect(await ok('GET', `/address/aliases/${user}`, 200)).toEqual([{ source: `a${i}@probe.test` }]);
      await ok('PUT', `/address/groups/team${i}@probe.test/${user}`);
      await ok('PUT', `/address/groups/all@bulk.test/${user}`);
      expect(await ok('GET', `/address/groups/team${i}@probe.test`, 200)).toEqual([user]);
      await ok('PUT', `/address/forwards/${user}/targets/ext@else.net`);
      expect(await ok('GET', `/mappings/user/${user}`, 200)).toEqual([{ type: 'Forward', mapping: 'ext@else.net' }]);
      await ok('PUT', `/domains/alias${i}.test`);
      await ok('PUT', `/domains/probe.test/aliases/alias${i}.test`);
      expect(await ok('GET', '/domains/probe.test/aliases', 200)).toEqual([{ source: `alias${i}.test` }]);
      await ok('DELETE', `/domains/alias${i}.test`);
      const renamed = await call('POST', `/users/${user}/rename/${other}?action=rename`);
      expect(renamed.status).toBe(201);
      expect(await ok('GET', `/tasks/${(renamed.body as { taskId: string }).taskId}/await`, 200)).toMatchObject({ status: 'completed' });
      expect(await ok('GET', `/address/forwards/${other}`, 200)).toEqual([{ mailAddress: 'ext@else.net' }]);
      await ok('DELETE', `/address/forwards/${user}/targets/${other}`);
      await ok('DELETE', `/address/forwards/${other}/targets/ext@else.net`);
      await ok('DELETE', `/address/groups/all@bulk.test/${user}`);
      await ok('DELETE', `/address/groups/team${i}@probe.test/${user}`);
      await ok('DELETE', `/address/aliases/${user}/sources/a${i}@probe.test`);
      await ok('DELETE', `/users/${user}`);
      await ok('DELETE', `/users/${other}`);
      return emulator.entriesVisited - before;
    };

    await addBulkUsers(0, 3);
    const small = await probe(0);
    await addBulkUsers(3, 300);
    const large = await probe(1);
    expect(small).toBeGreaterThan(0);
    expect(large).toBe(small);
    // The meter does see the store: listing every mapping visits every source.
    const before = emulator.entriesVisited;
    expect(Object.keys((await call('GET', '/mappings')).body as object)).toHaveLength(301);
    expect(emulator.entriesVisited - before).toBeGreaterThanOrEqual(301);
  });
});

describe('James emulator: authentication', () => {
  async function jwtSetup() {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setSubject('admin@mailops.test').setIssuedAt().sign(privateKey);
    const { emulator } = await james({ jwtPublicKey: await exportSPKI(publicKey) });
    return { emulator, sign };
  }

  it('checks a JWT as James 3.8 does, with plain-text 401 bodies', async () => {
    const { emulator, sign } = await jwtSetup();
    const anonymous = caller(emulator);
    const missing = await anonymous('GET', '/domains');
    expect(missing.status).toBe(401);
    expect(missing.text).toBe('No Bearer header.');
    const garbage = await anonymous('GET', '/domains', { headers: { authorization: 'Bearer not-a-jwt' } });
    expect([garbage.status, garbage.text]).toEqual([401, 'Invalid Bearer header.']);
    const notAdmin = await anonymous('GET', '/domains', { headers: { authorization: `Bearer ${await sign({ admin: false })}` } });
    expect([notAdmin.status, notAdmin.text]).toEqual([401, 'Non authorized user.']);
    const admin = caller(emulator, { authorization: `Bearer ${await sign({ admin: true })}` });
    expect((await admin('GET', '/domains')).body).toEqual(['localhost']);
  });

  it('rejects a token signed with another key', async () => {
    const { emulator } = await jwtSetup();
    const other = await generateKeyPair('RS256');
    const forged = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'RS256' }).setSubject('x').sign(other.privateKey);
    const answer = await caller(emulator)('PUT', '/domains/evil.org', { headers: { authorization: `Bearer ${forged}` } });
    expect([answer.status, answer.text]).toEqual([401, 'Invalid Bearer header.']);
    expect(emulator.state.domains).toEqual(['localhost']);
  });

  it('never asks credentials for health checks, nor for paths outside the private routes', async () => {
    const { emulator } = await jwtSetup();
    const anonymous = caller(emulator);
    expect((await anonymous('GET', '/healthcheck')).body).toMatchObject({ status: 'healthy' });
    expect((await anonymous('GET', '/nothing')).status).toBe(404);
    expect((await anonymous('POST', '/users/bob@example.org?action=deleteData')).status).toBe(401);
  });

  it('checks a static password as James 3.9 does, in a Password header or as a bearer', async () => {
    const { emulator } = await james({ password: 'first,second' });
    const anonymous = caller(emulator);
    expect((await anonymous('GET', '/domains')).text).toBe('No Password in header.');
    expect((await anonymous('GET', '/domains', { headers: { password: 'wrong' } })).text).toBe('Wrong password.');
    expect((await anonymous('GET', '/domains', { headers: { password: 'second' } })).status).toBe(200);
    expect((await anonymous('GET', '/domains', { headers: { authorization: 'Bearer first' } })).status).toBe(200);
  });
});

describe('James emulator: framework behaviour', () => {
  it('answers injected faults with James 500s and leaves the state untouched', async () => {
    const { emulator, call } = await james({ failureRate: 1, failureMode: 'status' });
    const answer = await call('PUT', '/domains/example.org');
    expect(answer.status).toBe(500);
    expect(answer.body).toEqual(jamesError(500, 'ServerError', 'WebAdmin encountered an unexpected internal error', 'fault injected by the emulator'));
    expect(emulator.state.domains).toEqual(['localhost']);
  });

  it('drops connections for reset faults without executing the request', async () => {
    const { emulator } = await james({ failureRate: 1, failureMode: 'reset' });
    await expect(request(`${emulator.url}/domains/example.org`, { method: 'PUT' })).rejects.toThrow();
    expect(emulator.state.domains).toEqual(['localhost']);
    expect(emulator.stats.faultsInjected).toBe(1);
  });

  it('logs every request so tests can count calls', async () => {
    const { emulator, call } = await james();
    await call('PUT', '/domains/example.org');
    await call('GET', '/domains?x=1');
    await call('GET', '/domains/nope.org');
    expect(emulator.requestLog.map(({ method, path, query, status }) => [method, path, query, status])).toEqual([
      ['PUT', '/domains/example.org', '', 204],
      ['GET', '/domains', 'x=1', 200],
      ['GET', '/domains/nope.org', '', 404],
    ]);
  });

  it('adds latency to James answers', async () => {
    const { call } = await james({ latencyMs: 100 });
    const started = performance.now();
    await call('GET', '/healthcheck');
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });
});
