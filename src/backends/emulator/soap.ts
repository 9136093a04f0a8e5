// SOAP 1.1 services for emulators (Open-Xchange provisioning: openxchange.md): a POSTed envelope is parsed, the
// operation picked by the SOAPAction header or else the Body's first element, and its handler given the
// operation element's content as a tree of strings; the handler's result is sent back as `<{operation}Response>`
// in the service's namespace. A SoapFault thrown by a handler, an unknown operation or a broken envelope is
// answered with a SOAP fault on HTTP 500, as SOAP 1.1 requires. XML is read and written by fast-xml-parser.

import { XMLBuilder } from 'fast-xml-parser';
import { readSoapBody, type XmlElement, type XmlValue } from '../http/xml.ts';
import type { ActionTable } from './actions.ts';
import { textAnswer } from './answers.ts';
import type { EmulatorRequest, EmulatorResponse } from './server.ts';

const SOAP_ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
const XML_CONTENT = 'text/xml; charset=UTF-8';

/** An element's content: text, nil (`xsi:nil="true"`), child elements, or the repeats of an element. */
export type SoapValue = XmlValue;
export type SoapElement = XmlElement;

/** What a handler returns: child elements, their text given as strings, numbers or booleans; arrays repeat. */
export type SoapContentValue = string | number | boolean | null | SoapContent | SoapContentValue[];
export interface SoapContent {
  [name: string]: SoapContentValue;
}

export interface SoapCall {
  readonly operation: string;
  /** The operation element's children, namespace prefixes removed. */
  readonly parameters: SoapElement;
  readonly request: EmulatorRequest;
}

export type SoapOperation = (call: SoapCall) => SoapContent | Promise<SoapContent>;

/** Thrown by a handler to answer with a fault; `code` is the SOAP 1.1 fault code's local part. */
export class SoapFault extends Error {
  readonly code: 'Client' | 'Server';
  readonly detail: SoapContent | undefined;
  constructor(code: 'Client' | 'Server', message: string, detail?: SoapContent) {
    super(message);
    this.code = code;
    this.detail = detail;
  }
}

export interface SoapServiceOptions {
  /** The namespace of the operation and response elements. */
  readonly namespace: string;
  readonly operations: ActionTable<SoapOperation>;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

/** The content as the builder takes it: nil for null, text for numbers and booleans. */
function toXmlNode(value: SoapContentValue): unknown {
  if (Array.isArray(value)) return value.map(toXmlNode);
  if (value === null) return { '@xsi:nil': 'true' };
  if (typeof value !== 'object') return String(value);
  return Object.fromEntries(Object.entries(value).map(([name, child]) => [name, toXmlNode(child)]));
}

function envelope(body: Record<string, unknown>, status: number): EmulatorResponse {
  const document = {
    '?xml': { '@version': '1.0', '@encoding': 'UTF-8' },
    'soapenv:Envelope': {
      '@xmlns:soapenv': SOAP_ENVELOPE_NAMESPACE,
      '@xmlns:xsi': XSI_NAMESPACE,
      'soapenv:Body': body,
    },
  };
  return textAnswer(String(builder.build(document)), XML_CONTENT, { status });
}

export function soapFault(code: 'Client' | 'Server', message: string, detail?: SoapContent): EmulatorResponse {
  return envelope({
    'soapenv:Fault': {
      faultcode: `soapenv:${code}`,
      faultstring: message,
      ...(detail !== undefined && { detail: toXmlNode(detail) }),
    },
  }, 500);
}

function soapResponse(operation: string, namespace: string, content: SoapContent): EmulatorResponse {
  return envelope({ [`${operation}Response`]: { '@xmlns': namespace, ...(toXmlNode(content) as object) } }, 200);
}

/** `"urn:create"`, `"http://host/svc#create"` or `"http://host/svc/create"` name the operation `create`. */
function operationOfAction(header: string | string[] | undefined): string | undefined {
  const action = (Array.isArray(header) ? header[0] : header)?.trim().replace(/^"(.*)"$/, '$1') ?? '';
  return action === '' ? undefined : action.slice(Math.max(action.lastIndexOf(':'), action.lastIndexOf('/'), action.lastIndexOf('#')) + 1);
}

/** Parses the envelope; a string is the reason it cannot be used. */
function parseEnvelope(text: string): { operation: string; parameters: SoapElement } | string {
  const body = readSoapBody(text);
  if (typeof body === 'string') return body;
  const [first] = Object.entries(body);
  if (first === undefined) return 'the SOAP Body is empty';
  const [operation, content] = first;
  return { operation, parameters: content !== null && typeof content === 'object' && !Array.isArray(content) ? content : {} };
}

/** A request handler for one SOAP service (one endpoint URL). */
export function createSoapService(options: SoapServiceOptions): (request: EmulatorRequest) => Promise<EmulatorResponse> {
  return async (request) => {
    const parsed = parseEnvelope(request.body.toString('utf8'));
    if (typeof parsed === 'string') return soapFault('Client', parsed);
    const operation = operationOfAction(request.headers['soapaction']) ?? parsed.operation;
    const handler = options.operations.find(operation);
    if (handler === undefined) return soapFault('Client', `no such operation: ${operation}`);
    try {
      return soapResponse(operation, options.namespace, await handler({ operation, parameters: parsed.parameters, request }));
    } catch (error) {
      if (error instanceof SoapFault) return soapFault(error.code, error.message, error.detail);
      throw error;
    }
  };
}
