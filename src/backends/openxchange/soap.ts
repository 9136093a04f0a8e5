// SOAP 1.1 as Open-Xchange's provisioning services speak it (shared/backends/openxchange.md): envelopes written and
// read with fast-xml-parser (never XML by string concatenation), data objects in the `…/xsd` namespace with their
// fields in alphabetical order (the order of OX's java2wsdl schemas), credentials in the RMI data-object namespace,
// and faults turned into BackendErrors by their exception name and, where that says nothing, by their fault string.
import { XMLBuilder } from 'fast-xml-parser';
import { BackendError, type BackendErrorKind } from '../../engine/adapter.ts';
import { isXmlElement, readSoapBody, type XmlElement, type XmlValue } from '../http/xml.ts';
import { failureByStatus, permanent, statusError, success, transient, type AnswerClassifier, type HttpRequest } from '../http/index.ts';

export const SERVICE_NAMESPACE = 'http://soap.admin.openexchange.com';
export const DATA_NAMESPACE = 'http://dataobjects.soap.admin.openexchange.com/xsd';
export const CREDENTIALS_NAMESPACE = 'http://dataobjects.rmi.admin.openexchange.com/xsd';
const ENVELOPE_NAMESPACE = 'http://schemas.xmlsoap.org/soap/envelope/';

export type SoapScalar = string | number | boolean;
/** A data object (Context, User): its fields; arrays repeat the element; undefined fields are not sent. */
export interface DataObject {
  readonly [field: string]: SoapScalar | readonly SoapScalar[] | undefined;
}
/** One parameter of an operation, in the order of the operation's signature. */
export type SoapParameter =
  | { readonly name: string; readonly value: SoapScalar }
  | { readonly name: string; readonly object: DataObject }
  | { readonly name: string; readonly objects: readonly DataObject[] }
  | { readonly name: 'auth'; readonly credentials: SoapCredentials };

export interface SoapCredentials {
  readonly login: string;
  readonly password: string;
}

/** An element of an answer: text, or child elements (repeated ones as arrays); nil is null. */
export type SoapNode = XmlValue;
export type SoapRecord = XmlElement;

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: false });

function dataObject(prefix: string, object: DataObject): Record<string, unknown> {
  const fields = Object.entries(object)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(fields.map(([name, value]) => [`${prefix}:${name}`, Array.isArray(value) ? value.map(String) : String(value)]));
}

/** The request envelope of `operation` with its parameters, as OX's Axis2 services take it. */
export function soapEnvelope(operation: string, parameters: readonly SoapParameter[]): string {
  const content: Record<string, unknown> = {};
  for (const parameter of parameters) {
    const name = `ox:${parameter.name}`;
    if ('credentials' in parameter) content[name] = { 'rmi:login': parameter.credentials.login, 'rmi:password': parameter.credentials.password };
    else if ('object' in parameter) content[name] = dataObject('xsd', parameter.object);
    else if ('objects' in parameter) content[name] = parameter.objects.map((object) => dataObject('xsd', object));
    else content[name] = String(parameter.value);
  }
  return String(
    builder.build({
      '?xml': { '@version': '1.0', '@encoding': 'UTF-8' },
      'soapenv:Envelope': {
        '@xmlns:soapenv': ENVELOPE_NAMESPACE,
        '@xmlns:ox': SERVICE_NAMESPACE,
        '@xmlns:xsd': DATA_NAMESPACE,
        '@xmlns:rmi': CREDENTIALS_NAMESPACE,
        'soapenv:Body': { [`ox:${operation}`]: content },
      },
    }),
  );
}

const isRecord = isXmlElement;

/** The Body of a SOAP envelope, or undefined when the text is not one. */
export function readBody(text: string): SoapRecord | undefined {
  if (!text.replace(/^\uFEFF/, '').trimStart().startsWith('<')) return undefined;
  const body = readSoapBody(text);
  return typeof body === 'string' ? undefined : body;
}

/** What an operation answered: the `return` elements of `<{operation}Response>`, as a list (none, one or many). */
export function returnsOf(body: SoapRecord, operation: string): SoapNode[] {
  const response = body[`${operation}Response`];
  if (!isRecord(response)) return [];
  const value = response['return'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

// ---------------------------------------------------------------------------------------------------------------
// Reading data objects

export function records(nodes: readonly SoapNode[]): SoapRecord[] {
  return nodes.filter(isRecord);
}

export function textOf(record: SoapRecord, field: string): string | null {
  const value = record[field];
  return typeof value === 'string' ? value : null;
}

export function numberOf(record: SoapRecord, field: string): number | null {
  const text = textOf(record, field)?.trim();
  return text !== undefined && text !== null && /^-?\d+$/.test(text) ? Number(text) : null;
}

export function booleanOf(record: SoapRecord, field: string): boolean | null {
  const text = textOf(record, field)?.trim().toLowerCase();
  return text === 'true' ? true : text === 'false' ? false : null;
}

/** A repeated element's texts (an element that occurs once is a list of one). */
export function listOf(record: SoapRecord, field: string): string[] {
  const value = record[field];
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.filter((item): item is string => typeof item === 'string' && item !== '');
}

// ---------------------------------------------------------------------------------------------------------------
// Faults

/** A fault Open-Xchange answered with: the exception's name and its message, and the kind a caller branches on. */
export class OXFault extends BackendError {
  readonly exception: string;
  readonly faultString: string;
  constructor(kind: BackendErrorKind, message: string, exception: string, faultString: string, status: number) {
    super(kind, message, { status });
    this.name = 'OXFault';
    this.exception = exception;
    this.faultString = faultString;
  }
}

const NOT_FOUND_EXCEPTIONS = new Set(['NoSuchContextException', 'NoSuchUserException', 'NoSuchObjectException', 'NoSuchGroupException', 'NoSuchResourceException']);
/** Exceptions that say the server could not do it now (its database, its filestore): another try may work. */
const TRANSIENT_EXCEPTIONS = new Set(['StorageException', 'DatabaseUpdateException']);

/**
 * The kind of a fault. "Not found" is recognisable by the exception's name, or by fault strings starting with
 * `com.openexchange.admin.rmi.exceptions.NoSuchObjectException`, `No such …` or `Context <id> does not exist`
 * (a not-found wrapped in a RemoteException carries only the string).
 */
export function faultKind(exception: string, faultString: string): BackendErrorKind {
  if (NOT_FOUND_EXCEPTIONS.has(exception) || /^com\.openexchange\.admin\.rmi\.exceptions\.NoSuch\w*Exception\b|^No such\b|^Context \d+ does not exist/i.test(faultString)) return 'NotFound';
  if (exception === 'InvalidCredentialsException') return 'Unauthorized';
  if (exception === 'ContextExistsException') return 'Conflict';
  if (exception === 'InvalidDataException') return /already (exists|in use|used)|is already/i.test(faultString) ? 'Conflict' : 'Invalid';
  if (TRANSIENT_EXCEPTIONS.has(exception) || exception === 'RemoteException') return 'Unavailable';
  return 'Invalid';
}

/** The exception a fault's detail names (`<detail><ns:NoSuchContextException>…`), else the fault code's local part. */
function exceptionOf(fault: SoapRecord): string {
  const detail = fault['detail'];
  const named = isRecord(detail) ? Object.keys(detail)[0] : undefined;
  if (named) return named;
  const code = textOf(fault, 'faultcode') ?? '';
  return code.slice(code.lastIndexOf(':') + 1) || 'Fault';
}

/** `OXUserService.create` for a request to /webservices/OXUserService with SOAPAction "urn:create". */
export function describeSoapCall(request: Pick<HttpRequest, 'path' | 'body'>): string {
  const service = request.path.slice(request.path.lastIndexOf('/') + 1);
  const action = request.body?.type === 'raw' ? (request.body.headers?.['soapaction'] ?? '') : '';
  return `${service}.${action.replace(/^"?urn:|"$/g, '')}`;
}

const SOAP_HINT = 'is spec.url the Open-Xchange server, with its SOAP provisioning services under /webservices/?';

/**
 * Open-Xchange's answers: success is a Body with the operation's response (HTTP 200); every failure is a SOAP
 * fault on HTTP 500, whose exception decides the kind — a storage or database problem is worth another try (where
 * the call is safe to repeat), anything else is not. An answer that is no SOAP at all is read by its status.
 */
export const oxSoapAnswer: AnswerClassifier<SoapRecord> = (request, response) => {
  const what = describeSoapCall(request);
  // A void operation may be answered with no envelope at all (Axis2's 202 for a robust in-only call).
  if (response.status >= 200 && response.status < 300 && response.text.trim() === '') return success({});
  const body = readBody(response.text);
  if (body === undefined) {
    if (response.status === 429 || response.status >= 500) return failureByStatus(request, response);
    if (response.status === 404) return permanent(new BackendError('Protocol', `${what}: 404, no such service; ${SOAP_HINT}`, { status: 404 }));
    if (response.status >= 300) return permanent(statusError(request, response));
    throw new BackendError('Protocol', `${what}: the answer is not a SOAP envelope; ${SOAP_HINT}`, { status: response.status });
  }
  const fault = body['Fault'];
  if (isRecord(fault)) {
    const exception = exceptionOf(fault);
    const faultString = textOf(fault, 'faultstring') ?? '';
    const kind = faultKind(exception, faultString);
    const error = new OXFault(kind, `${what}: ${exception}: ${faultString || 'no message'}`, exception, faultString, response.status);
    return TRANSIENT_EXCEPTIONS.has(exception) ? transient(error) : permanent(error);
  }
  if (response.status >= 300) return permanent(statusError(request, response));
  return success(body);
};
