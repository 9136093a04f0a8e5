// The Open-Xchange emulator as a client sees it on the wire (shared/backends/openxchange.md and the REST seed), and
// `mailops emulate openxchange` as a person starts it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { ROOT, mailops } from '../../support/cli.ts';
import { MASTER, useEmulators } from './support.ts';

const emulators = useEmulators();
const reader = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function envelope(operation: string, content: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ox="http://soap.admin.openexchange.com"
    xmlns:xsd="http://dataobjects.soap.admin.openexchange.com/xsd" xmlns:rmi="http://dataobjects.rmi.admin.openexchange.com/xsd">
  <soapenv:Body><ox:${operation}>${content}</ox:${operation}></soapenv:Body>
</soapenv:Envelope>`;
}

async function soap(url: string, service: string, operation: string, content: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const response = await fetch(`${url}/webservices/${service}`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"urn:${operation}"` }, body: envelope(operation, content) });
  const text = await response.text();
  return { status: response.status, text, body: (reader.parse(text) as { Envelope: { Body: Record<string, unknown> } }).Envelope.Body };
}

const masterAuth = `<ox:auth><rmi:login>${MASTER.login}</rmi:login><rmi:password>${MASTER.password}</rmi:password></ox:auth>`;

describe('the Open-Xchange emulator: SOAP', () => {
  it('answers in the response element with the data objects in their namespace, faults on HTTP 500 with the exception in the detail', async () => {
    const ox = await emulators.openxchange();
    const listed = await soap(ox.url, 'OXContextService', 'listAll', masterAuth);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({ listAllResponse: '' });

    const missing = await soap(ox.url, 'OXContextService', 'getData', `<ox:ctx><xsd:id>4</xsd:id></ox:ctx>${masterAuth}`);
    expect(missing.status).toBe(500);
    expect(missing.body).toEqual({
      Fault: { faultcode: 'soapenv:Server', faultstring: 'Context 4 does not exist', detail: { NoSuchContextException: { NoSuchContextException: { message: 'Context 4 does not exist' } } } },
    });
    const refused = await soap(ox.url, 'OXContextService', 'listAll', '<ox:auth><rmi:login>oxadminmaster</rmi:login><rmi:password>guess</rmi:password></ox:auth>');
    expect(refused).toMatchObject({ status: 500, body: { Fault: { faultstring: 'Authentication failed', detail: { InvalidCredentialsException: expect.anything() } } } });

    const created = await soap(ox.url, 'OXContextService', 'create', `<ox:ctx><xsd:maxQuota>100</xsd:maxQuota><xsd:name>example.com</xsd:name></ox:ctx>
      <ox:admin_user><xsd:display_name>A</xsd:display_name><xsd:email1>oxadmin@example.com</xsd:email1><xsd:given_name>A</xsd:given_name><xsd:name>oxadmin</xsd:name>
      <xsd:password>pw</xsd:password><xsd:primaryEmail>oxadmin@example.com</xsd:primaryEmail><xsd:sur_name>B</xsd:sur_name></ox:admin_user>${masterAuth}`);
    expect(created.text).toContain('<return xmlns:ax21="http://dataobjects.soap.admin.openexchange.com/xsd"><ax21:enabled>true</ax21:enabled><ax21:id>1</ax21:id>');
  });

  it('answers an unknown operation, a broken envelope and a GET without ?wsdl as a client error', async () => {
    const ox = await emulators.openxchange();
    expect((await soap(ox.url, 'OXUserService', 'explode', '')).body).toMatchObject({ Fault: { faultcode: 'soapenv:Client', faultstring: 'no such operation: explode' } });
    const broken = await fetch(`${ox.url}/webservices/OXUserService`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<soapenv:Envelope><unclosed>' });
    expect(broken.status).toBe(500);
    expect((await fetch(`${ox.url}/webservices/OXUserService`)).status).toBe(400);
  });

  it('fails injected requests as OX does when its database fails: a StorageException', async () => {
    const ox = await emulators.openxchange({ failureRate: 1, seed: 1 });
    const answer = await soap(ox.url, 'OXContextService', 'listAll', masterAuth);
    expect(answer).toMatchObject({ status: 500, body: { Fault: { faultstring: 'fault injected by the emulator', detail: { StorageException: expect.anything() } } } });
  });
});

describe('the Open-Xchange emulator: REST', () => {
  it('asks for Basic credentials with 401, refuses a malformed body with 400 and a message, a wrong path with 404 and a message', async () => {
    const ox = await emulators.openxchange();
    const anonymous = await fetch(`${ox.url}/health`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="OX REST API"');
    const authorization = basic(MASTER.login, MASTER.password);
    const bad = await fetch(`${ox.url}/admin/v1/close-sessions/by-user`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{"users": [{"context": 1}]}' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toBe('Expected a JSON object {"users": [{"contextId": <int>, "userId": <int>}]}');
    const wrong = await fetch(`${ox.url}/admin/v1/close-sessions/by-nothing`, { method: 'POST', headers: { authorization } });
    expect(wrong.status).toBe(404);
    expect(await wrong.text()).toBe('No such path: POST /admin/v1/close-sessions/by-nothing');
  });

  it('reports health DOWN with 503 and the failing check, UP with 200', async () => {
    const ox = await emulators.openxchange({ healthDown: ['configdb'] });
    const headers = { authorization: basic(MASTER.login, MASTER.password) };
    const down = await fetch(`${ox.url}/health`, { headers });
    expect(down.status).toBe(503);
    const document = (await down.json()) as { status: string; checks: Array<{ name: string; status: string }>; service: { version: string } };
    expect(document.status).toBe('DOWN');
    expect(document.checks.filter((c) => c.status === 'DOWN')).toEqual([{ name: 'configdb', status: 'DOWN', data: {} }]);
    ox.setHealthCheck('configdb', 'UP');
    expect((await fetch(`${ox.url}/health`, { headers })).status).toBe(200);
  });
});

describe('mailops emulate openxchange', () => {
  it('prints "openxchange <url>" once it accepts requests, takes the master admin and --health-down, stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/mailops.js'), 'emulate', 'openxchange', '--listen', '127.0.0.1:0', '--user', 'master', '--password', 'letmein', '--health-down', 'hazelcast'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    try {
      const line = String((await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next()).value);
      expect(line).toMatch(/^openxchange http:\/\/127\.0\.0\.1:\d+$/);
      const url = line.split(' ')[1]!;
      const listed = await fetch(`${url}/webservices/OXContextService`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml', soapaction: 'urn:listAll' },
        body: envelope('listAll', '<ox:auth><rmi:login>master</rmi:login><rmi:password>letmein</rmi:password></ox:auth>'),
      });
      expect(listed.status).toBe(200);
      const health = await fetch(`${url}/health`, { headers: { authorization: basic('master', 'letmein') } });
      expect(health.status).toBe(503);
      const exit = new Promise((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
      child.kill('SIGTERM');
      expect(await exit).toEqual([0, null]);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }
  });

  it('is listed among the emulators', async () => {
    const result = await mailops(['emulate', 'exchange']);
    expect(result.stderr).toBe('mailops: there is no emulator for "exchange" (available: james, iredadmin, mailstore, openxchange)\n');
  });
});
