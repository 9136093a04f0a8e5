// The iRedAdmin-Pro client against the emulator: the login session, its renewal, failures at HTTP 200 read from
// the body, the allow-list refusal, and the envelope of older releases.
import { describe, expect, it } from 'vitest';
import { IRedAdminError } from '../../../src/backends/iredadmin/client.ts';
import { capturedLog } from '../../support/fake-backend.ts';
import { IRedAdminClient } from '../../../src/backends/iredadmin/client.ts';
import { ADMIN, clientFor, connection, loggedIn, useEmulators } from './support.ts';

const emulators = useEmulators();

const logins = (emulator: { requestLog: readonly { method: string; path: string }[] }) =>
  emulator.requestLog.filter((entry) => entry.method === 'POST' && entry.path === '/api/login').length;

describe('the login session', () => {
  it('logs in with the admin address and password on the first call, then reuses the cookie', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    await client.createDomain('example.com', { name: 'Example' });
    expect(await client.listDomains()).toMatchObject({ 'example.com': { domain: 'example.com', description: 'Example' } });
    expect(await client.listUsers('example.com')).toEqual([]);
    expect(emulator.logins).toBe(1);
    expect(client.http.requestCount).toBe(4); // the login counts
    await client.close();
  });

  it('logs in again once when the session expired (LOGIN_REQUIRED), and repeats the call', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    await client.listDomains();
    emulator.expireSessions();
    await client.createDomain('example.com', {});
    expect(Object.keys(await client.listDomains())).toEqual(['example.com']);
    expect(emulator.logins).toBe(2);
    // The refused call and its repetition: the domain was created once.
    expect(emulator.requestLog.filter((e) => e.method === 'POST' && e.path === '/api/domain/example.com')).toHaveLength(2);
    await client.close();
  });

  it('lets a session expire by the server’s clock (--session-ttl) and renews it', async () => {
    const clock = { now: 0 };
    const emulator = await emulators.iredadmin({ sessionTtlMs: 60_000, now: () => clock.now });
    const client = clientFor(emulator.url);
    await client.listDomains();
    clock.now = 59_000;
    await client.listDomains();
    expect(emulator.logins).toBe(1); // used within the time: still alive, and extended
    clock.now = 59_000 + 60_000;
    await client.listDomains();
    expect(emulator.logins).toBe(2);
    await client.close();
  });

  it('a session that expires again right after a new login is an error, not a loop', async () => {
    const emulator = await emulators.iredadmin({ sessionTtlMs: 0 });
    const client = clientFor(emulator.url);
    const failure = await client.listDomains().catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'Unauthorized', message: 'GET /api/domains: the session expired again right after a new login (LOGIN_REQUIRED)' });
    expect(logins(emulator)).toBe(2);
    await client.close();
  });

  it('a wrong password is a refused login, with the server’s reason', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url, 'not-the-password');
    await expect(client.listDomains()).rejects.toMatchObject({ kind: 'Unauthorized', message: 'login refused: POST /api/login: the admin address or password was refused (INVALID_CREDENTIALS)' });
    await client.close();
  });

  it('never writes the admin password or the session cookie to the logs', async () => {
    const emulator = await emulators.iredadmin();
    const { log, text } = capturedLog();
    const client = new IRedAdminClient(connection(emulator.url, { log }), { username: ADMIN.user, password: ADMIN.password });
    await client.listDomains();
    await client.createUser('nobody@nowhere.example', { password: 'User-S3cret!' }).catch(() => undefined);
    expect(text()).toContain('"path":"/api/login"');
    expect(text()).not.toContain(ADMIN.password);
    expect(text()).not.toContain('User-S3cret!');
    expect(text()).not.toMatch(/iRedAdmin-Pro=[0-9a-f]{32}/);
    await client.close();
  });
});

describe('failures are read from the body, whatever the status', () => {
  it('`_success: false` at HTTP 200 is an error of the kind its reason stands for, and keeps the reason', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    await client.createDomain('example.com', {});
    const failure = await client.createDomain('example.com', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IRedAdminError);
    expect(failure).toMatchObject({ kind: 'Conflict', reason: 'ALREADY_EXISTS', status: 200, message: 'POST /api/domain/example.com: ALREADY_EXISTS' });
    expect(emulator.requestLog.at(-1)).toMatchObject({ path: '/api/domain/example.com', status: 200 });
    await client.close();
  });

  it('an unknown reason is Invalid, with the reason as the server wrote it — and never the password that caused it', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    await client.createDomain('example.com', {});
    const failure = await client.createUser('amy@example.com', { password: 'short' }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'Invalid', reason: 'PW_SHORTER_THAN_MIN_LENGTH', message: 'POST /api/user/amy@example.com: PW_SHORTER_THAN_MIN_LENGTH' });
    expect(String((failure as Error).message)).not.toContain('short');
    await client.close();
  });

  it('NOT_AUTHORIZED says that this client’s address is not on the allow-list — at the login and after it', async () => {
    const emulator = await emulators.iredadmin({ apiClients: ['192.0.2.10', '198.51.100.0/24'] });
    const client = clientFor(emulator.url);
    const atLogin = await client.listDomains().catch((error: unknown) => error);
    expect(atLogin).toMatchObject({
      kind: 'Forbidden',
      reason: 'NOT_AUTHORIZED',
      message: "POST /api/login: this client's IP address is not on the server's API allow-list (RESTFUL_API_CLIENTS) (NOT_AUTHORIZED)",
    });
    emulator.setApiClients(['127.0.0.0/8']);
    await client.listDomains();
    emulator.setApiClients(['192.0.2.10']);
    await expect(client.listDomains()).rejects.toMatchObject({ kind: 'Forbidden', message: expect.stringContaining("GET /api/domains: this client's IP address is not on the server's API allow-list") });
    await client.close();
  });

  it('a server that is not the API (HTML, a 404) says what to check', async () => {
    const emulator = await emulators.james();
    const client = clientFor(emulator.url);
    await expect(client.listDomains()).rejects.toMatchObject({
      kind: 'Protocol',
      message: expect.stringMatching(/^POST \/api\/login: 404 .*; is this iRedAdmin-Pro's RESTful API \(…\/iredadmin\), with ENABLE_RESTFUL_API = True\?$/),
    });
    await client.close();
  });
});

describe('older releases', () => {
  it('reads the `{success, msg}` envelope: data, failures and session expiry', async () => {
    const emulator = await emulators.iredadmin({ legacyEnvelope: true });
    const raw = await loggedIn(emulator);
    expect((await raw.call('GET', '/api/domains')).body).toEqual({ success: true, data: {} });
    const client = clientFor(emulator.url);
    await client.createDomain('example.com', { name: 'Old' });
    expect(await client.listDomains()).toMatchObject({ 'example.com': { description: 'Old' } });
    await expect(client.createDomain('example.com', {})).rejects.toMatchObject({ kind: 'Conflict', reason: 'ALREADY_EXISTS' });
    emulator.expireSessions();
    await client.listDomains();
    expect(emulator.logins).toBe(3); // raw's, the client's, and its renewal
    await client.close();
  });
});

describe('calls', () => {
  it('sends form bodies with comma-separated lists, and a password check answers yes or no', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    await client.createDomain('example.com', {});
    await client.createUser('amy@example.com', { password: 'Amy-S3cret!', name: 'Amy' });
    await client.createUser('bo@example.com', { password: 'Bo-S3cret!!' });
    await client.createAlias('team@example.com', { members: 'amy@example.com,bo@example.com' });
    expect(emulator.state.aliases['team@example.com']).toMatchObject({ members: ['amy@example.com', 'bo@example.com'] });
    expect(await client.verifyPassword('amy@example.com', 'Amy-S3cret!')).toBe(true);
    expect(await client.verifyPassword('amy@example.com', 'wrong-password')).toBe(false);
    await client.close();
  });

  it('reads a throttle setting, and none as null', async () => {
    const emulator = await emulators.iredadmin();
    const client = clientFor(emulator.url);
    expect(await client.getThrottle('global', 'outbound')).toBeNull();
    await client.setThrottle('global', 'outbound', { period: 3600, max_msgs: 100 });
    expect(await client.getThrottle('global', 'outbound')).toMatchObject({ account: '@.', period: 3600, max_msgs: 100, msg_size: 0, max_quota: 0 });
    await client.close();
  });
});
