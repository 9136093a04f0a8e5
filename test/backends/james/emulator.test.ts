// The James WebAdmin, spoken to over raw HTTP. What describes James runs against both targets — the emulator and
// the real James 3.8.1 of the run — so the emulator's fidelity is checked here; where they disagree, the real
// server is right. Emulator-only features (tuned task durations, test hooks, faults, latency, metering, other
// authentication setups) are tested on the emulator alone, at the end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createFaultPlan } from '../../../src/backends/emulator/faults.ts';
import { startJamesEmulator, type JamesEmulator, type JamesEmulatorOptions } from '../../../src/backends/james/emulator.ts';
import { ROOT } from '../../support/cli.ts';
import { RawJames, startedOnce, TARGETS, uniqueDomain, type RawAnswer, type RawRequestOptions } from '../../support/james-targets.ts';

type Call = (method: string, path: string, options?: RawRequestOptions) => Promise<RawAnswer>;

function jamesError(statusCode: number, type: string, message: string, details: string | null = null) {
  return { statusCode, type, message, details };
}

/** Domains and their users, as most tests start. */
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

/** The entries of a `GET /mappings` answer whose source ends with one of `suffixes`. */
function mappingsOf(all: unknown, ...suffixes: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(all as Record<string, unknown>).filter(([source]) => suffixes.some((suffix) => source.endsWith(suffix))));
}

describe.each(TARGETS)('James WebAdmin: $name', (factory) => {
  const james = startedOnce(factory);
  const { test } = james;
  const call: Call = (method, path, options) => james.target.raw.request(method, path, options);

  describe('domains', () => {
    test('has the default domain, which cannot be deleted', async () => {
      expect((await call('GET', '/domains')).body).toContain('localhost');
      const refused = await call('DELETE', '/domains/localhost');
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual(jamesError(400, 'InvalidArgument', 'Can not remove domain', 'localhost is autodetected and cannot be removed'));
    });

    test('creates, finds and deletes domains; deleting or re-creating is idempotent', async () => {
      const d = uniqueDomain();
      expect((await call('PUT', `/domains/${d}`)).status).toBe(204);
      expect((await call('PUT', `/domains/${d}`)).status).toBe(204);
      expect((await call('GET', `/domains/${d}`)).status).toBe(204);
      expect((await call('GET', '/domains')).body).toContain(d);
      expect((await call('DELETE', `/domains/${d}`)).status).toBe(204);
      expect((await call('DELETE', `/domains/${d}`)).status).toBe(204);
      const missing = await call('GET', `/domains/${d}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual(jamesError(404, 'InvalidArgument', `The domain list does not contain: ${d}`));
    });

    test.each([
      ['a%40b.org', 'a@b.org', 'Domain parts ASCII chars must be a-z A-Z 0-9 - or _'],
      ['a%2Fb.org', 'a/b.org', 'Domain parts ASCII chars must be a-z A-Z 0-9 - or _'],
      ['-x.org', '-x.org', "Domain part should not start with '-' or '_'"],
      [`${'a'.repeat(250)}.org`, `${'a'.repeat(250)}.org`, 'Domain name length should not exceed 253 characters'],
    ])('refuses the domain name %s', async (encoded, name, details) => {
      const answer = await call('PUT', `/domains/${encoded}`);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual(jamesError(400, 'InvalidArgument', `Invalid request for domain creation ${name}`, details));
    });

    test('needs the alias domain to exist before it can point at another domain', async () => {
      const [d, alt] = [uniqueDomain(), uniqueDomain('alias')];
      await call('PUT', `/domains/${d}`);
      const early = await call('PUT', `/domains/${d}/aliases/${alt}`);
      expect(early.status).toBe(404);
      expect(early.body).toEqual(jamesError(404, 'InvalidArgument', `The domain list does not contain: ${alt}`));
      await call('PUT', `/domains/${alt}`);
      expect((await call('PUT', `/domains/${d}/aliases/${alt}`)).status).toBe(204);
      expect((await call('GET', `/domains/${d}/aliases`)).body).toEqual([{ source: alt }]);
      expect(mappingsOf((await call('GET', '/mappings')).body, d, alt)).toEqual({ [alt]: [{ type: 'DomainAlias', mapping: d }] });
      const same = await call('PUT', `/domains/${d}/aliases/${d}`);
      expect(same.status).toBe(400);
      expect(same.body).toMatchObject({ message: `Source domain and destination domain can not have same value(${d})` });
    });

    test('stores a repeated domain alias twice, as the memory server does, and lists it once', async () => {
      const [d, alt] = [uniqueDomain(), uniqueDomain('alias')];
      await call('PUT', `/domains/${d}`);
      await call('PUT', `/domains/${alt}`);
      await call('PUT', `/domains/${d}/aliases/${alt}`);
      await call('PUT', `/domains/${d}/aliases/${alt}`);
      expect(mappingsOf((await call('GET', '/mappings')).body, alt)).toEqual({
        [alt]: [{ type: 'DomainAlias', mapping: d }, { type: 'DomainAlias', mapping: d }],
      });
      expect((await call('GET', `/domains/${d}/aliases`)).body).toEqual([{ source: alt }]);
      await call('DELETE', `/domains/${d}/aliases/${alt}`);
      expect((await call('GET', `/domains/${d}/aliases`)).body).toEqual([{ source: alt }]);
    });
  });

  describe('users', () => {
    test('creates a user once, then answers 409; ?force changes the password or creates', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      const again = await call('PUT', `/users/bob@${d}`, { body: { password: 'other' } });
      expect(again.status).toBe(409);
      expect(again.body).toEqual(jamesError(409, 'WrongState', `'bob@${d}' user already exist`, `'bob@${d}' user already exist`));
      expect((await call('POST', `/users/bob@${d}/verify`, { body: { password: 'secret' } })).status).toBe(204);
      expect((await call('PUT', `/users/bob@${d}?force`, { body: { password: 'other' } })).status).toBe(204);
      expect((await call('POST', `/users/bob@${d}/verify`, { body: { password: 'secret' } })).status).toBe(401);
      expect((await call('POST', `/users/bob@${d}/verify`, { body: { password: 'other' } })).status).toBe(204);
      expect((await call('PUT', `/users/new@${d}?force`, { body: { password: 'p' } })).status).toBe(204);
      expect((await call('GET', '/users')).body).toEqual(expect.arrayContaining([{ username: `bob@${d}` }, { username: `new@${d}` }]));
    });

    test('lower-cases usernames, as James does', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      expect((await call('PUT', `/users/Bob@${d.toUpperCase()}`, { body: { password: 'x' } })).status).toBe(409);
      expect((await call('HEAD', `/users/BOB@${d}`)).status).toBe(200);
    });

    test('refuses a user in an unknown domain or without a domain part', async () => {
      const unknown = await call('PUT', `/users/bob@${uniqueDomain('unknown')}`, { body: { password: 'x' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body).toEqual(jamesError(400, 'InvalidArgument', 'Username supplied is invalid', 'Domain does not exist in DomainList'));
      const bare = await call('PUT', '/users/bob', { body: { password: 'x' } });
      expect(bare.status).toBe(400);
      expect(bare.body).toEqual(jamesError(400, 'InvalidArgument', 'Username supplied is invalid', 'Given Username needs to contain a @domainpart'));
    });

    test('loses a body sent as a form, like curl without a JSON content type', async () => {
      const d = uniqueDomain();
      await call('PUT', `/domains/${d}`);
      const form = await call('PUT', `/users/bob@${d}`, {
        body: { password: 'x' },
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.status).toBe(400);
      expect(form.body).toMatchObject({ statusCode: 400, type: 'InvalidArgument', message: 'JSON payload of the request is not valid' });
      expect((await call('HEAD', `/users/bob@${d}`)).status).toBe(404);
      const unknownField = await call('PUT', `/users/bob@${d}`, { body: { password: 'x', admin: true } });
      expect(unknownField.status).toBe(400);
      expect(unknownField.body).toMatchObject({ message: 'JSON payload of the request is not valid' });
      const plain = await call('PUT', `/users/bob@${d}`, { body: { password: 'x' }, headers: { 'content-type': 'text/plain' } });
      expect(plain.status).toBe(204);
    });

    test('refuses a body without a password with the details Jackson gives, for a new user and a verification', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      const npe = (dto: string, body: string) => `Cannot construct instance of \`org.apache.james.webadmin.dto.${dto}\`, `
        + `problem: \`java.lang.NullPointerException\`\n at [Source: (String)"${body}"; line: 1, column: ${body.length}]`;
      expect((await call('PUT', `/users/new@${d}`, { body: '{}' })).body)
        .toEqual(jamesError(400, 'InvalidArgument', 'JSON payload of the request is not valid', npe('AddUserRequest', '{}')));
      expect((await call('PUT', `/users/new@${d}`, { body: '{"password":null}' })).body)
        .toEqual(jamesError(400, 'InvalidArgument', 'JSON payload of the request is not valid', npe('AddUserRequest', '{"password":null}')));
      expect((await call('POST', `/users/bob@${d}/verify`, { body: '{}' })).body)
        .toEqual(jamesError(400, 'InvalidArgument', 'Error while deserializing verifyUser request', npe('VerifyUserRequest', '{}')));
    });

    test('tells existing users with HEAD and deletes with 204 even when absent, keeping their mailboxes', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      await call('PUT', `/users/bob@${d}/mailboxes/INBOX`);
      expect((await call('HEAD', `/users/bob@${d}`)).status).toBe(200);
      expect((await call('HEAD', `/users/ghost@${d}`)).status).toBe(404);
      expect((await call('DELETE', `/users/bob@${d}`)).status).toBe(204);
      expect((await call('DELETE', `/users/bob@${d}`)).status).toBe(204);
      expect((await call('HEAD', `/users/bob@${d}`)).status).toBe(404);
      await withUsers(call, `bob@${d}`);
      expect((await call('GET', `/users/bob@${d}/mailboxes`)).body).toEqual([{ mailboxName: 'INBOX', mailboxId: expect.any(String) }]);
    });

    test('has no deleteData action in 3.8.1', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      const answer = await call('POST', `/users/bob@${d}?action=deleteData`);
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual(jamesError(404, 'notFound', `POST /users/bob@${d} can not be found`));
    });

    test('answers a malformed URL with an HTML 400 and an unknown route or method with a JSON 404', async () => {
      const malformed = await call('GET', '/domains/%zz');
      expect(malformed.status).toBe(400);
      expect(malformed.contentType).toMatch(/^text\/html/);
      expect(malformed.text).toMatch(/^<h1>Bad Message 400<\/h1>/);
      expect((await call('GET', '/nothing/here')).body).toEqual(jamesError(404, 'notFound', 'GET /nothing/here can not be found'));
      // Spark has no 405: another method on a known path is "not found" too.
      expect((await call('POST', '/domains/example.org')).body).toEqual(jamesError(404, 'notFound', 'POST /domains/example.org can not be found'));
    });
  });

  describe('paths, preflight and health', () => {
    test('matches a path without its empty segments, as Spark does, but not one with a trailing slash', async () => {
      const d = uniqueDomain();
      expect((await call('GET', '//domains')).body).toContain('localhost');
      expect((await call('GET', `/domains//${d}`)).body).toEqual(jamesError(404, 'InvalidArgument', `The domain list does not contain: ${d}`));
      expect((await call('GET', '/users/')).body).toEqual(jamesError(404, 'notFound', 'GET /users/ can not be found'));
    });

    test('answers OPTIONS on any path, without credentials, with the CORS headers', async () => {
      for (const path of ['/domains', '/nothing/here']) {
        const response = await fetch(`${james.target.url}${path}`, { method: 'OPTIONS' });
        expect([response.status, await response.text()]).toEqual([200, '']);
        expect(response.headers.get('access-control-allow-origin')).toBe('*');
        expect(response.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization, Accept');
        expect(response.headers.get('access-control-request-method')).toBe('DELETE, GET, POST, PUT');
      }
    });

    test('lists the health checks of the memory app in its order, and reports them all healthy', async () => {
      const names = ['Guice application lifecycle', 'EmptyErrorMailRepository', 'MailReceptionCheck', 'EventDeadLettersHealthCheck', 'MessageFastViewProjection'];
      const component = (name: string) => ({ componentName: name, escapedComponentName: encodeURIComponent(name) });
      expect((await call('GET', '/healthcheck/checks')).body).toEqual(names.map(component));
      // The checks run concurrently: /healthcheck lists them in the order they finish.
      const health = (await call('GET', '/healthcheck')).body as { status: string; checks: unknown[] };
      expect(health.status).toBe('healthy');
      expect(health.checks).toHaveLength(names.length);
      expect(health.checks).toEqual(expect.arrayContaining(names.map((name) => ({ ...component(name), status: 'healthy', cause: null }))));
      expect((await call('GET', '/healthcheck/checks/Nope')).body).toEqual(jamesError(404, 'notFound', 'Component with name Nope cannot be found'));
    });
  });

  describe('user mailboxes', () => {
    test('creates nested mailboxes with their parents, lists and finds them', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      expect((await call('PUT', `/users/bob@${d}/mailboxes/INBOX.work`)).status).toBe(204);
      expect((await call('GET', `/users/bob@${d}/mailboxes`)).body).toEqual([
        { mailboxName: 'INBOX', mailboxId: expect.any(String) },
        { mailboxName: 'INBOX.work', mailboxId: expect.any(String) },
      ]);
      expect((await call('GET', `/users/bob@${d}/mailboxes/INBOX`)).status).toBe(204);
      expect((await call('GET', `/users/bob@${d}/mailboxes/Sent`)).body).toEqual(jamesError(404, 'notFound', 'Mailbox does not exist'));
      expect((await call('DELETE', `/users/bob@${d}/mailboxes/INBOX`)).status).toBe(204);
      expect((await call('GET', `/users/bob@${d}/mailboxes`)).body).toEqual([]);
    });

    test('counts the messages and the unseen ones of a mailbox, naming its full path when it is missing', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      await call('PUT', `/users/bob@${d}/mailboxes/INBOX`);
      expect((await call('GET', `/users/bob@${d}/mailboxes/INBOX/messageCount`)).body).toBe(0);
      expect((await call('GET', `/users/bob@${d}/mailboxes/INBOX/unseenMessageCount`)).body).toBe(0);
      for (const count of ['messageCount', 'unseenMessageCount']) {
        expect((await call('GET', `/users/bob@${d}/mailboxes/Sent/${count}`)).body)
          .toEqual(jamesError(404, 'notFound', 'Invalid get on user mailboxes', `#private:bob@${d}:Sent can not be found`));
      }
    });

    test('refuses unknown users and invalid names', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      const ghost = await call('PUT', `/users/ghost@${d}/mailboxes/INBOX`);
      expect(ghost.body).toEqual(jamesError(404, 'notFound', 'Invalid get on user mailboxes', 'User does not exist'));
      const invalid = await call('PUT', `/users/bob@${d}/mailboxes/bad%25name`);
      expect(invalid.body).toEqual(jamesError(400, 'InvalidArgument', 'Attempt to create an invalid mailbox',
        `#private:bob@${d}:bad%name contains one of the forbidden characters %* or starts with #`));
    });
  });

  describe('rename task', () => {
    test('answers 201 with the task id and its Location, and needs both users to exist', async () => {
      const d = uniqueDomain();
      await withUsers(call, `old@${d}`, `new@${d}`);
      const started = await call('POST', `/users/old@${d}/rename/new@${d}?action=rename`);
      expect(started.status).toBe(201);
      const { taskId } = started.body as { taskId: string };
      expect(started.location).toBe(`/tasks/${taskId}`);
      const missing = await call('POST', `/users/old@${d}/rename/ghost@${d}?action=rename`);
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid arguments supplied in the user request',
        "'newUser' parameter should be an existing user"));
      const noAction = await call('POST', `/users/old@${d}/rename/new@${d}`);
      expect(noAction.body).toMatchObject({ details: "'action' query parameter is compulsory. Supported values are [rename]" });
    });

    test("moves the old user's mailboxes, forwards and quota to the new one and forwards old to new", async () => {
      const d = uniqueDomain();
      await withUsers(call, `old@${d}`, `new@${d}`);
      await call('PUT', `/users/old@${d}/mailboxes/INBOX.work`);
      await call('PUT', `/address/forwards/old@${d}/targets/ext@else.net`);
      await call('PUT', `/quota/users/old@${d}`, { body: { count: 100, size: 5_000 } });

      const taskId = await renameTask(call, `old@${d}`, `new@${d}`);
      const report = (await call('GET', `/tasks/${taskId}`)).body as { status: string };
      expect(['waiting', 'inProgress', 'completed']).toContain(report.status);
      const done = await call('GET', `/tasks/${taskId}/await?timeout=30s`);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({
        taskId,
        type: 'UsernameChangeTask',
        status: 'completed',
        cancelledFrom: null,
        additionalInformation: {
          type: 'UsernameChangeTask',
          oldUser: `old@${d}`,
          newUser: `new@${d}`,
          status: {
            ForwardUsernameChangeTaskStep: 'DONE', DelegationUsernameChangeTaskStep: 'DONE', MailboxUsernameChangeTaskStep: 'DONE',
            ACLUsernameChangeTaskStep: 'DONE', QuotaUsernameChangeTaskStep: 'DONE', FilterUsernameChangeTaskStep: 'DONE',
          },
        },
      });
      expect(Object.keys(done.body as object)).toEqual(expect.arrayContaining(['submitDate', 'startedDate', 'completedDate']));
      expect(Object.keys(done.body as object)).not.toContain('failedDate');

      expect((await call('GET', `/users/new@${d}/mailboxes`)).body).toEqual([
        { mailboxName: 'INBOX', mailboxId: expect.any(String) },
        { mailboxName: 'INBOX.work', mailboxId: expect.any(String) },
      ]);
      expect((await call('GET', `/users/old@${d}/mailboxes`)).body).toEqual([]);
      expect((await call('GET', `/users/new@${d}/mailboxes/INBOX/messageCount`)).body).toBe(0);
      expect(mappingsOf((await call('GET', '/mappings')).body, d)).toEqual({
        [`new@${d}`]: [{ type: 'Forward', mapping: 'ext@else.net' }],
        [`old@${d}`]: [{ type: 'Forward', mapping: `new@${d}` }],
      });
      expect((await call('GET', `/quota/users/new@${d}`)).body).toMatchObject({ user: { count: 100, size: 5_000 } });
      expect((await call('HEAD', `/users/old@${d}`)).status).toBe(200);
    });

    test('fails a third rename between the same users at the forward step', async () => {
      const d = uniqueDomain();
      await withUsers(call, `old@${d}`, `new@${d}`);
      for (const expected of ['completed', 'completed', 'failed']) {
        const taskId = await renameTask(call, `old@${d}`, `new@${d}`);
        const report = (await call('GET', `/tasks/${taskId}/await`)).body as { status: string; additionalInformation: { status: object } };
        expect(report.status).toBe(expected);
        if (expected === 'failed') {
          expect(report.additionalInformation.status).toMatchObject({ ForwardUsernameChangeTaskStep: 'FAILED', MailboxUsernameChangeTaskStep: 'ABORTED' });
        }
      }
    });

    test('lists tasks by status and refuses bad or unknown task ids', async () => {
      const d = uniqueDomain();
      await withUsers(call, `old@${d}`, `new@${d}`);
      const taskId = await renameTask(call, `old@${d}`, `new@${d}`);
      await call('GET', `/tasks/${taskId}/await`);
      expect((await call('GET', '/tasks?status=completed')).body).toEqual(expect.arrayContaining([expect.objectContaining({ taskId, status: 'completed' })]));
      expect((await call('GET', '/tasks?status=failed')).body).not.toEqual(expect.arrayContaining([expect.objectContaining({ taskId })]));
      expect((await call('GET', '/tasks?status=done')).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid status query parameter', "Unknown status value 'done'"));
      expect((await call('GET', '/tasks/not-a-uuid')).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid task id', 'Invalid UUID string: not-a-uuid'));
      const unknown = '4f9c6a0e-0000-4000-8000-000000000000';
      expect((await call('GET', `/tasks/${unknown}`)).body).toEqual(jamesError(404, 'notFound', `${unknown} can not be found`));
      expect((await call('GET', `/tasks/${unknown}/await`)).body).toEqual(jamesError(404, 'ServerError', 'The taskId is not found'));
      expect((await call('DELETE', `/tasks/${unknown}`)).status).toBe(204);
      expect((await call('GET', `/tasks/${taskId}/await?timeout=-1`)).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid timeout',
        'Duration amount should be positive'));
      expect((await call('GET', `/tasks/${taskId}/await?timeout=soon`)).body).toEqual(jamesError(400, 'InvalidArgument', 'Invalid timeout',
        'Supplied value do not follow the unit format (number optionally suffixed with a string representing the unit'));
    });
  });

  describe('quotas', () => {
    /** The global quota is shared by every test on the server: each test that sets it unsets it again. */
    const unsetGlobalQuota = async (): Promise<void> => {
      await call('DELETE', '/quota/count');
      await call('DELETE', '/quota/size');
    };

    test('needs an existing user for user quotas', async () => {
      const d = uniqueDomain();
      await call('PUT', `/domains/${d}`);
      expect((await call('GET', `/quota/users/ghost@${d}`)).body).toEqual(jamesError(404, 'notFound', 'User not found'));
      expect((await call('PUT', `/quota/users/ghost@${d}/size`, { body: '10' })).status).toBe(404);
    });

    test('resolves each field from the user, then the domain, then the global limit', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      expect((await call('GET', `/quota/users/bob@${d}`)).body).toEqual({
        global: null, domain: null, user: null, computed: { count: null, size: null },
        occupation: { size: 0, count: 0, ratio: { size: 0, count: 0, max: 0 } },
      });
      try {
        expect((await call('PUT', '/quota', { body: { count: 1_000, size: 1_000_000 } })).status).toBe(204);
        expect((await call('PUT', `/quota/domains/${d}/count`, { body: '100' })).status).toBe(204);
        expect((await call('PUT', `/quota/users/bob@${d}/count`, { body: '10' })).status).toBe(204);
        expect((await call('GET', `/quota/users/bob@${d}`)).body).toMatchObject({
          global: { count: 1_000, size: 1_000_000 },
          domain: { count: 100, size: null },
          user: { count: 10, size: null },
          computed: { count: 10, size: 1_000_000 },
        });
        expect((await call('GET', `/quota/domains/${d}`)).body).toEqual({
          global: { count: 1_000, size: 1_000_000 }, domain: { count: 100, size: null }, computed: { count: 100, size: 1_000_000 },
        });
        expect((await call('GET', '/quota')).body).toEqual({ count: 1_000, size: 1_000_000 });
        // A user's /size is the resolved limit (here the global one); the domain's /size is its own, unset: 204.
        expect((await call('GET', `/quota/users/bob@${d}/size`)).body).toBe(1_000_000);
        expect((await call('GET', `/quota/domains/${d}/size`)).status).toBe(204);
      } finally {
        await unsetGlobalQuota();
      }
    });

    test('takes -1 as unlimited, null or an absent field as unset, and refuses other negatives', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      expect((await call('PUT', `/quota/users/bob@${d}`, { body: { count: -1, size: 5_000 } })).status).toBe(204);
      expect((await call('GET', `/quota/users/bob@${d}`)).body).toMatchObject({ user: { count: -1, size: 5_000 } });
      expect((await call('PUT', `/quota/users/bob@${d}`, { body: { size: 7 } })).status).toBe(204);
      expect((await call('GET', `/quota/users/bob@${d}`)).body).toMatchObject({ user: { count: null, size: 7 } });
      const negative = await call('PUT', `/quota/users/bob@${d}`, { body: { count: -2 } });
      expect(negative.status).toBe(400);
      expect(negative.body).toMatchObject({ message: 'Invalid quota. Need to be an integer value greater or equal to -1' });
      expect((await call('PUT', `/quota/domains/${d}/count`, { body: '1.5' })).status).toBe(400);
      expect((await call('PUT', `/quota/domains/${d}/count`, { body: '-2' })).status).toBe(400);
      expect((await call('PUT', `/quota/domains/${d}/count`, { body: '99999999999999999999' })).body).toEqual(jamesError(400, 'InvalidArgument',
        'Invalid quota. Need to be an integer value greater or equal to -1', 'For input string: "99999999999999999999"'));
      expect((await call('GET', `/quota/domains/${d}/count`)).status).toBe(204);
      // Jackson coerces JSON numbers and numeric strings.
      expect((await call('PUT', `/quota/domains/${d}`, { body: { count: 1.5, size: '12' } })).status).toBe(204);
      expect((await call('GET', `/quota/domains/${d}`)).body).toMatchObject({ domain: { count: 1, size: 12 } });
      expect((await call('DELETE', `/quota/domains/${d}/count`)).status).toBe(204);
      expect((await call('GET', `/quota/domains/${d}/count`)).status).toBe(204);
    });

    test('writes an occupation ratio it cannot compute, under a zero limit, as the string NaN', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      expect((await call('PUT', `/quota/users/bob@${d}/size`, { body: '0' })).status).toBe(204);
      expect((await call('GET', `/quota/users/bob@${d}`)).body).toMatchObject({
        user: { count: null, size: 0 },
        occupation: { size: 0, count: 0, ratio: { size: 'NaN', count: 0, max: 'NaN' } },
      });
    });

    test('lists the users of a domain alphabetically with their details, by offset and limit', async () => {
      const [d, other] = [uniqueDomain(), uniqueDomain('other')];
      await withUsers(call, `carl@${d}`, `amy@${d}`, `bob@${d}`, `dan@${other}`);
      const all = (await call('GET', `/quota/users?domain=${d}`)).body as { username: string }[];
      expect(all.map((entry) => entry.username)).toEqual([`amy@${d}`, `bob@${d}`, `carl@${d}`]);
      expect((await call('GET', `/quota/users?domain=${d}&offset=1&limit=1`)).body).toEqual([{
        username: `bob@${d}`,
        detail: {
          global: null, domain: null, user: null, computed: { count: null, size: null },
          occupation: { size: 0, count: 0, ratio: { size: 0, count: 0, max: 0 } },
        },
      }]);
      expect((await call('GET', '/quota/users?limit=0')).body).toEqual(jamesError(400, 'InvalidArgument', 'limit can not be equal to zero'));
    });

    test('needs an existing domain for domain quotas', async () => {
      expect((await call('GET', `/quota/domains/${uniqueDomain('nope')}`)).body).toEqual(jamesError(404, 'notFound', 'Domain not found'));
    });
  });

  describe('address mappings', () => {
    test('lists every alias, group, forward and domain alias in one /mappings call', async () => {
      const [d, alt] = [uniqueDomain(), uniqueDomain('alias')];
      await withUsers(call, `bob@${d}`);
      await call('PUT', `/domains/${alt}`);
      await call('PUT', `/address/aliases/bob@${d}/sources/robert@${d}`);
      await call('PUT', `/address/groups/team@${d}/bob@${d}`);
      await call('PUT', `/address/groups/team@${d}/ext@else.net`);
      await call('PUT', `/address/forwards/bob@${d}/targets/bob@${d}`);
      await call('PUT', `/address/forwards/bob@${d}/targets/ext@else.net`);
      await call('PUT', `/domains/${d}/aliases/${alt}`);
      expect(mappingsOf((await call('GET', '/mappings')).body, d, alt)).toEqual({
        [`robert@${d}`]: [{ type: 'Alias', mapping: `bob@${d}` }],
        [`team@${d}`]: [{ type: 'Group', mapping: `bob@${d}` }, { type: 'Group', mapping: 'ext@else.net' }],
        [`bob@${d}`]: [{ type: 'Forward', mapping: `bob@${d}` }, { type: 'Forward', mapping: 'ext@else.net' }],
        [alt]: [{ type: 'DomainAlias', mapping: d }],
      });
      expect((await call('GET', `/mappings/user/bob@${d}`)).body).toEqual([
        { type: 'Forward', mapping: `bob@${d}` }, { type: 'Forward', mapping: 'ext@else.net' },
      ]);
      expect((await call('GET', '/address/aliases')).body).toContain(`bob@${d}`);
      expect((await call('GET', `/address/aliases/bob@${d}`)).body).toEqual([{ source: `robert@${d}` }]);
      expect((await call('GET', '/address/forwards')).body).toContain(`bob@${d}`);
      expect((await call('GET', `/address/forwards/bob@${d}`)).body).toEqual([
        { mailAddress: `bob@${d}` }, { mailAddress: 'ext@else.net' },
      ]);
      expect((await call('GET', '/address/groups')).body).toContain(`team@${d}`);
    });

    test('refuses aliases that loop, leave the managed domains or point at themselves', async () => {
      const [d, unknown] = [uniqueDomain(), uniqueDomain('unknown')];
      await withUsers(call, `bob@${d}`, `amy@${d}`);
      expect((await call('PUT', `/address/aliases/bob@${d}/sources/b@${d}`)).status).toBe(204);
      const loop = await call('PUT', `/address/aliases/b@${d}/sources/bob@${d}`);
      expect(loop.status).toBe(409);
      expect(loop.body).toEqual(jamesError(409, 'WrongState',
        `Creation of redirection of bob@${d} to alias:b@${d} would lead to a loop, operation not performed`));
      const foreign = await call('PUT', `/address/aliases/bob@${d}/sources/x@${unknown}`);
      expect(foreign.body).toEqual(jamesError(400, 'InvalidArgument', `Source domain '${unknown}' is not managed by the domainList`));
      const same = await call('PUT', `/address/aliases/bob@${d}/sources/bob@${d}`);
      expect(same.body).toEqual(jamesError(400, 'InvalidArgument', "Source and destination can't be the same!"));
      // The rewrite table only checks mappings: an existing user may become an alias source …
      expect((await call('PUT', `/address/aliases/bob@${d}/sources/amy@${d}`)).status).toBe(204);
      // … but an address that is already a group cannot.
      await call('PUT', `/address/groups/team@${d}/amy@${d}`);
      const group = await call('PUT', `/address/aliases/bob@${d}/sources/team@${d}`);
      expect(group.body).toEqual(jamesError(409, 'WrongState', `'team@${d}' already have associated mappings: group:amy@${d}`));
    });

    test('refuses a + in an alias source, which James URL-decodes a second time into a space', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      const answer = await call('PUT', `/address/aliases/bob@${d}/sources/tag%2Bbob@${d}`);
      expect(answer.body).toEqual(jamesError(400, 'InvalidArgument', 'The alias is not an email address',
        `Invalid character in local-part (user account) at position 4 in 'tag bob@${d}'`));
    });

    test('needs an existing user as the base of a forward', async () => {
      const d = uniqueDomain();
      await call('PUT', `/domains/${d}`);
      const answer = await call('PUT', `/address/forwards/ghost@${d}/targets/ext@else.net`);
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual(jamesError(404, 'InvalidArgument', 'Requested base forward address does not correspond to a user'));
      expect((await call('GET', `/address/forwards/ghost@${d}`)).body).toEqual(jamesError(404, 'InvalidArgument', 'The forward does not exist'));
    });

    test('creates a group with its first member and removes it with its last', async () => {
      const [d, unknown] = [uniqueDomain(), uniqueDomain('unknown')];
      await withUsers(call, `bob@${d}`);
      expect((await call('GET', `/address/groups/team@${d}`)).body).toEqual(jamesError(404, 'InvalidArgument', 'The group does not exist'));
      expect((await call('PUT', `/address/groups/team@${d}/bob@${d}`)).status).toBe(204);
      expect((await call('PUT', `/address/groups/team@${d}/ext@else.net`)).status).toBe(204);
      expect((await call('GET', `/address/groups/team@${d}`)).body).toEqual([`bob@${d}`, 'ext@else.net']);
      await call('DELETE', `/address/groups/team@${d}/bob@${d}`);
      await call('DELETE', `/address/groups/team@${d}/ext@else.net`);
      expect((await call('GET', `/address/groups/team@${d}`)).status).toBe(404);
      expect((await call('GET', '/address/groups')).body).not.toContain(`team@${d}`);
      const foreign = await call('PUT', `/address/groups/team@${unknown}/bob@${d}`);
      expect(foreign.body).toEqual(jamesError(400, 'InvalidArgument', `Source domain '${unknown}' is not managed by the domainList`));
    });

    test('refuses a group address that already holds other mappings, and a user named like a group', async () => {
      const d = uniqueDomain();
      await withUsers(call, `bob@${d}`);
      await call('PUT', `/address/forwards/bob@${d}/targets/ext@else.net`);
      const shadow = await call('PUT', `/address/groups/bob@${d}/ext@else.net`);
      expect(shadow.body).toEqual(jamesError(409, 'WrongState', `'bob@${d}' already have associated mappings: forward:ext@else.net`));
      await call('PUT', `/address/groups/team@${d}/bob@${d}`);
      const user = await call('PUT', `/users/team@${d}`, { body: { password: 'x' } });
      expect(user.status).toBe(409);
      expect(user.body).toMatchObject({ message: `'team@${d}' already have associated mappings: group:bob@${d}` });
    });
  });

  describe('authentication (JWT, as 3.8)', () => {
    test('wants a bearer token that verifies, with plain-text 401 bodies', async () => {
      const anonymous = new RawJames(james.target.url);
      const missing = await anonymous.request('GET', '/domains');
      expect([missing.status, missing.text]).toEqual([401, 'No Bearer header.']);
      const garbage = await anonymous.request('GET', '/domains', { headers: { authorization: 'Bearer not-a-jwt' } });
      expect([garbage.status, garbage.text]).toEqual([401, 'Invalid Bearer header.']);
      const other = await generateKeyPair('RS256');
      const forged = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'RS256' }).setSubject('x').sign(other.privateKey);
      const d = uniqueDomain('evil');
      const refused = await anonymous.request('PUT', `/domains/${d}`, { headers: { authorization: `Bearer ${forged}` } });
      expect([refused.status, refused.text]).toEqual([401, 'Invalid Bearer header.']);
      expect((await call('GET', `/domains/${d}`)).status).toBe(404);
    });

    test('never asks credentials for health checks, nor for paths outside the private routes', async () => {
      const anonymous = new RawJames(james.target.url);
      expect((await anonymous.request('GET', '/healthcheck')).body).toMatchObject({ status: 'healthy' });
      expect((await anonymous.request('GET', '/nothing')).status).toBe(404);
      expect((await anonymous.request('POST', '/users/bob@example.org?action=deleteData')).status).toBe(401);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The emulator alone: its options, test hooks and framework features.

const emulators: JamesEmulator[] = [];
async function james(options: JamesEmulatorOptions = {}): Promise<{ emulator: JamesEmulator; call: Call }> {
  const emulator = await startJamesEmulator(options);
  emulators.push(emulator);
  const raw = new RawJames(emulator.url);
  return { emulator, call: (method, path, callOptions) => raw.request(method, path, callOptions) };
}
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

describe('James emulator: options and test hooks', () => {
  it('starts with the configured default domain only, and shows its state', async () => {
    const { call, emulator } = await james({ defaultDomain: 'mail.test' });
    expect((await call('GET', '/domains')).body).toEqual(['mail.test']);
    await call('PUT', '/domains/example.org');
    expect(emulator.state.domains).toEqual(['mail.test', 'example.org']);
  });

  it('moves delivered messages with their mailboxes, and counts them in the occupation', async () => {
    const { call, emulator } = await james({ taskDurationMs: 30 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    await call('PUT', '/quota/size', { body: '1000' });
    emulator.deliverMessage('old@example.org', 'INBOX', 900);
    expect((await call('GET', '/quota/users?minOccupationRatio=0.8')).body).toEqual([{
      username: 'old@example.org',
      detail: {
        global: { count: null, size: 1_000 }, domain: null, user: null, computed: { count: null, size: 1_000 },
        occupation: { size: 900, count: 1, ratio: { size: 0.9, count: 0, max: 0.9 } },
      },
    }]);
    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    await call('GET', `/tasks/${taskId}/await`);
    expect((await call('GET', '/users/new@example.org/mailboxes/INBOX/messageCount')).body).toBe(1);
    expect(emulator.state.mailboxes).toEqual({ 'new@example.org': [{ name: 'INBOX', id: '1', messageCount: 1, size: 900 }] });
  });
});

describe('James emulator: task timing', () => {
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
  });

  it('cancels a running task: canceledRequested, then canceled; what the current step did stays done', async () => {
    const { call, emulator } = await james({ taskDurationMs: 60_000 });
    await withUsers(call, 'old@example.org', 'new@example.org');
    await call('PUT', '/users/old@example.org/mailboxes/INBOX');
    await call('PUT', '/address/forwards/old@example.org/targets/ext@else.net');
    const taskId = await renameTask(call, 'old@example.org', 'new@example.org');
    await expect.poll(async () => ((await call('GET', `/tasks/${taskId}`)).body as { status: string }).status).toBe('inProgress');
    expect((await call('DELETE', `/tasks/${taskId}`)).status).toBe(204);
    const report = await call('GET', `/tasks/${taskId}/await?timeout=10s`);
    expect(report.body).toMatchObject({
      status: 'canceled',
      cancelledFrom: expect.any(String),
      additionalInformation: { status: { ForwardUsernameChangeTaskStep: 'IN_PROGRESS', MailboxUsernameChangeTaskStep: 'WAITING' } },
    });
    expect(Object.keys(report.body as object)).toContain('canceledDate');
    expect(emulator.state.tasks[0]?.statusHistory).toEqual(['waiting', 'inProgress', 'canceledRequested', 'canceled']);
    // The forward step had moved the one forward before the cancel; the mailbox step never ran.
    expect(emulator.state.mappings['new@example.org']).toEqual([{ type: 'Forward', mapping: 'ext@else.net' }]);
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

describe('James emulator: other authentication setups', () => {
  it('refuses a verified JWT without the admin claim', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const { call } = await james({ jwtPublicKey: await exportSPKI(publicKey) });
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setSubject('admin@mailops.test').setIssuedAt().sign(privateKey);
    const notAdmin = await call('GET', '/domains', { headers: { authorization: `Bearer ${await sign({ admin: false })}` } });
    expect([notAdmin.status, notAdmin.text]).toEqual([401, 'Non authorized user.']);
    expect((await call('GET', '/domains', { headers: { authorization: `Bearer ${await sign({ admin: true })}` } })).body).toEqual(['localhost']);
  });

  it('checks a static password as James 3.9 does, in a Password header or as a bearer', async () => {
    const { call } = await james({ password: 'first,second' });
    expect((await call('GET', '/domains')).text).toBe('No Password in header.');
    expect((await call('GET', '/domains', { headers: { password: 'wrong' } })).text).toBe('Wrong password.');
    expect((await call('GET', '/domains', { headers: { password: 'second' } })).status).toBe(200);
    expect((await call('GET', '/domains', { headers: { authorization: 'Bearer first' } })).status).toBe(200);
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

  it('applies the request and then drops the connection for lost faults', async () => {
    const { emulator } = await james({ failureRate: 1, failureMode: 'lost' });
    await expect(request(`${emulator.url}/domains/example.org`, { method: 'PUT' })).rejects.toThrow();
    expect(emulator.state.domains).toEqual(['localhost', 'example.org']);
    expect(emulator.requestLog).toEqual([{ method: 'PUT', path: '/domains/example.org', query: '', status: 0, fault: 'lost' }]);
  });

  it('mailops emulate james --fail-mode lost: every write is applied, whether or not its answer arrived', async () => {
    const options = { failureRate: 0.5, failureMode: 'lost' as const, seed: 2 };
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'james',
      '--fail-rate', String(options.failureRate), '--fail-mode', options.failureMode, '--seed', String(options.seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [readyLine] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const url = readyLine.split(' ')[1] ?? '';
      // The same seed gives the same faults: request n is lost exactly when the plan says so.
      const nextFault = createFaultPlan(options);
      const domains = ['a.test', 'b.test', 'c.test', 'd.test', 'e.test', 'f.test'];
      const answered: boolean[] = [];
      for (const domain of domains) {
        answered.push(await request(`${url}/domains/${domain}`, { method: 'PUT' }).then(() => true, () => false));
        expect(answered.at(-1)).toBe(nextFault() === null);
      }
      expect(new Set(answered)).toEqual(new Set([true, false]));
      while (nextFault() !== null) await request(`${url}/domains`).catch(() => undefined);
      const listed = await request(`${url}/domains`);
      expect(await listed.body.json()).toEqual(['localhost', ...domains]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
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
