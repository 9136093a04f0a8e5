// The Open-Xchange client against its emulator: every SOAP operation the reconciler uses, every kind of fault,
// refused credentials, the WSDL's port, and the REST calls (health, sessions, mail resolver).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isBackendError } from '../../../src/engine/adapter.ts';
import { OXFault, faultKind } from '../../../src/backends/openxchange/soap.ts';
import { clientFor, CONTEXT_ADMIN, createContext, createUser, MASTER, useEmulators, usingClient } from './support.ts';

const emulators = useEmulators();

/** The error a call fails with. */
async function failure(call: Promise<unknown>): Promise<OXFault> {
  try {
    await call;
  } catch (error) {
    return error as OXFault;
  }
  throw new Error('the call succeeded');
}

describe('OXContextService', () => {
  it('creates, reads, lists, changes, disables, enables and deletes contexts', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const created = await client.createContext({ id: 5, name: 'example.com', maxQuota: 2048, loginMappings: ['example.com', 'example.net'] }, {
        name: 'oxadmin', displayName: 'Admin', givenName: 'Context', surName: 'Admin', password: CONTEXT_ADMIN.password, primaryEmail: 'oxadmin@example.com', email1: 'oxadmin@example.com',
      });
      expect(created).toEqual({ id: 5, name: 'example.com', enabled: true, maxQuota: 2048, usedQuota: 0, loginMappings: ['5', 'example.com', 'example.net'] });
      expect(await client.getContext(5)).toEqual(created);
      expect(await client.contextExists({ id: 5 })).toBe(true);
      expect(await client.contextExists({ name: 'example.com' })).toBe(true);
      expect(await client.contextExists({ id: 6 })).toBe(false);

      await client.changeContext({ id: 5, maxQuota: 4096, loginMappings: ['example.com'] });
      await client.disableContext(5);
      expect(await client.listAllContexts()).toEqual([{ ...created, maxQuota: 4096, enabled: false, loginMappings: ['5', 'example.com'] }]);
      await client.enableContext(5);
      expect((await client.listContexts('example.*')).map((c) => [c.id, c.enabled])).toEqual([[5, true]]);
      expect(await client.listContexts('nothing*')).toEqual([]);

      await client.changeContextQuota(5, 'infostore', 100);
      expect(ox.contexts[0]!.moduleQuotas).toEqual({ infostore: 100 });

      // The next free id when none is asked for.
      const second = await createContext(client, 'example.org');
      expect(second).toBe(6);
      await client.deleteContext(5);
      expect((await client.listAllContexts()).map((c) => c.id)).toEqual([6]);
    });
  });

  it('answers a missing context, a taken id or mapping, and bad data with faults of their kind', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      await createContext(client, 'example.com', 5);
      const missing = await failure(client.getContext(9));
      expect(missing).toMatchObject({ kind: 'NotFound', exception: 'NoSuchContextException', message: 'OXContextService.getData: NoSuchContextException: Context 9 does not exist' });
      expect(await failure(createContext(client, 'example.org', 5))).toMatchObject({ kind: 'Conflict', exception: 'ContextExistsException', faultString: 'Context 5 already exists!' });
      expect(await failure(createContext(client, 'example.com'))).toMatchObject({ kind: 'Conflict', exception: 'ContextExistsException' });
      const incomplete = await failure(client.createContext({ name: 'example.org', maxQuota: 10 }, { name: 'oxadmin', password: 'x' }));
      expect(incomplete).toMatchObject({ kind: 'Invalid', exception: 'InvalidDataException', faultString: 'Mandatory fields in admin_user not set: display_name, given_name, sur_name, primaryEmail, email1' });
      expect(await failure(client.changeContextQuota(5, 'spaceships', 1))).toMatchObject({ kind: 'Invalid' });
    });
  });

  it('refuses a wrong master password with InvalidCredentialsException: Unauthorized', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      expect(await failure(client.listAllContexts())).toMatchObject({ kind: 'Unauthorized', exception: 'InvalidCredentialsException', message: 'OXContextService.listAll: InvalidCredentialsException: Authentication failed' });
    }, { master: { login: MASTER.login, password: 'wrong' } });
  });
});

describe('OXUserService', () => {
  it('creates, reads (one, many), lists, changes only what is sent, and deletes users', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const contextId = await createContext(client, 'example.com');
      const alice = await client.createUser(contextId, {
        name: 'alice', displayName: 'Ada Lovelace', givenName: 'Ada', surName: 'Lovelace', password: 'Alice-S3cret!',
        primaryEmail: 'alice@example.com', email1: 'alice@example.com', aliases: ['alice@example.com', 'ada@example.com'], maxQuota: 1024, language: 'de_DE',
      });
      expect(alice).toEqual({
        id: 3, name: 'alice', displayName: 'Ada Lovelace', givenName: 'Ada', surName: 'Lovelace', primaryEmail: 'alice@example.com', email1: 'alice@example.com',
        aliases: ['alice@example.com', 'ada@example.com'], mailEnabled: true, maxQuota: 1024, language: 'de_DE', timezone: 'Europe/Berlin',
      });
      // OX puts the primary address among the aliases when a create leaves it out.
      const bob = await createUser(client, contextId, 'bob@example.com');
      expect(bob.aliases).toEqual(['bob@example.com']);

      expect(await client.getUser(contextId, { name: 'alice' })).toEqual(alice);
      expect(await client.listAllUsers(contextId)).toEqual([2, 3, 4]);
      expect(await client.listUsers(contextId, 'b*')).toEqual([4]);
      expect((await client.getUsers(contextId, [{ id: 3 }, { name: 'bob' }])).map((u) => u.name)).toEqual(['alice', 'bob']);
      expect(await client.userExists(contextId, { name: 'alice' })).toBe(true);
      expect(await client.userExists(contextId, { id: 99 })).toBe(false);

      await client.changeUser(contextId, { id: 3, mailEnabled: false, maxQuota: -1 });
      expect(await client.getUser(contextId, { id: 3 })).toEqual({ ...alice, mailEnabled: false, maxQuota: -1 });
      await client.changeUser(contextId, { name: 'alice', password: 'Another-S3cret!' });
      expect(ox.passwordMatches(contextId, 'alice', 'Another-S3cret!')).toBe(true);

      await client.deleteUser(contextId, { id: 4 });
      expect(await client.listAllUsers(contextId)).toEqual([2, 3]);
    });
  });

  it('answers every failure with a fault of its kind', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const contextId = await createContext(client, 'example.com');
      await createUser(client, contextId, 'alice@example.com');
      // Not found: by the exception's name, or by the fault string of a wrapped NoSuchObjectException.
      expect(await failure(client.getUser(contextId, { name: 'bob' }))).toMatchObject({ kind: 'NotFound', exception: 'NoSuchUserException', faultString: 'No such user bob in context 1' });
      expect(await failure(client.getUsers(contextId, [{ id: 3 }, { id: 17 }]))).toMatchObject({
        kind: 'NotFound', exception: 'RemoteException', faultString: 'com.openexchange.admin.rmi.exceptions.NoSuchObjectException: No such user 17 in context 1',
      });
      expect(await failure(client.listAllUsers(9))).toMatchObject({ kind: 'NotFound', faultString: 'Context 9 does not exist' });
      // Invalid data, and the conflicts among them.
      expect(await failure(createUser(client, contextId, 'alice@example.com'))).toMatchObject({ kind: 'Conflict', exception: 'InvalidDataException', faultString: 'User alice already exists in this context' });
      expect(await failure(createUser(client, contextId, 'ann@example.com', { aliases: ['alice@example.com'] }))).toMatchObject({ kind: 'Conflict', exception: 'InvalidDataException' });
      expect(await failure(createUser(client, contextId, 'carl@example.com', { email1: 'other@example.com' }))).toMatchObject({ kind: 'Invalid', faultString: 'primarymail must have the same value as email1' });
      expect(await failure(client.changeUser(contextId, { name: 'alice', aliases: ['a@example.com'] }))).toMatchObject({ kind: 'Invalid', faultString: 'The primary mail address alice@example.com must be one of the aliases' });
      expect(await failure(client.deleteUser(contextId, { id: 2 }))).toMatchObject({ kind: 'Invalid', faultString: 'The admin of a context cannot be deleted' });
      // The context admin's credentials, not the master admin's.
      const master = clientFor(ox.url, { contextAdmin: MASTER });
      try {
        expect(await failure(master.listAllUsers(contextId))).toMatchObject({ kind: 'Unauthorized', exception: 'InvalidCredentialsException' });
      } finally {
        await master.close();
      }
    });
  });

  it('retries a StorageException where the call is safe to repeat, and only there', async () => {
    // One StorageException, then the real answer: a read is repeated, a create is not.
    const ox = await emulators.openxchange();
    let failNext = 0;
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (failNext > 0) {
        failNext -= 1;
        response.writeHead(500, { 'content-type': 'text/xml' }).end(
          '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>soapenv:Server</faultcode>' +
            '<faultstring>Database for context 1 is not available</faultstring><detail><ns:StorageException xmlns:ns="http://soap.admin.openexchange.com"/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>',
        );
        return;
      }
      const answer = await fetch(`${ox.url}${request.url}`, { method: request.method, headers: request.headers as Record<string, string>, body: Buffer.concat(chunks) });
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/xml' }).end(await answer.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      await usingClient(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, async (client) => {
        failNext = 1;
        expect(await client.listAllContexts()).toEqual([]);
        failNext = 1;
        const refused = await failure(createContext(client, 'example.com'));
        expect(refused).toMatchObject({ kind: 'Unavailable', exception: 'StorageException', faultString: 'Database for context 1 is not available' });
        expect(ox.contexts).toEqual([]);
      }, {}, { retries: 2, retryMinDelayMs: 1, retryMaxDelayMs: 5 });
    } finally {
      proxy.close();
    }
  });
});

describe('faults', () => {
  it('are read from the exception name, or, where that says nothing, from the fault string', () => {
    expect(faultKind('NoSuchContextException', 'whatever')).toBe('NotFound');
    expect(faultKind('RemoteException', 'com.openexchange.admin.rmi.exceptions.NoSuchObjectException: gone')).toBe('NotFound');
    expect(faultKind('Fault', 'No such user 5 in context 1')).toBe('NotFound');
    expect(faultKind('Fault', 'Context 12 does not exist')).toBe('NotFound');
    expect(faultKind('InvalidCredentialsException', 'Authentication failed')).toBe('Unauthorized');
    expect(faultKind('InvalidDataException', 'Display name is too long')).toBe('Invalid');
    expect(faultKind('InvalidDataException', 'User bob already exists in this context')).toBe('Conflict');
    expect(faultKind('StorageException', 'Database is down')).toBe('Unavailable');
  });
});

describe('the WSDL', () => {
  it('advertises port 80 whatever the server listens on; the client calls the configured URL all the same', async () => {
    const ox = await emulators.openxchange();
    for (const service of ['OXContextService', 'OXUserService']) {
      const wsdl = await (await fetch(`${ox.url}/webservices/${service}?wsdl`)).text();
      expect(wsdl).toContain(`<soap:address location="http://127.0.0.1:80/webservices/${service}.${service}HttpSoap11Endpoint/"`);
      expect(wsdl).toContain('<soap:operation soapAction="urn:listAll" style="document"');
    }
    expect(new URL(ox.url).port).not.toBe('80');
    await usingClient(ox.url, async (client) => {
      await createContext(client, 'example.com');
      expect(await client.listAllUsers(1)).toEqual([2]);
    });
    expect(ox.requestLog.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/webservices/OXContextService', '/webservices/OXUserService']);
  });
});

describe('the REST admin API', () => {
  it('reports health UP, and DOWN with the failing checks (answered 503, not retried as a failure)', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      expect(await client.health()).toMatchObject({ status: 'UP' });
      ox.setHealthCheck('hazelcast', 'DOWN');
      const before = ox.requestLog.length;
      const health = await client.health();
      expect(health.status).toBe('DOWN');
      expect(health.checks.filter((c) => c.status === 'DOWN').map((c) => c.name)).toEqual(['hazelcast']);
      expect(ox.requestLog.slice(before).map((r) => r.status)).toEqual([503]);
    }, {}, { retries: 3 });
  });

  it('closes sessions by user and by context as the master admin', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const one = await createContext(client, 'example.com');
      const two = await createContext(client, 'example.org');
      await createUser(client, one, 'alice@example.com');
      await createUser(client, one, 'bob@example.com');
      await createUser(client, two, 'carol@example.org');
      ox.login(one, 'alice');
      ox.login(one, 'alice');
      const bob = ox.login(one, 'bob');
      const carol = ox.login(two, 'carol');
      await client.closeUserSessions([{ contextId: one, userId: 3 }]);
      expect(ox.sessions.map((s) => s.id).sort()).toEqual([bob, carol].sort());
      expect(await client.closeContextSessions([two])).toEqual([carol]);
      expect(ox.sessions.map((s) => s.id)).toEqual([bob]);
      const wrong = clientFor(ox.url, { master: { login: MASTER.login, password: 'wrong' } });
      const refused = await failure(wrong.closeUserSessions([{ contextId: one, userId: 4 }])).finally(() => wrong.close());
      expect(refused).toMatchObject({ kind: 'Unauthorized', status: 401 });
      expect(ox.sessions.map((s) => s.id)).toEqual([bob]);
    });
  });

  it('resolves many addresses in one request; unknown ones are left out', async () => {
    const ox = await emulators.openxchange();
    await usingClient(ox.url, async (client) => {
      const one = await createContext(client, 'example.com');
      await createUser(client, one, 'alice@example.com', { aliases: ['alice@example.com', 'ada@example.com'] });
      const before = ox.requestLog.length;
      const resolved = await client.resolveAddresses(['alice@example.com', 'ADA@example.com', 'nobody@example.com']);
      expect(Object.fromEntries(resolved)).toEqual({ 'alice@example.com': { userId: 3, contextId: 1 }, 'ada@example.com': { userId: 3, contextId: 1 } });
      expect(ox.requestLog.length - before).toBe(1);
    });
  });

  it('names the REST login that was refused and the URL that is not the REST API', async () => {
    const ox = await emulators.openxchange({ restUser: 'rest', restPassword: 'Rest-S3cret!' });
    const client = clientFor(ox.url);
    const right = clientFor(ox.url, { rest: { login: 'rest', password: 'Rest-S3cret!' } });
    try {
      const refused = await failure(client.health());
      expect(isBackendError(refused, 'Unauthorized')).toBe(true);
      expect(refused.message).toBe('GET /health: 401, the REST API refused its basic-auth login (spec.openxchange.restCredentials, else the master admin)');
      expect(await right.health()).toMatchObject({ status: 'UP' });
    } finally {
      await Promise.all([client.close(), right.close()]);
    }
    const wrong = clientFor(ox.url, {}, {});
    try {
      const soapAtRest = await failure(wrong.soap.call({ method: 'POST', path: '/webservices/OXNoSuchService', body: { type: 'raw', text: '<x/>', contentType: 'text/xml', headers: { soapaction: '"urn:listAll"' } } }));
      expect(soapAtRest.message).toBe('OXNoSuchService.listAll: 404, no such service; is spec.url the Open-Xchange server, with its SOAP provisioning services under /webservices/?');
    } finally {
      await wrong.close();
    }
  });
});
