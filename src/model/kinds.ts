// What the API server needs to know about each kind besides its schema: names, short names,
// printer columns. One table; crd.ts and the loader both read it.
import type { TSchema } from 'typebox';
import { Alias, MailBackend, MailDomain, MailUser, QuotaPolicy, type KindName } from './schema.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date' | 'number';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo {
  kind: KindName;
  plural: string;
  singular: string;
  shortNames: string[];
  schema: TSchema;
  columns: PrinterColumn[];
  description: string;
}

const ready: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
const synced: PrinterColumn = {
  name: 'Synced',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Synced")].status',
};
const servedBy: PrinterColumn = { name: 'Backends', type: 'string', jsonPath: '.status.backends[*].name' };
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'MailBackend',
    plural: 'mailbackends',
    singular: 'mailbackend',
    shortNames: ['mbk'],
    schema: MailBackend,
    description: 'A mail server that mailops manages: its type, administration URL, credentials and limits.',
    columns: [
      { name: 'Type', type: 'string', jsonPath: '.spec.type' },
      { name: 'URL', type: 'string', jsonPath: '.spec.url' },
      ready,
      synced,
      age,
    ],
  },
  {
    kind: 'MailDomain',
    plural: 'maildomains',
    singular: 'maildomain',
    shortNames: ['mdom'],
    schema: MailDomain,
    description: 'A mail domain and the backends that serve it.',
    columns: [
      { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
      { name: 'Prune', type: 'boolean', jsonPath: '.spec.prune.enabled', priority: 1 },
      ready,
      synced,
      servedBy,
      age,
    ],
  },
  {
    kind: 'MailUser',
    plural: 'mailusers',
    singular: 'mailuser',
    shortNames: ['mu'],
    schema: MailUser,
    description: 'A mailbox: its address, password, extra addresses, forwarding and quota.',
    columns: [
      { name: 'Address', type: 'string', jsonPath: '.spec.address' },
      { name: 'Disabled', type: 'boolean', jsonPath: '.spec.disabled', priority: 1 },
      ready,
      synced,
      servedBy,
      age,
    ],
  },
  {
    kind: 'Alias',
    plural: 'aliases',
    singular: 'alias',
    shortNames: ['mal'],
    schema: Alias,
    description: 'An address that delivers to one or more other addresses.',
    columns: [
      { name: 'Address', type: 'string', jsonPath: '.spec.address' },
      { name: 'Members', type: 'string', jsonPath: '.spec.members', priority: 1 },
      ready,
      synced,
      servedBy,
      age,
    ],
  },
  {
    kind: 'QuotaPolicy',
    plural: 'quotapolicies',
    singular: 'quotapolicy',
    shortNames: ['mqp'],
    schema: QuotaPolicy,
    description: 'Named storage and message limits, used by reference, as a domain default, or globally.',
    columns: [
      { name: 'Storage', type: 'string', jsonPath: '.spec.storage' },
      { name: 'Messages', type: 'string', jsonPath: '.spec.messages' },
      { name: 'Global', type: 'boolean', jsonPath: '.spec.globalDefault' },
      ready,
      synced,
      servedBy,
      age,
    ],
  },
];

export const CATEGORY = 'mail';

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}
