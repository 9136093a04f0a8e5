// The iRedAdmin-Pro emulator as the fact sheet describes the server (shared/backends/iredadmin.md): the envelope
// at HTTP 200, cookie sessions, the allow-list, MB quotas and the domain's ceilings, the server's reasons for bad
// input, throttle settings, and deletions that keep the mailbox.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../support/cli.ts';
import { ADMIN, loggedIn, RawIRedAdmin, useEmulators } from './support.ts';

const emulators = useEmulators();

async function withDomain(options: Parameters<typeof emulators.iredadmin>[0] = {}, domainFields: Record<string, string> = {}) {
  const emulator = await emulators.iredadmin(options);
  const raw = await loggedIn(emulator);
  await raw.ok('POST', '/api/domain/example.com', domainFields);
  return { emulator, raw };
}

describe('sessions and the allow-list', () => {
  it('answers every failure at HTTP 200; a call without a session is LOGIN_REQUIRED', async () => {
    const emulator = await emulators.iredadmin();
    const raw = new RawIRedAdmin(emulator.url);
    expect(await raw.call('GET', '/api/domains')).toEqual({ status: 200, body: { _success: false, _msg: 'LOGIN_REQUIRED' } });
    expect(await raw.login(ADMIN.user, 'wrong')).toEqual({ status: 200, body: { _success: false, _msg: 'INVALID_CREDENTIALS' } });
    expect(await raw.login('postmaster', ADMIN.password)).toEqual({ status: 200, body: { _success: false, _msg: 'INVALID_USERNAME' } });
    expect(await raw.login()).toEqual({ status: 200, body: { _success: true } });
    expect(await raw.call('GET', '/api/domains')).toEqual({ status: 200, body: { _success: true, _data: {} } });
    expect(await raw.call('GET', '/api/login')).toEqual({ status: 200, body: { _success: false, _msg: 'INVALID_HTTP_METHOD' } });
  });

  it('refuses a client off the allow-list with NOT_AUTHORIZED, before it looks at the session', async () => {
    const emulator = await emulators.iredadmin({ apiClients: ['192.0.2.1'] });
    const raw = new RawIRedAdmin(emulator.url);
    expect((await raw.login()).body).toEqual({ _success: false, _msg: 'NOT_AUTHORIZED' });
    expect((await raw.call('GET', '/api/domains')).body).toEqual({ _success: false, _msg: 'NOT_AUTHORIZED' });
    emulator.setApiClients(null);
    expect((await raw.login()).body).toEqual({ _success: true });
  });

  it('a session ends when unused longer than its time to live', async () => {
    const clock = { now: 1_000 };
    const emulator = await emulators.iredadmin({ sessionTtlMs: 10_000, now: () => clock.now });
    const raw = await loggedIn(emulator);
    clock.now += 9_999;
    expect((await raw.call('GET', '/api/domains')).body['_success']).toBe(true);
    clock.now += 10_000;
    expect((await raw.call('GET', '/api/domains')).body).toEqual({ _success: false, _msg: 'LOGIN_REQUIRED' });
  });
});

describe('domains', () => {
  it('keeps a profile with MB quotas, a status and alias domains, and lists profiles or names', async () => {
    const { raw } = await withDomain({}, { name: 'Example', quota: '10240', defaultQuota: '1024', maxUserQuota: '2048' });
    await raw.ok('PUT', '/api/domain/example.com', { accountStatus: 'disabled', aliasDomains: 'example.net,example.info' });
    await raw.ok('PUT', '/api/domain/example.com', { removeAliasDomain: 'example.info' });
    expect(await raw.data('/api/domains')).toEqual({
      'example.com': expect.objectContaining({
        domain: 'example.com', description: 'Example', maxquota: 10240, active: 0,
        settings: { default_user_quota: 1024, max_user_quota: 2048 }, alias_domains: ['example.net'],
      }),
    });
    expect(await raw.data('/api/domains?name_only=yes')).toEqual(['example.com']);
    expect(await raw.data('/api/domains?disabled_only=yes&name_only=yes')).toEqual(['example.com']);
  });

  it('gives the server’s reasons for bad input', async () => {
    const { raw } = await withDomain();
    expect((await raw.call('POST', '/api/domain/example.com')).body).toEqual({ _success: false, _msg: 'ALREADY_EXISTS' });
    expect((await raw.call('POST', '/api/domain/not_a_domain')).body).toEqual({ _success: false, _msg: 'INVALID_DOMAIN_NAME' });
    expect((await raw.call('PUT', '/api/domain/missing.example', { name: 'x' })).body).toEqual({ _success: false, _msg: 'INVALID_DOMAIN_NAME' });
    expect((await raw.call('PUT', '/api/domain/example.com', { quota: '2GB' })).body).toEqual({ _success: false, _msg: 'INVALID_QUOTA_SIZE' });
    expect((await raw.call('PUT', '/api/domain/example.com', { accountStatus: 'off' })).body).toEqual({ _success: false, _msg: 'INVALID_ACCOUNT_STATUS' });
    expect((await raw.call('PUT', '/api/domain/example.com', { addAliasDomain: 'example.com' })).body).toEqual({ _success: false, _msg: 'CAN_NOT_BE_LOCAL_DOMAIN' });
  });

  it('deleting a domain keeps its mailboxes for the days asked, or for good', async () => {
    const emulator = await emulators.iredadmin({ now: () => Date.parse('2026-11-23T10:00:00Z') });
    const raw = await loggedIn(emulator);
    for (const domain of ['a.example', 'b.example']) {
      await raw.ok('POST', `/api/domain/${domain}`);
      await raw.ok('POST', `/api/user/amy@${domain}`, { password: 'Amy-S3cret!' });
    }
    await raw.ok('DELETE', '/api/domain/a.example/keep_mailbox_days/30');
    await raw.ok('DELETE', '/api/domain/b.example');
    expect(emulator.state.domains).toEqual({});
    expect(emulator.state.deletedMailboxes).toEqual([
      { username: 'amy@a.example', domain: 'a.example', deleted: '2026-11-23T10:00:00', deleteDate: '2026-12-23' },
      { username: 'amy@b.example', domain: 'b.example', deleted: '2026-11-23T10:00:00', deleteDate: null },
    ]);
  });
});

describe('users', () => {
  it('stores quotas in MB, cut to the domain’s largest user quota and to what the domain has left', async () => {
    const { raw, emulator } = await withDomain({}, { quota: '3000', defaultQuota: '500', maxUserQuota: '2048' });
    await raw.ok('POST', '/api/user/amy@example.com', { password: 'Amy-S3cret!' });
    await raw.ok('POST', '/api/user/bo@example.com', { password: 'Bo-S3cret!!', quota: '4096' });
    await raw.ok('POST', '/api/user/cy@example.com', { password: 'Cy-S3cret!!', quota: '1000' });
    expect(Object.values(emulator.state.users).map((u) => [u['username'], u['quota']])).toEqual([
      ['amy@example.com', 500], // the domain's default
      ['bo@example.com', 2048], // the largest a user may have
      ['cy@example.com', 452], // what was left of the domain's 3000
    ]);
    expect((await raw.call('POST', '/api/user/dee@example.com', { password: 'Dee-S3cret!' })).body).toEqual({ _success: false, _msg: 'EXCEEDED_DOMAIN_QUOTA_SIZE' });
  });

  it('keeps per-user aliases of the user’s own domain and forwardings; its own address among them keeps a copy', async () => {
    const { raw } = await withDomain();
    await raw.ok('POST', '/api/user/amy@example.com', { password: 'Amy-S3cret!', name: 'Amy' });
    await raw.ok('PUT', '/api/user/amy@example.com', {
      aliases: 'a@example.com,amy@other.example',
      forwarding: 'amy@elsewhere.example,amy@example.com,ghost@example.com',
    });
    await raw.ok('PUT', '/api/user/amy@example.com', { addAlias: 'amelia@example.com' });
    expect(await raw.data('/api/user/amy@example.com')).toMatchObject({
      name: 'Amy', active: 1,
      aliases: ['a@example.com', 'amelia@example.com'], // not the one in another domain
      forwardings: ['amy@elsewhere.example', 'amy@example.com'], // not the address no account has
    });
    expect(await raw.data('/api/user/amy@example.com')).not.toHaveProperty('password');
    await raw.ok('PUT', '/api/user/amy@example.com', { forwarding: 'amy@example.com' });
    expect(await raw.data('/api/user/amy@example.com')).toMatchObject({ forwardings: [] });
  });

  it('gives the server’s reasons: invalid address, domain missing, taken address, weak password', async () => {
    const { raw } = await withDomain();
    const create = async (mail: string, form: Record<string, string> = { password: 'Good-S3cret!' }) => (await raw.call('POST', `/api/user/${mail}`, form)).body;
    expect(await create('not-an-address')).toEqual({ _success: false, _msg: 'INVALID_MAIL' });
    expect(await create('amy@missing.example')).toEqual({ _success: false, _msg: 'INVALID_DOMAIN_NAME' });
    expect(await create('amy@example.com', { password: 'short' })).toEqual({ _success: false, _msg: 'PW_SHORTER_THAN_MIN_LENGTH' });
    expect(await create('amy@example.com')).toEqual({ _success: true });
    expect(await create('amy@example.com')).toEqual({ _success: false, _msg: 'ALREADY_EXISTS' });
    expect((await raw.call('PUT', '/api/user/bo@example.com', { name: 'Bo' })).body).toEqual({ _success: false, _msg: 'NO_SUCH_ACCOUNT' });
    expect((await raw.call('PUT', '/api/user/amy@example.com', { quota: 'lots' })).body).toEqual({ _success: false, _msg: 'INVALID_QUOTA_SIZE' });
  });

  it('renames within the domain only, and checks passwords', async () => {
    const { raw, emulator } = await withDomain();
    await raw.ok('POST', '/api/user/amy@example.com', { password: 'Amy-S3cret!' });
    expect((await raw.call('POST', '/api/user/amy@example.com/change_email/amy@other.example')).body).toEqual({ _success: false, _msg: 'PERMISSION_DENIED' });
    await raw.ok('POST', '/api/user/amy@example.com/change_email/amelia@example.com');
    expect(Object.keys(emulator.state.users)).toEqual(['amelia@example.com']);
    expect((await raw.call('POST', '/api/verify_password/user/amelia@example.com', { password: 'Amy-S3cret!' })).body).toEqual({ _success: true });
    expect((await raw.call('POST', '/api/verify_password/user/amelia@example.com', { password: 'nope-nope' })).body).toEqual({ _success: false });
  });

  it('deleting a user keeps its mailbox for the days asked; a request about one user costs the same however many there are', async () => {
    const { raw, emulator } = await withDomain();
    for (let i = 0; i < 50; i++) await raw.ok('POST', `/api/user/u${i}@example.com`, { password: 'User-S3cret!' });
    const before = emulator.entriesVisited;
    await raw.ok('PUT', '/api/user/u7@example.com', { name: 'Seven', addAlias: 'seven@example.com' });
    await raw.ok('DELETE', '/api/user/u8@example.com/keep_mailbox_days/7');
    expect(emulator.entriesVisited - before).toBeLessThan(10);
    expect(emulator.state.deletedMailboxes).toEqual([expect.objectContaining({ username: 'u8@example.com', deleteDate: expect.stringMatching(/^\d{4}-\d\d-\d\d$/) })]);
  });
});

describe('aliases', () => {
  it('keeps members (all at once, or a few in and out), refusing a malformed member or one in an unknown domain', async () => {
    const { raw } = await withDomain();
    await raw.ok('POST', '/api/user/amy@example.com', { password: 'Amy-S3cret!' });
    await raw.ok('POST', '/api/alias/team@example.com', { members: 'amy@example.com,ghost@example.com' });
    await raw.ok('PUT', '/api/alias/team@example.com', { addMember: 'amy@example.com' });
    expect(await raw.data('/api/aliases/example.com')).toEqual([expect.objectContaining({ address: 'team@example.com', members: ['amy@example.com'] })]);
    expect((await raw.call('PUT', '/api/alias/team@example.com', { addMember: 'not an address' })).body).toEqual({ _success: false, _msg: 'INVALID_MAIL' });
    expect((await raw.call('PUT', '/api/alias/team@example.com', { addMember: 'x@unknown.example' })).body).toEqual({ _success: false, _msg: 'UNKNOWN_MEMBER_DOMAIN' });
    expect((await raw.call('POST', '/api/alias/info@missing.example')).body).toEqual({ _success: false, _msg: 'INVALID_DOMAIN_NAME' });
    expect((await raw.call('PUT', '/api/alias/nobody@example.com', { members: 'amy@example.com' })).body).toEqual({ _success: false, _msg: 'NO_SUCH_ACCOUNT' });
  });
});

describe('throttling', () => {
  it('sets global, domain and user settings; a limit left out is 0; period 0 or no limit left removes it', async () => {
    const { raw, emulator } = await withDomain();
    expect((await raw.call('POST', '/api/throttle/global/outbound', { max_msgs: '10' })).body).toEqual({ _success: false, _msg: 'MISS_PERIOD' });
    expect((await raw.call('POST', '/api/throttle/global/outbound', { period: '60' })).body).toEqual({ _success: false, _msg: 'MISS_THROTTLE_SETTING' });
    expect((await raw.call('POST', '/api/throttle/global/outbound', { period: '1h', max_msgs: '10' })).body).toEqual({ _success: false, _msg: 'INVALID_THROTTLE_SETTING' });
    await raw.ok('POST', '/api/throttle/global/outbound', { period: '3600', max_msgs: '100' });
    await raw.ok('POST', '/api/throttle/example.com/inbound', { period: '86400', max_quota: '1073741824', msg_size: '-1', max_msgs: '-1' });
    await raw.ok('POST', '/api/throttle/amy@example.com/outbound', { period: '60', msg_size: '-1', max_msgs: '-1', max_quota: '-1' });
    expect(emulator.state.throttles).toEqual({
      '@. outbound': { account: '@.', kind: 'outbound', priority: 0, period: 3600, msg_size: 0, max_msgs: 100, max_quota: 0 },
      '@example.com inbound': { account: '@example.com', kind: 'inbound', priority: 10, period: 86400, msg_size: -1, max_msgs: -1, max_quota: 1073741824 },
    });
    expect(await raw.data('/api/throttle/example.com/inbound')).toMatchObject({ period: 86400, max_quota: 1073741824 });
    expect(await raw.data('/api/throttle/example.com/outbound')).toEqual({});
    await raw.ok('POST', '/api/throttle/global/outbound', { period: '0', msg_size: '0' });
    expect(Object.keys(emulator.state.throttles)).toEqual(['@example.com inbound']);
  });
});

describe('mailops emulate iredadmin', () => {
  it('prints "iredadmin <url>" once it accepts requests, logs in --user/--password, honours --api-clients and --session-ttl, stops on SIGTERM', async () => {
    const start = (...args: string[]) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'iredadmin', '--listen', '127.0.0.1:0', '--user', 'admin@example.net', '--password', 'Pass-W0rd!', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next().then((next) => String(next.value));
      return { child, line, exit: new Promise((resolve) => child.on('exit', (code, signal) => resolve([code, signal]))) };
    };
    const plain = start();
    const restricted = start('--api-clients', '192.0.2.0/24');
    const shortLived = start('--session-ttl', '0');
    const urls = await Promise.all([plain, restricted, shortLived].map(async ({ line }) => {
      const text = await line;
      expect(text).toMatch(/^iredadmin http:\/\/127\.0\.0\.1:\d+$/);
      return text.split(' ')[1]!;
    }));
    const [plainRaw, restrictedRaw, shortRaw] = urls.map((url) => new RawIRedAdmin(url));
    expect((await plainRaw!.login('admin@example.net', 'Pass-W0rd!')).body).toEqual({ _success: true });
    expect((await plainRaw!.call('GET', '/api/domains?name_only=yes')).body).toEqual({ _success: true, _data: [] });
    expect((await restrictedRaw!.login('admin@example.net', 'Pass-W0rd!')).body).toEqual({ _success: false, _msg: 'NOT_AUTHORIZED' });
    expect((await shortRaw!.login('admin@example.net', 'Pass-W0rd!')).body).toEqual({ _success: true });
    expect((await shortRaw!.call('GET', '/api/domains')).body).toEqual({ _success: false, _msg: 'LOGIN_REQUIRED' });
    for (const { child } of [plain, restricted, shortLived]) child.kill('SIGTERM');
    expect(await Promise.all([plain.exit, restricted.exit, shortLived.exit])).toEqual([[0, null], [0, null], [0, null]]);
  });
});
