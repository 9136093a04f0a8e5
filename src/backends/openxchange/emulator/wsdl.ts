// The WSDL of each emulated service (`…/OXContextService?wsdl`): the operations the emulator serves with their
// parameters, SOAP 1.1 bindings with SOAPAction `urn:<operation>`, and the service address — on port 80, whatever
// port the server listens on, as OX's own WSDL advertises it even behind https (openxchange.md). Clients must use
// their configured URL.

import { XMLBuilder } from 'fast-xml-parser';
import { CREDENTIALS_NAMESPACE, DATA_NAMESPACE, SERVICE_NAMESPACE } from '../soap.ts';

/** An operation's parameters: name and type (`xsd:string`, `ax21:Context`, `ax21:User[]` for a repeated one). */
export type WsdlOperations = Readonly<Record<string, readonly (readonly [string, string])[]>>;

/** The fields of the data objects, as their complex types list them (alphabetical, like OX's schemas). */
const DATA_TYPES: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  Context: [['enabled', 'xs:boolean'], ['id', 'xs:int'], ['loginMappings', 'xs:string[]'], ['maxQuota', 'xs:long'], ['name', 'xs:string'], ['usedQuota', 'xs:long']],
  User: [
    ['aliases', 'xs:string[]'], ['display_name', 'xs:string'], ['email1', 'xs:string'], ['given_name', 'xs:string'], ['id', 'xs:int'],
    ['language', 'xs:string'], ['mailenabled', 'xs:boolean'], ['maxQuota', 'xs:long'], ['name', 'xs:string'], ['password', 'xs:string'],
    ['primaryEmail', 'xs:string'], ['sur_name', 'xs:string'], ['timezone', 'xs:string'], ['usedQuota', 'xs:long'],
  ],
};

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true, format: true });

function element(name: string, type: string): Record<string, string> {
  const repeated = type.endsWith('[]');
  return { '@name': name, '@type': repeated ? type.slice(0, -2) : type, '@minOccurs': '0', ...(repeated ? { '@maxOccurs': 'unbounded' } : {}), '@nillable': 'true' };
}

/** The WSDL of `service` (e.g. OXUserService) as served from `host` (the Host header, its port dropped). */
export function wsdlDocument(service: string, host: string, operations: WsdlOperations): string {
  const names = Object.keys(operations);
  const hostname = host.replace(/:\d+$/, '') || 'localhost';
  const document = {
    '?xml': { '@version': '1.0', '@encoding': 'UTF-8' },
    'wsdl:definitions': {
      '@xmlns:wsdl': 'http://schemas.xmlsoap.org/wsdl/',
      '@xmlns:soap': 'http://schemas.xmlsoap.org/wsdl/soap/',
      '@xmlns:xs': 'http://www.w3.org/2001/XMLSchema',
      '@xmlns:ns': SERVICE_NAMESPACE,
      '@xmlns:ax21': DATA_NAMESPACE,
      '@xmlns:ax23': CREDENTIALS_NAMESPACE,
      '@targetNamespace': SERVICE_NAMESPACE,
      'wsdl:types': {
        'xs:schema': [
          {
            '@targetNamespace': DATA_NAMESPACE,
            '@elementFormDefault': 'qualified',
            'xs:complexType': Object.entries(DATA_TYPES).map(([type, fields]) => ({
              '@name': type,
              'xs:sequence': { 'xs:element': fields.map(([name, fieldType]) => element(name, fieldType)) },
            })),
          },
          {
            '@targetNamespace': CREDENTIALS_NAMESPACE,
            '@elementFormDefault': 'qualified',
            'xs:complexType': { '@name': 'Credentials', 'xs:sequence': { 'xs:element': [element('login', 'xs:string'), element('password', 'xs:string')] } },
          },
          {
            '@targetNamespace': SERVICE_NAMESPACE,
            '@elementFormDefault': 'qualified',
            'xs:element': names.flatMap((operation) => [
              { '@name': operation, 'xs:complexType': { 'xs:sequence': { 'xs:element': [...operations[operation]!, ['auth', 'ax23:Credentials'] as const].map(([name, type]) => element(name, type)) } } },
              { '@name': `${operation}Response`, 'xs:complexType': { 'xs:sequence': { 'xs:element': element('return', 'xs:anyType') } } },
            ]),
          },
        ],
      },
      'wsdl:message': names.flatMap((operation) => [
        { '@name': `${operation}Request`, 'wsdl:part': { '@name': 'parameters', '@element': `ns:${operation}` } },
        { '@name': `${operation}Response`, 'wsdl:part': { '@name': 'parameters', '@element': `ns:${operation}Response` } },
      ]),
      'wsdl:portType': {
        '@name': `${service}PortType`,
        'wsdl:operation': names.map((operation) => ({
          '@name': operation,
          'wsdl:input': { '@message': `ns:${operation}Request` },
          'wsdl:output': { '@message': `ns:${operation}Response` },
        })),
      },
      'wsdl:binding': {
        '@name': `${service}Soap11Binding`,
        '@type': `ns:${service}PortType`,
        'soap:binding': { '@transport': 'http://schemas.xmlsoap.org/soap/http', '@style': 'document' },
        'wsdl:operation': names.map((operation) => ({
          '@name': operation,
          'soap:operation': { '@soapAction': `urn:${operation}`, '@style': 'document' },
          'wsdl:input': { 'soap:body': { '@use': 'literal' } },
          'wsdl:output': { 'soap:body': { '@use': 'literal' } },
        })),
      },
      'wsdl:service': {
        '@name': service,
        'wsdl:port': {
          '@name': `${service}HttpSoap11Endpoint`,
          '@binding': `ns:${service}Soap11Binding`,
          // OX's quirk: port 80 and plain http, whatever the server really listens on.
          'soap:address': { '@location': `http://${hostname}:80/webservices/${service}.${service}HttpSoap11Endpoint/` },
        },
      },
    },
  };
  return String(builder.build(document));
}
