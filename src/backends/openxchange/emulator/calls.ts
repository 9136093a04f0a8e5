// What every SOAP operation of the Open-Xchange emulator works with: the call's parameters (data objects read from
// the envelope), the faults OX answers with (an exception named in the detail, its message as the fault string),
// and data objects written the way Axis2 writes them (fields in the `…/xsd` namespace).

import { SoapFault, type SoapContent, type SoapContentValue, type SoapElement } from '../../emulator/soap.ts';
import { isXmlElement } from '../../http/xml.ts';
import { DATA_NAMESPACE, SERVICE_NAMESPACE } from '../soap.ts';

/** A fault naming OX's exception in the detail (`<detail><ns:NoSuchContextException>…`), its message the fault string. */
export function oxException(exception: string, message: string): SoapFault {
  return new SoapFault('Server', message, { [`ns:${exception}`]: { '@xmlns:ns': SERVICE_NAMESPACE, [`ns:${exception}`]: { message } } });
}

export const invalidCredentials = (): SoapFault => oxException('InvalidCredentialsException', 'Authentication failed');
export const invalidData = (message: string): SoapFault => oxException('InvalidDataException', message);
export const noSuchContext = (id: number | string): SoapFault => oxException('NoSuchContextException', `Context ${id} does not exist`);
export const noSuchUser = (user: number | string, contextId: number): SoapFault => oxException('NoSuchUserException', `No such user ${user} in context ${contextId}`);
export const contextExists = (message: string): SoapFault => oxException('ContextExistsException', message);
/**
 * A not-found deep inside a call that wraps it (getMultipleData): only the fault string tells, as
 * `com.openexchange.admin.rmi.exceptions.NoSuchObjectException: …`.
 */
export const wrappedNoSuchObject = (message: string): SoapFault =>
  oxException('RemoteException', `com.openexchange.admin.rmi.exceptions.NoSuchObjectException: ${message}`);

export const isElement = isXmlElement;

/** A data-object parameter, or an InvalidDataException naming it. */
export function objectParameter(parameters: SoapElement, name: string): SoapElement {
  const value = parameters[name];
  if (isElement(value)) return value;
  throw invalidData(`${name} is missing or empty`);
}

/** The repeats of a parameter (`users` of getMultipleData), each a data object. */
export function objectsParameter(parameters: SoapElement, name: string): SoapElement[] {
  const value = parameters[name];
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items.filter(isElement);
}

/** A field's text; undefined when absent or nil. */
export function textField(element: SoapElement, field: string): string | undefined {
  const value = element[field];
  return typeof value === 'string' ? value : undefined;
}

export function integerField(element: SoapElement, field: string): number | undefined {
  const text = textField(element, field)?.trim();
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw invalidData(`${field} must be a number, got "${text}"`);
  return Number(text);
}

export function booleanField(element: SoapElement, field: string): boolean | undefined {
  const text = textField(element, field)?.trim().toLowerCase();
  if (text === undefined || text === '') return undefined;
  if (text !== 'true' && text !== 'false') throw invalidData(`${field} must be true or false, got "${text}"`);
  return text === 'true';
}

/** A repeated field; undefined when not sent at all (a change leaves it alone). */
export function listField(element: SoapElement, field: string): string[] | undefined {
  const value = element[field];
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  return items.filter((item): item is string => typeof item === 'string' && item.trim() !== '').map((item) => item.trim());
}

/** The `auth` parameter: `{login, password}` in the RMI credentials namespace. */
export function credentialsOf(parameters: SoapElement): { login: string; password: string } {
  const auth = parameters['auth'];
  if (!isElement(auth)) throw invalidCredentials();
  return { login: textField(auth, 'login') ?? '', password: textField(auth, 'password') ?? '' };
}

/** A data object as Axis2 writes it: its fields in the data-object namespace. */
export function dataObject(fields: Readonly<Record<string, SoapContentValue | undefined>>): SoapContent {
  const content: SoapContent = { '@xmlns:ax21': DATA_NAMESPACE };
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) content[`ax21:${name}`] = value;
  return content;
}

/** `*` matches anything, as OX's search patterns do; the rest literally, case-insensitively. */
export function patternMatcher(pattern: string): (value: string) => boolean {
  const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return (value) => regex.test(value);
}
