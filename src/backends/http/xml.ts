// SOAP 1.1 envelopes read the one way both sides need (the Open-Xchange client its answers, the emulator framework
// its requests): validated, then parsed by fast-xml-parser into a tree of strings with namespace prefixes removed,
// attributes dropped (namespace declarations, xsi:type) except `xsi:nil`, which is null, and repeated elements as
// arrays.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** An element's content: text, nil (`xsi:nil="true"`), child elements, or the repeats of an element. */
export type XmlValue = string | null | XmlElement | XmlValue[];
export interface XmlElement {
  [name: string]: XmlValue;
}

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

function toXmlValue(node: unknown): XmlValue {
  if (Array.isArray(node)) return node.map(toXmlValue);
  if (node === null || node === undefined) return '';
  if (typeof node !== 'object') return String(node);
  const entries = Object.entries(node as Record<string, unknown>);
  if (entries.some(([name, value]) => name === '@nil' && value === 'true')) return null;
  const children = entries.filter(([name]) => !name.startsWith('@'));
  if (children.length === 0) return '';
  if (children.length === 1 && children[0]![0] === '#text') return String(children[0]![1]);
  return Object.fromEntries(children.filter(([name]) => name !== '#text').map(([name, value]) => [name, toXmlValue(value)]));
}

export function isXmlElement(value: XmlValue | undefined): value is XmlElement {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The Body of a SOAP envelope (a leading BOM skipped), or why there is none: malformed XML, no Envelope or Body. */
export function readSoapBody(text: string): XmlElement | string {
  const stripped = text.replace(/^\uFEFF/, '');
  const valid = XMLValidator.validate(stripped);
  if (valid !== true) return `malformed XML: ${valid.err.msg} (line ${valid.err.line})`;
  let parsed: unknown;
  try {
    parsed = parser.parse(stripped);
  } catch (error) {
    // The validator passes what the parser then refuses, e.g. a DOCTYPE with external entities.
    return `malformed XML: ${(error as Error).message}`;
  }
  const root = toXmlValue(parsed);
  const envelope = isXmlElement(root) ? root['Envelope'] : undefined;
  const body = isXmlElement(envelope) ? envelope['Body'] : undefined;
  if (isXmlElement(body)) return body;
  return envelope !== undefined && body === '' ? {} : 'no SOAP Envelope with a Body';
}
