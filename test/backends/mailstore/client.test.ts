// The MailStore client against the emulator, in both URL forms: immediate results, long-running calls waited out
// with their progress, cancellation at a deadline, a token the server forgot, refused credentials, failures the
// server reports, and a server that is gone.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isBackendError } from '../../../src/engine/adapter.ts';
import {
  MailStoreCallError,
  MailStoreClient,
  MailStoreTokenLost,
  setUserEmailAddresses,
  type ApiForm,
  type MailStoreStatus,
} from '../../../src/backends/mailstore/client.ts';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../../src/backends/mailstore/emulator.ts';

let emulator: MailStoreEmulator;
const clients: MailStoreClient[] = [];

beforeEach(async () => {
  emulator = await startMailStoreEmulator({ invokeWaitMs: 50 });
  emulator.addUser({ userName: 'alice@example.com', emailAddresses: ['alice@example.com'] });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await emulator.close();
});

function clientFor(form: ApiForm, overrides: { password?: string; url?: string } = {}): MailStoreClient {
  const client = new MailStoreClient(
    { backend: 'mailstore', baseUrl: overrides.url ?? emulator.url, concurrency: 4, requestsPerSecond: 1000, timeoutMs: 5000, retries: 1, retryMinDelayMs: 10 },
    { apiForm: form, username: 'admin', password: overrides.password ?? 'admin', legacyPollMs: 20 },
  );
  clients.push(client);
  return client;
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('the current form answers in envelopes after a byte order mark', () => {
  it('as the fact sheet shows them', async () => {
    const response = await fetch(`${emulator.url}/api/invoke/GetServerInfo`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const envelope = JSON.parse(bytes.subarray(3).toString('utf8'));
    expect(Object.keys(envelope)).toEqual(['error', 'token', 'statusVersion', 'statusCode', 'percentProgress', 'statusText', 'result', 'logOutput']);
    expect(envelope).toMatchObject({ error: null, token: null, statusCode: 'succeeded', result: { machineName: 'MAILSTORE-EMU' } });
  });

  it('the legacy form answers the bare result', async () => {
    const response = await fetch(`${emulator.url}/JSON/Invoke/GetUserInfo`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'userName=alice%40example.com',
    });
    expect(await response.json()).toMatchObject({ userName: 'alice@example.com', emailAddresses: ['alice@example.com'] });
  });
});

describe.each<ApiForm>(['current', 'legacy'])('the %s form', (form) => {
  it('returns an immediate result', async () => {
    const client = clientFor(form);
    expect(await client.getServerInfo()).toEqual({ version: expect.any(String), machineName: 'MAILSTORE-EMU' });
    expect((await client.getUsers()).map((u) => u.userName).sort()).toEqual(['admin', 'alice@example.com']);
    expect(await client.getUserInfo('ALICE@example.com')).toMatchObject({ userName: 'alice@example.com', authentication: 'integrated', privileges: ['login'] });
  });

  it('waits out a long-running call, passing on each interim status, and returns its result', async () => {
    emulator.setSlow('SetUserEmailAddresses', { durationMs: 400, steps: 4 });
    const client = clientFor(form);
    const seen: MailStoreStatus[] = [];
    const final = await client.call(setUserEmailAddresses('alice@example.com', ['alice@example.com', 'a.l@example.com']), { onStatus: (s) => seen.push(s), waitMs: 1000 });
    expect(final).toMatchObject({ statusCode: 'succeeded', error: null });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((s) => s.statusCode === 'running' && s.token === final.token)).toBe(true);
    const progress = seen.map((s) => s.percentProgress ?? 0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(Math.max(...progress)).toBeGreaterThanOrEqual(50);
    const lines = [...seen, final].map((s) => s.logOutput ?? '').join('');
    expect(lines).toContain('SetUserEmailAddresses: step 1 of 4...\r\n');
    expect(lines).toContain('SetUserEmailAddresses: step 4 of 4...\r\n');
    // Each line once: a status carries only the lines past the version the client knew.
    expect(lines.match(/step 2 of 4/g)).toHaveLength(1);
    expect(emulator.effects.SetUserEmailAddresses).toBe(1);
    expect(emulator.users.find((u) => u.userName === 'alice@example.com')?.emailAddresses).toEqual(['alice@example.com', 'a.l@example.com']);
  });

  it('hands the token to the caller when automatic token handling is off', async () => {
    emulator.setSlow('VerifyStore', { durationMs: 300, steps: 2 });
    const client = clientFor(form);
    let status = await client.call({ fn: 'VerifyStore', args: { id: 3 }, description: 'verify store 3' }, { autoHandleToken: false });
    expect(status).toMatchObject({ statusCode: 'running', token: expect.any(String) });
    while (status.statusCode === 'running') status = await client.getStatus(status.token!, status.statusVersion, 500);
    expect(status.statusCode).toBe('succeeded');
  });

  it('a token the server no longer knows is a lost token, not a failure of the call', async () => {
    emulator.setSlow('SetUserFullName', { durationMs: 2000 });
    const client = clientFor(form);
    const status = await client.start({ fn: 'SetUserFullName', args: { userName: 'alice@example.com', fullName: 'Alice' }, description: 'set the full name' });
    expect(status.statusCode).toBe('running');
    emulator.forgetStatuses();
    const error = await thrown(client.getStatus(status.token!, status.statusVersion, 100));
    expect(error).toBeInstanceOf(MailStoreTokenLost);
    expect(error).toMatchObject({ kind: 'NotFound', token: status.token });
  });

  it('refused credentials are Unauthorized, and the password is in no message', async () => {
    const error = await thrown(clientFor(form, { password: 'wrong-S3cret' }).getUsers());
    expect(error).toMatchObject({ kind: 'Unauthorized', status: 401 });
    expect(String((error as Error).message)).toContain('credentials refused');
    expect(String((error as Error).message)).not.toContain('wrong-S3cret');
  });

  it('a failure the server reports is a MailStoreCallError with its message; "already exists" is a conflict', async () => {
    const client = clientFor(form);
    emulator.setFailure('SetUserPrivileges', 'The store is read-only.');
    const failed = await thrown(client.result({ fn: 'SetUserPrivileges', args: { userName: 'alice@example.com', privileges: 'login' }, description: 'set privileges' }));
    expect(failed).toBeInstanceOf(MailStoreCallError);
    expect(failed).toMatchObject({ kind: 'Invalid', serverMessage: 'The store is read-only.' });
    const conflict = await thrown(client.createUser({ userName: 'alice@example.com', privileges: ['login'] }));
    expect(conflict).toMatchObject({ kind: 'Conflict', message: "MailStore CreateUser: User 'alice@example.com' already exists." });
    expect(await thrown(client.getUserInfo('nobody'))).toMatchObject({ kind: 'NotFound' });
  });

  it('a long-running call that fails in the end is a MailStoreCallError too', async () => {
    emulator.setSlow('SetUserPrivileges', { durationMs: 200, steps: 2 });
    emulator.setFailure('SetUserPrivileges', 'The store is read-only.');
    const error = await thrown(clientFor(form).result({ fn: 'SetUserPrivileges', args: { userName: 'alice@example.com', privileges: 'login' }, description: 'set privileges' }));
    expect(error).toMatchObject({ name: 'MailStoreCallError', serverMessage: 'The store is read-only.' });
  });

  it('a server that is gone is Unavailable', async () => {
    const url = emulator.url;
    await emulator.close();
    const error = await thrown(clientFor(form, { url }).getUsers());
    expect(isBackendError(error, 'Unavailable')).toBe(true);
    emulator = await startMailStoreEmulator();
  });
});

describe('cancellation', () => {
  it('current form: at the deadline the call is cancelled, polled until it says so, and changed nothing', async () => {
    emulator.setSlow('SetUserEmailAddresses', { durationMs: 5000, steps: 5 });
    const client = clientFor('current');
    const started = Date.now();
    const error = await thrown(client.setUserEmailAddresses('alice@example.com', ['x@example.com'], { deadline: Date.now() + 300 }));
    expect(error).toMatchObject({ kind: 'Timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(emulator.calls).toEqual([expect.objectContaining({ fn: 'SetUserEmailAddresses', statusCode: 'cancelled' })]);
    expect(emulator.requestLog.filter((r) => r.path === '/api/cancel-async')).toHaveLength(1);
    expect(emulator.effects.SetUserEmailAddresses).toBeUndefined();
  });

  it('legacy form: it cannot cancel, and says the call may still run', async () => {
    emulator.setSlow('SetUserEmailAddresses', { durationMs: 5000 });
    const error = await thrown(clientFor('legacy').setUserEmailAddresses('alice@example.com', ['x@example.com'], { deadline: Date.now() + 200 }));
    expect(error).toMatchObject({ kind: 'Timeout', message: expect.stringContaining('the legacy API cannot cancel it') });
  });
});

describe('the legacy status rule', () => {
  it('a final status is delivered once, then it is gone', async () => {
    emulator.setSlow('SetUserFullName', { durationMs: 100, steps: 1 });
    const client = clientFor('legacy');
    const status = await client.start({ fn: 'SetUserFullName', args: { userName: 'alice@example.com', fullName: 'Alice' }, description: 'set the full name' });
    let current = status;
    while (current.statusCode === 'running') current = await client.getStatus(status.token!, current.statusVersion, 1000);
    expect(current.statusCode).toBe('succeeded');
    const response = await fetch(`${emulator.url}/JSON/Status/${status.token}`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await thrown(client.getStatus(status.token!, current.statusVersion, 100))).toBeInstanceOf(MailStoreTokenLost);
  });
});
