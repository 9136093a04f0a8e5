import { XMLParser } from 'fast-xml-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { createActionTable } from '../../../src/backends/emulator/actions.ts';
import { createRouteDispatcher, routeTable, type RouteHandler } from '../../../src/backends/emulator/router.ts';
import { startEmulator, type RunningEmulator } from '../../../src/backends/emulator/server.ts';
import { createSoapService, SoapFault, type SoapElement, type SoapOperation } from '../../../src/backends/emulator/soap.ts';

// An Open-Xchange-style provisioning service (openxchange.md): SOAP 1.1, SOAPAction `urn:<op>`, faults on HTTP 500.
const NAMESPACE = 'http://soap.admin.openexchange.com';

const emulators: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((emulator) => emulator.close()));
});

async function startUserService(): Promise<{ url: string; received: SoapElement[] }> {
  const received: SoapElement[] = [];
  const users = new Map<string, SoapElement>();
  const operations = createActionTable<SoapOperation>({
    create: ({ parameters }) => {
      received.push(parameters);
      const user = parameters['usrdata'] as SoapElement;
      users.set(String(user['name']), user);
      return { return: { id: users.size, name: String(user['name']), aliases: user['aliases'] as string[] } };
    },
    getData: ({ parameters }) => {
      const name = String((parameters['user'] as SoapElement)['name']);
      const user = users.get(name);
      if (user === undefined) throw new SoapFault('Server', `com.openexchange.admin.rmi.exceptions.NoSuchUserException: No such user ${name}`);
      return { return: { name, display_name: user['display_name'] ?? null } };
    },
  });
  const service = createSoapService({ namespace: NAMESPACE, operations });
  const dispatch = createRouteDispatcher(routeTable<RouteHandler>([['POST', '/webservices/OXUserService', (call) => service(call.request)]]), {
    malformedPath: () => ({ status: 400 }),
    notFound: () => ({ status: 404 }),
  });
  const emulator = await startEmulator({ name: 'openxchange', handle: dispatch, serverError: () => ({ status: 500 }) });
  emulators.push(emulator);
  return { url: `${emulator.url}/webservices/OXUserService`, received };
}

function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soap="${NAMESPACE}"
    xmlns:xsd="http://dataobjects.soap.admin.openexchange.com/xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Body>${body}</soapenv:Body>
</soapenv:Envelope>`;
}

const reader = new XMLParser({ removeNSPrefix: true, parseTagValue: false });

async function soapCall(url: string, body: string, action?: string): Promise<{ status: number; contentType: string | null; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/xml; charset=utf-8', ...(action === undefined ? {} : { soapaction: action }) },
    body,
  });
  const parsed = reader.parse(await response.text()) as { Envelope: { Body: Record<string, unknown> } };
  return { status: response.status, contentType: response.headers.get('content-type'), body: parsed.Envelope.Body };
}

const createAlice = envelope(`<soap:create>
  <soap:ctx><xsd:id>1</xsd:id></soap:ctx>
  <soap:usrdata>
    <xsd:name>alice</xsd:name><xsd:display_name xsi:nil="true"/>
    <xsd:aliases>alice@example.org</xsd:aliases><xsd:aliases>a.liddell@example.org</xsd:aliases>
  </soap:usrdata>
</soap:create>`);

describe('SOAP services', () => {
  it('dispatches by SOAPAction and hands the handler the parameters without prefixes, nil as null', async () => {
    const { url, received } = await startUserService();
    const answer = await soapCall(url, createAlice, '"urn:create"');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/xml; charset=UTF-8');
    expect(answer.body).toEqual({ createResponse: { return: { id: '1', name: 'alice', aliases: ['alice@example.org', 'a.liddell@example.org'] } } });
    expect(received).toEqual([{
      ctx: { id: '1' },
      usrdata: { name: 'alice', display_name: null, aliases: ['alice@example.org', 'a.liddell@example.org'] },
    }]);
  });

  it("dispatches by the Body's first element without a SOAPAction", async () => {
    const { url } = await startUserService();
    await soapCall(url, createAlice);
    const answer = await soapCall(url, envelope('<soap:getData><soap:user><xsd:name>alice</xsd:name></soap:user></soap:getData>'));
    expect(answer.body).toEqual({ getDataResponse: { return: { name: 'alice', display_name: '' } } });
  });

  it('answers faults on HTTP 500: thrown by a handler, for an unknown operation, for a broken envelope', async () => {
    const { url } = await startUserService();
    const missing = await soapCall(url, envelope('<soap:getData><soap:user><xsd:name>bob</xsd:name></soap:user></soap:getData>'), 'urn:getData');
    expect(missing.status).toBe(500);
    expect(missing.body).toEqual({ Fault: { faultcode: 'soapenv:Server', faultstring: 'com.openexchange.admin.rmi.exceptions.NoSuchUserException: No such user bob' } });
    const unknown = await soapCall(url, envelope('<soap:explode/>'), 'urn:explode');
    expect(unknown.body).toEqual({ Fault: { faultcode: 'soapenv:Client', faultstring: 'no such operation: explode' } });
    const broken = await soapCall(url, '<soapenv:Envelope><unclosed>');
    expect(broken.status).toBe(500);
    expect(broken.body).toMatchObject({ Fault: { faultcode: 'soapenv:Client', faultstring: expect.stringMatching(/^malformed XML/) } });
    const bodyless = await soapCall(url, '<?xml version="1.0"?><a/>');
    expect(bodyless.body).toMatchObject({ Fault: { faultstring: 'no SOAP Envelope with a Body' } });
  });
});
