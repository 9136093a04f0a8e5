// Authentication: fixed headers, and login sessions that are shared, renewed once, and never leak.
import { describe, expect, it } from 'vitest';
import { basicAuth, defaultClassifier, formBody, staticHeaders, type HttpRequest } from '../../../src/backends/http/index.ts';
import { capturedLog, FAKE_PASSWORD, fakeLogin, iredadminStyle, SESSION_COOKIE, useFakeBackends } from '../../support/fake-backend.ts';

const backends = useFakeBackends();

const PASSWORD = FAKE_PASSWORD;
const listUsers: HttpRequest = { method: 'GET', path: '/api/users' };

describe('a login session', () => {
  it('is opened by the first call and reused by the next ones', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    expect(await http.call(listUsers)).toEqual(['amy@example.com']);
    expect(await http.call(listUsers)).toEqual(['amy@example.com']);
    expect(fake.logins).toBe(1);
    expect(http.requestCount).toBe(3); // the login counts as a request
  });

  it('is shared by concurrent calls: one login, not one per call', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    await Promise.all(Array.from({ length: 6 }, () => http.call(listUsers)));
    expect(fake.hits('/api/login')).toBe(1);
    expect(fake.hits('/api/users')).toBe(6);
  });

  it('is renewed once when it expired, and the call is repeated', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    await http.call(listUsers);
    fake.expireSessions();
    expect(await http.call(listUsers)).toEqual(['amy@example.com']);
    expect(fake.logins).toBe(2);
    expect(fake.hits('/api/users')).toBe(3); // the first call, the one refused, its repetition
  });

  it('is renewed by one login for all the calls that saw it expire', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    await http.call(listUsers);
    fake.expireSessions();
    await Promise.all(Array.from({ length: 5 }, () => http.call(listUsers)));
    expect(fake.logins).toBe(2);
  });

  it('expiring again right after a new login is Unauthorized', async () => {
    const { fake, url } = await backends.start({ callsPerSession: 0 });
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin() });
    await expect(http.call(listUsers)).rejects.toMatchObject({
      kind: 'Unauthorized',
      message: 'GET /api/users: the session expired again right after a new login (LOGIN_REQUIRED)',
    });
    expect(fake.logins).toBe(2);
    expect(fake.hits('/api/users')).toBe(2);
  });

  it('a refused login is Unauthorized with the server’s message, and the next call tries again', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin('wrong password') });
    const failure = await http.call(listUsers).catch((error: unknown) => error);
    expect(failure).toMatchObject({ kind: 'Unauthorized', message: 'login refused: POST /api/login: INVALID_CREDENTIALS' });
    expect(fake.hits('/api/users')).toBe(0);
    await expect(http.call(listUsers)).rejects.toMatchObject({ kind: 'Unauthorized' });
    expect(fake.hits('/api/login')).toBe(2); // a refusal is not remembered: the password may have been fixed
  });

  it('never writes the password or the session cookie to the logs', async () => {
    const { url } = await backends.start();
    const { log, text: logged } = capturedLog();
    const http = backends.client(url, iredadminStyle, { auth: fakeLogin(), log });
    await http.call(listUsers);
    await http.call({ method: 'POST', path: '/api/user/amy@example.com', body: formBody({ password: PASSWORD }) }).catch(() => undefined);
    const text = logged();
    expect(text).toContain('"path":"/api/users"'); // the requests were logged
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(SESSION_COOKIE);
  });
});

describe('fixed credentials', () => {
  it('HTTP Basic goes with every request; a refusal is Unauthorized without the password', async () => {
    const { url } = await backends.start();
    const right = backends.client(url, defaultClassifier, { auth: basicAuth('admin@example.com', PASSWORD) });
    expect(JSON.parse((await right.call({ method: 'GET', path: '/whoami' })).text)).toEqual({ user: 'admin@example.com' });

    const wrong = backends.client(url, defaultClassifier, { auth: basicAuth('admin@example.com', 'Secret-Guess-1') });
    const failure = (await wrong.call({ method: 'GET', path: '/whoami' }).catch((error: unknown) => error)) as Error;
    expect(failure).toMatchObject({ kind: 'Unauthorized', message: 'GET /whoami: 401 wrong user name or password' });
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain('Secret-Guess-1');
  });

  it('a session-expired answer cannot be mended by logging in: Unauthorized', async () => {
    const { fake, url } = await backends.start();
    const http = backends.client(url, iredadminStyle, { auth: staticHeaders({ cookie: `${SESSION_COOKIE}=stale` }) });
    await expect(http.call(listUsers)).rejects.toMatchObject({ kind: 'Unauthorized', message: expect.stringContaining('fixed credentials') });
    expect(fake.hits('/api/users')).toBe(1);
  });
});
