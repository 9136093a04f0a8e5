// The MailStore emulator as a client sees it on the wire (shared/backends/mailstore.md), and `mailops emulate
// mailstore` as a person starts it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMailStoreEmulator, type MailStoreEmulator } from '../../../src/backends/mailstore/emulator.ts';
import { ROOT, mailops } from '../../support/cli.ts';

let emulator: MailStoreEmulator;
beforeEach(async () => {
  emulator = await startMailStoreEmulator({ invokeWaitMs: 50 });
});
afterEach(async () => {
  await emulator.close();
});

const BASIC = `Basic ${Buffer.from('admin:admin').toString('base64')}`;

async function post(path: string, form: Record<string, string | number> = {}, authorization = BASIC): Promise<{ status: number; body: string; type: string | null; headers: Headers }> {
  const response = await fetch(`${emulator.url}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(Object.entries(form).map(([k, v]): [string, string] => [k, String(v)])).toString(),
  });
  return { status: response.status, body: (await response.text()).replace(/^\uFEFF/, ''), type: response.headers.get('content-type'), headers: response.headers };
}

describe('the MailStore emulator', () => {
  it('refuses other credentials with 401 and a Basic challenge, on every path of both forms', async () => {
    for (const path of ['/api/invoke/GetUsers', '/api/get-status', '/JSON/Invoke/GetUsers']) {
      const answer = await post(path, {}, `Basic ${Buffer.from('admin:nope').toString('base64')}`);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="MailStore Server"');
    }
  });

  it('answers a failed call with an error object in the envelope (current) or a 500 text/plain (legacy)', async () => {
    const current = await post('/api/invoke/GetUserInfo', { userName: 'nobody' });
    expect(current.status).toBe(200);
    expect(JSON.parse(current.body)).toMatchObject({ error: { message: "User 'nobody' does not exist.", details: null }, statusCode: 'failed', token: null, result: null });
    const legacy = await post('/JSON/Invoke/GetUserInfo', { userName: 'nobody' });
    expect(legacy).toMatchObject({ status: 500, body: "User 'nobody' does not exist." });
    expect(legacy.type).toMatch(/^text\/plain/);
    expect(JSON.parse((await post('/api/invoke/CreateUser', { userName: 'x' })).body).error.message).toBe("parameter 'privileges' is missing");
  });

  it('lists its functions with get-metadata', async () => {
    const functions = JSON.parse((await post('/api/get-metadata')).body).result as Array<{ name: string; args: Array<{ name: string }> }>;
    expect(functions.find((f) => f.name === 'SetUserEmailAddresses')?.args.map((a) => a.name)).toEqual(['userName', 'emailAddresses']);
    expect(functions.map((f) => f.name)).toEqual(expect.arrayContaining(['GetUsers', 'GetUserInfo', 'CreateUser', 'DeleteUser', 'RenameUser', 'SetUserPassword', 'SetUserPrivilegesOnFolder', 'VerifyStore']));
  });

  it('holds get-status until the status version moves past the one the caller knows, or the timeout', async () => {
    emulator.setSlow('VerifyStore', { durationMs: 600, steps: 3 });
    const started = JSON.parse((await post('/api/invoke/VerifyStore', { id: 1 })).body);
    expect(started).toMatchObject({ statusCode: 'running', token: expect.stringMatching(/^[0-9a-f]{32}$/) });
    // Asking with the version it has: held until something changes.
    const t0 = Date.now();
    const next = JSON.parse((await post('/api/get-status', { token: started.token, lastKnownStatusVersion: started.statusVersion, millisecondsTimeout: 5000 })).body);
    expect(next.statusVersion).toBeGreaterThan(started.statusVersion);
    expect(Date.now() - t0).toBeLessThan(2000);
    // Asking with a version from the future: held for the whole timeout, then the same status.
    const t1 = Date.now();
    const held = JSON.parse((await post('/api/get-status', { token: started.token, lastKnownStatusVersion: 10_000, millisecondsTimeout: 150 })).body);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(140);
    expect(held.logOutput).toBeNull();
    expect((await post('/api/get-status', { token: 'unknown', lastKnownStatusVersion: 0, millisecondsTimeout: 10 })).status).toBe(404);
    expect((await post('/api/cancel-async', { token: 'unknown' })).status).toBe(404);
  });

  it('a cancelled call ends cancelled, with an error, and does nothing', async () => {
    emulator.addUser({ userName: 'u', emailAddresses: ['u@example.com'] });
    emulator.setSlow('SetUserEmailAddresses', { durationMs: 2000 });
    const started = JSON.parse((await post('/api/invoke/SetUserEmailAddresses', { userName: 'u', emailAddresses: 'v@example.com' })).body);
    expect(JSON.parse((await post('/api/cancel-async', { token: started.token })).body)).toMatchObject({ statusCode: 'succeeded', error: null });
    await emulator.callEnded(started.token);
    const final = JSON.parse((await post('/api/get-status', { token: started.token, lastKnownStatusVersion: 0, millisecondsTimeout: 10 })).body);
    expect(final).toMatchObject({ statusCode: 'cancelled', error: { message: 'The operation has been cancelled.' } });
    expect(emulator.users.find((u) => u.userName === 'u')?.emailAddresses).toEqual(['u@example.com']);
  });
});

describe('mailops emulate mailstore', () => {
  it('prints "mailstore <url>", takes --user/--password and --slow, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'mailstore', '--user', 'archivist', '--password', 'Arch1ve', '--slow', 'GetUsers=1s:2'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = String((await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value);
    expect(line).toMatch(/^mailstore http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.split(' ')[1]!;
    const call = (authorization: string) => fetch(`${url}/api/invoke/GetUsers`, { method: 'POST', headers: { authorization } });
    expect((await call(BASIC)).status).toBe(401);
    const answer = JSON.parse((await (await call(`Basic ${Buffer.from('archivist:Arch1ve').toString('base64')}`)).text()).replace(/^\uFEFF/, ''));
    expect(answer).toMatchObject({ statusCode: 'running', token: expect.any(String) });
    const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
    child.kill('SIGTERM');
    expect(await exit).toEqual([0, null]);
  });

  it('explains a --slow it cannot read', async () => {
    const result = await mailops(['emulate', 'mailstore', '--slow', 'SetUserEverything=2s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--slow SetUserEverything: not a function the emulator knows');
  });
});
