import { afterEach, describe, expect, it } from 'vitest';
import { ActionParameters, readForm } from '../../../src/backends/emulator/actions.ts';
import { halt, jsonAnswer } from '../../../src/backends/emulator/answers.ts';
import { basicCredentials, createCookieSessions } from '../../../src/backends/emulator/credentials.ts';
import { createRouteDispatcher, routeTable, type RouteHandler } from '../../../src/backends/emulator/router.ts';
import { startEmulator, type EmulatorRequest, type RunningEmulator } from '../../../src/backends/emulator/server.ts';

const emulators: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

const withHeaders = (headers: Record<string, string>) => ({ headers }) as unknown as EmulatorRequest;

describe('HTTP Basic credentials', () => {
  it('reads user and password, the password may hold colons; absent or malformed is undefined', () => {
    const basic = (text: string) => withHeaders({ authorization: `Basic ${Buffer.from(text).toString('base64')}` });
    expect(basicCredentials(basic('admin:pa:ss'))).toEqual({ user: 'admin', password: 'pa:ss' });
    expect(basicCredentials(basic('no-colon'))).toBeUndefined();
    expect(basicCredentials(withHeaders({ authorization: 'Bearer x' }))).toBeUndefined();
    expect(basicCredentials(withHeaders({}))).toBeUndefined();
  });
});

// iRedAdmin-Pro (iredadmin.md): POST /api/login with form fields sets a session cookie; a call without a live
// session fails with _msg LOGIN_REQUIRED — at HTTP 200, like every failure of that API.
describe('an iRedAdmin-style cookie session on the framework', () => {
  async function startIRedAdminLike(clock: { now: number }): Promise<RunningEmulator> {
    const sessions = createCookieSessions({ cookieName: 'iRedAdmin-Pro', idleTimeoutMs: 60_000, now: () => clock.now });
    const failed = (reason: string) => jsonAnswer({ _success: false, _msg: reason });
    const failure = (reason: string): never => halt(failed(reason));
    const loggedIn = (call: Parameters<RouteHandler>[0]) => sessions.find(call.request) ?? failure('LOGIN_REQUIRED');
    const dispatch = createRouteDispatcher(routeTable<RouteHandler>([
      ['POST', '/api/login', (call) => {
        const form = new ActionParameters(readForm(call.request), failure);
        if (form.required('password') !== 'secret') failure('INVALID_CREDENTIALS');
        const { setCookie } = sessions.open(form.required('username'));
        return jsonAnswer({ _success: true }, { headers: { 'set-cookie': setCookie } });
      }],
      ['GET', '/api/domains', (call) => jsonAnswer({ _success: true, _data: [`for ${loggedIn(call).user}`] })],
    ]), { malformedPath: () => ({ status: 400 }), notFound: () => ({ status: 404 }) });
    const emulator = await startEmulator({ name: 'iredadmin', handle: dispatch, serverError: () => failed('INTERNAL') });
    emulators.push(emulator);
    return emulator;
  }

  it('logs in, keeps the session while it is used, and asks for a login again once it has expired', async () => {
    const clock = { now: 0 };
    const emulator = await startIRedAdminLike(clock);
    const domains = async (cookie?: string) => {
      const response = await fetch(`${emulator.url}/api/domains`, { headers: cookie === undefined ? {} : { cookie } });
      return [response.status, await response.json()];
    };
    expect(await domains()).toEqual([200, { _success: false, _msg: 'LOGIN_REQUIRED' }]);
    const refused = await fetch(`${emulator.url}/api/login`, { method: 'POST', body: new URLSearchParams({ username: 'postmaster@example.org', password: 'wrong' }) });
    expect(await refused.json()).toEqual({ _success: false, _msg: 'INVALID_CREDENTIALS' });
    const login = await fetch(`${emulator.url}/api/login`, { method: 'POST', body: new URLSearchParams({ username: 'postmaster@example.org', password: 'secret' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^iRedAdmin-Pro=[0-9a-f]{32}$/);
    clock.now = 50_000;
    expect(await domains(`theme=dark; ${cookie}`)).toEqual([200, { _success: true, _data: ['for postmaster@example.org'] }]);
    clock.now = 100_000;
    expect(await domains(cookie)).toEqual([200, { _success: true, _data: ['for postmaster@example.org'] }]);
    clock.now = 160_000;
    expect(await domains(cookie)).toEqual([200, { _success: false, _msg: 'LOGIN_REQUIRED' }]);
  });
});
