// The API of mailops.dev/v1alpha1, defined once. Each kind's TypeBox schema is at the same time
// the TypeScript type (Static<…>), the JSON Schema that validates files (ajv), and the source of
// the CRD's structural schema (see crd.ts). Change a field here and all three follow.
import Type, { type Static, type TSchema } from 'typebox';
import {
  ADDRESS_MAX_LENGTH,
  ADDRESS_PATTERN,
  DOMAIN_MAX_LENGTH,
  DOMAIN_PATTERN,
  OBJECT_NAME_PATTERN,
} from './names.ts';
import { DURATION_PATTERN, MESSAGES_PATTERN, STORAGE_PATTERN } from './quantity.ts';

export const API_GROUP = 'mailops.dev';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Marks a schema node as Kubernetes int-or-string; crd.ts renders it in the structural form. */
export const INT_OR_STRING = 'x-kubernetes-int-or-string';
/** CEL rules carried into the CRD; files get the same checks from load/references.ts. */
export const CEL_RULES = 'x-kubernetes-validations';
/** Kubernetes list semantics: items keyed by fields (map) or unique scalars (set). */
export const LIST_TYPE = 'x-kubernetes-list-type';
export const LIST_MAP_KEYS = 'x-kubernetes-list-map-keys';
const listMap = (keys: string[]) => ({ [LIST_TYPE]: 'map', [LIST_MAP_KEYS]: keys });
const listSet = { [LIST_TYPE]: 'set' };


function IntOrString(integer: { minimum?: number }, pattern: string, description: string) {
  return Type.Unsafe<number | string>({
    [INT_OR_STRING]: true,
    anyOf: [
      { type: 'integer', ...integer },
      { type: 'string', pattern },
    ],
    description,
  });
}

const MailAddress = (description: string) =>
  Type.String({ pattern: ADDRESS_PATTERN, maxLength: ADDRESS_MAX_LENGTH, description });

const DomainName = (description: string) =>
  Type.String({ pattern: DOMAIN_PATTERN, maxLength: DOMAIN_MAX_LENGTH, description });

const ObjectName = (description: string) =>
  Type.String({ pattern: OBJECT_NAME_PATTERN, maxLength: 253, description });

export const LocalObjectReference = Type.Object(
  { name: ObjectName('Name of the referenced object, in the same namespace.') },
  { additionalProperties: false },
);
export type LocalObjectReference = Static<typeof LocalObjectReference>;

export const SecretKeySelector = Type.Object(
  {
    name: ObjectName('Name of the Secret, in the same namespace.'),
    key: Type.String({
      // What Kubernetes accepts as a Secret key: not `.` or `..`, nor anything starting with `..`.
      pattern: '^([-_a-zA-Z0-9]|\\.[-_a-zA-Z0-9])[-._a-zA-Z0-9]*$',
      maxLength: 253,
      description: 'Key within the Secret.',
    }),
  },
  {
    additionalProperties: false,
    description:
      'A key of a Kubernetes Secret. In file mode it is read from the environment variable ' +
      'MAILOPS_SECRET_<NAME>_<KEY> or from the file <secrets dir>/<name>/<key>.',
  },
);
export type SecretKeySelector = Static<typeof SecretKeySelector>;

/**
 * A user's password: a SecretKeySelector that may be `optional`, as a Kubernetes env var's
 * secretKeyRef may. An optional secret that does not exist leaves the password unmanaged
 * (`mailops export` writes them: a password cannot be read back from a server).
 */
export const PasswordSecretRef = Type.Object(
  {
    ...SecretKeySelector.properties,
    optional: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'When the Secret (or its key) does not exist, leave the password as it is on the server instead of failing: it is neither ' +
          'compared nor sent, and the plan says "unmanaged until the secret exists". A user that is not on a backend yet cannot be ' +
          'created without it. Once the secret exists, the password is managed as usual.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'A key of a Kubernetes Secret holding the password (file mode: MAILOPS_SECRET_<NAME>_<KEY> or <secrets dir>/<name>/<key>); optional: true lets it not exist yet.',
  },
);
export type PasswordSecretRef = Static<typeof PasswordSecretRef>;

const BackendRefs = (description: string) =>
  Type.Array(LocalObjectReference, { minItems: 1, maxItems: 16, description, ...listMap(['name']) });

const Storage = IntOrString(
  { minimum: 0 },
  STORAGE_PATTERN,
  'Storage limit: a quantity such as 500Mi or 2Gi (bytes when a bare number), or "unlimited".',
);
const Messages = IntOrString(
  { minimum: 0 },
  MESSAGES_PATTERN,
  'Maximum number of messages, or "unlimited".',
);

const AddressList = (description: string, minItems = 0) =>
  Type.Array(MailAddress('A mail address.'), { minItems, maxItems: 1000, description, ...listSet });

/** A quota given inline or by naming a QuotaPolicy; the two forms exclude each other. */
const QuotaSpecOf = (description: string) =>
  Type.Object(
    {
      policyRef: Type.Optional(
        Type.Object(LocalObjectReference.properties, {
          additionalProperties: false,
          description: 'Use the limits of this QuotaPolicy.',
        }),
      ),
      storage: Type.Optional(Storage),
      messages: Type.Optional(Messages),
    },
    {
      additionalProperties: false,
      description: `${description} Limits given inline (storage, messages) or by reference (policyRef), not both.`,
      [CEL_RULES]: [
        {
          rule: '!(has(self.policyRef) && (has(self.storage) || has(self.messages)))',
          message: 'set either policyRef or storage/messages, not both',
        },
      ],
    },
  );
export const QuotaSpec = QuotaSpecOf('Quota of this user; a limit it leaves unset comes from the domain default, then the global default. Unset: the user level is not managed.');
export type QuotaSpec = Static<typeof QuotaSpec>;

export const ObjectMeta = Type.Object(
  {
    name: ObjectName('Object name, unique per kind and namespace.'),
    namespace: Type.Optional(ObjectName('Namespace; "default" when omitted.')),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
    generation: Type.Optional(Type.Integer()),
    uid: Type.Optional(Type.String()),
  },
  // Objects exported from a cluster carry more (resourceVersion, managedFields…): accept them.
  { additionalProperties: true },
);
export type ObjectMeta = Static<typeof ObjectMeta>;

// ---------------------------------------------------------------------------------------------
// Status, shared by every kind (written by the controller; ignored in files)

export const Condition = Type.Object({
  type: Type.String({ maxLength: 316 }),
  status: Type.Enum(['True', 'False', 'Unknown']),
  reason: Type.String({ maxLength: 1024 }),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type Condition = Static<typeof Condition>;

const TaskStatusView = Type.Object({
  id: Type.String(),
  state: Type.String(),
  progress: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
});

/**
 * What mailops keeps about the object on one backend, because the backend cannot tell it: the
 * address and password fingerprint it applied (a keyed hash, never the password), and an
 * operation under way (an address change waiting for a task). See the README, "In a cluster".
 */
const AppliedOnBackend = Type.Object({
  url: Type.String({ description: 'The backend URL these records are about (another URL starts afresh).' }),
  address: Type.Optional(Type.String()),
  passwordFingerprint: Type.Optional(Type.String({ description: 'HMAC of the password with the controller’s key; not the password.' })),
  keyId: Type.Optional(Type.String({ description: 'Which fingerprint key made it.' })),
  operation: Type.Optional(
    Type.Object({
      changeId: Type.String(),
      action: Type.String(),
      step: Type.String(),
      renameFrom: Type.Optional(Type.String()),
      taskStartedAt: Type.Optional(Type.String({ format: 'date-time' })),
      task: Type.Optional(
        Type.Object({ id: Type.String(), description: Type.String(), cursor: Type.Optional(Type.String()) }),
      ),
      data: Type.Optional(Type.String({ description: 'The operation’s own notes, as JSON.' })),
    }),
  ),
});

export const BackendStatus = Type.Object({
  name: Type.String({ description: 'The MailBackend.' }),
  state: Type.Optional(Type.String({ description: 'Available, Creating, Updating, Deleting, TaskRunning, BackendUnavailable, … (the Ready reason there).' })),
  synced: Type.Boolean({ description: 'The last reconcile applied every change on this backend.' }),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  lastChangeTime: Type.Optional(Type.String({ format: 'date-time', description: 'When mailops last changed the object on this backend.' })),
  task: Type.Optional(TaskStatusView),
  notApplicable: Type.Optional(Type.Array(Type.String(), { description: 'Declared fields this backend cannot represent.', maxItems: 100 })),
  applied: Type.Optional(AppliedOnBackend),
});

export const CommonStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  conditions: Type.Optional(Type.Array(Condition, { ...listMap(['type']) })),
  backends: Type.Optional(Type.Array(BackendStatus, { ...listMap(['name']) })),
});

// ---------------------------------------------------------------------------------------------
// The kinds

export const BACKEND_TYPES = ['james', 'mailstore', 'iredadmin', 'openxchange'] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

/** MailStore's user privileges and login privileges (shared/backends/mailstore.md, CreateUser). */
const MAILSTORE_PRIVILEGES = ['none', 'admin', 'login', 'changePassword', 'archive', 'modifyArchiveProfiles', 'export', 'modifyExportProfiles', 'delete'] as const;
const MAILSTORE_LOGIN_PRIVILEGES = ['none', 'windows', 'web', 'outlook', 'windowsCmd', 'imap', 'api'] as const;

/**
 * Settings that only one type of backend has, each validated by a schema of its own: a
 * MailBackend carries them in the block named after its type (`spec.mailstore: {…}`), as a
 * Kubernetes volume carries its source. A backend adds its block here.
 */
export const BACKEND_OPTIONS = {
  mailstore: Type.Object(
    {
      apiForm: Type.Optional(
        Type.Enum(['current', 'legacy'], {
          default: 'current',
          description:
            'Which form of the Administration API the server speaks: current (POST /api/invoke/{Function}, answers in ' +
            'envelopes) or legacy (POST /JSON/Invoke/{Method}, bare answers).',
        }),
      ),
      userName: Type.Optional(
        Type.Enum(['address', 'localPart'], {
          default: 'address',
          description:
            'How a MailUser becomes a MailStore user name: address (alice@example.com) or localPart (alice; two ' +
            'declared users with the same local part are then refused). An address change renames the MailStore user ' +
            'where the name changes with it.',
        }),
      ),
      privileges: Type.Optional(
        Type.Array(Type.Enum([...MAILSTORE_PRIVILEGES]), {
          maxItems: 16,
          ...listSet,
          description:
            'The privileges of every user mailops manages on this backend, owned whole (a privilege added by hand is ' +
            'removed again). Unset: not managed; users mailops creates get newUsers.privileges.',
        }),
      ),
      newUsers: Type.Optional(
        Type.Object(
          {
            privileges: Type.Optional(
              Type.Array(Type.Enum([...MAILSTORE_PRIVILEGES]), { maxItems: 16, ...listSet, description: 'Default [login]: log in and read their own archive.' }),
            ),
            loginPrivileges: Type.Optional(
              Type.Array(Type.Enum([...MAILSTORE_LOGIN_PRIVILEGES]), {
                maxItems: 16,
                ...listSet,
                description: 'Default [windows, web, outlook]: MailStore Client, web access and Outlook; not the API, the command line or IMAP.',
              }),
            ),
          },
          { additionalProperties: false, description: 'What users mailops creates start with (set at creation only: MailStore does not report login privileges).' },
        ),
      ),
    },
    { additionalProperties: false, description: 'Settings of a MailStore Server backend.' },
  ),
  iredadmin: Type.Object(
    {
      keepMailboxDays: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: 36500,
          default: 0,
          description:
            'When a user or domain is deleted (prune), how many days iRedAdmin-Pro keeps its mailboxes on disk before ' +
            'purging them; 0 (the default) keeps them for good.',
        }),
      ),
    },
    { additionalProperties: false, description: 'Settings of an iRedAdmin-Pro backend.' },
  ),
  openxchange: Type.Object(
    {
      contextAdmin: Type.Object(
        {
          username: Type.Optional(
            Type.String({ pattern: '^[A-Za-z0-9._-]+$', maxLength: 128, default: 'oxadmin', description: 'Login name of the admin of each context (default oxadmin).' }),
          ),
          passwordSecretRef: SecretKeySelector,
        },
        {
          additionalProperties: false,
          description:
            'The context admin: created with each context mailops creates (with this password, and the address ' +
            '<username>@<domain>), and the login of every user call (OXUserService). Existing contexts must have this admin.',
        },
      ),
      restUrl: Type.Optional(
        Type.String({
          pattern: '^https?://[^\\s/]+(/[^\\s]*)?$',
          maxLength: 2048,
          description: 'Base URL of the REST admin API (health, sessions, mail resolver), e.g. http://ox.mail.svc:8009. Default: spec.url.',
        }),
      ),
      restCredentials: Type.Optional(
        Type.Object(
          { username: Type.String({ maxLength: 256 }), passwordSecretRef: SecretKeySelector },
          {
            additionalProperties: false,
            description:
              'The REST API\'s basic-auth login (com.openexchange.rest.services.basic-auth.login/password), for the health ' +
              'check and the mail resolver. Default: the master admin credentials.',
          },
        ),
      ),
      contextIdFrom: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 2147483647,
          description:
            'How a new context gets its id when its MailDomain gives none (spec.openxchange.contextId): unset, Open-Xchange ' +
            'allocates the next free id; set, mailops takes the lowest id from this one up that no context has.',
        }),
      ),
      users: Type.Optional(
        Type.Object(
          {
            language: Type.Optional(Type.String({ pattern: '^[a-z]{2}_[A-Z]{2}$', description: 'e.g. en_US, de_DE.' })),
            timezone: Type.Optional(Type.String({ pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$', maxLength: 64, description: 'e.g. Europe/Berlin.' })),
          },
          {
            additionalProperties: false,
            description: 'Owned on every user mailops manages on this backend (a value changed by hand is set again); unset: not managed.',
          },
        ),
      ),
      batchSize: Type.Optional(
        Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Users read per getMultipleData call when observing.' }),
      ),
    },
    { additionalProperties: false, description: 'Settings of an Open-Xchange App Suite backend.' },
  ),
} satisfies Partial<Record<BackendType, TSchema>>;

/**
 * Settings a MailDomain gives one type of backend (`spec.openxchange: {contextId}`), in a block named after the
 * type, as MailBackends carry theirs. Only backends of that type read them.
 */
export const DOMAIN_BACKEND_OPTIONS = {
  openxchange: Type.Object(
    {
      contextId: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 2147483647,
          description: 'The id of the domain’s context, given explicitly (otherwise allocated as the MailBackend’s spec.openxchange.contextIdFrom says). A context keeps its id.',
        }),
      ),
    },
    { additionalProperties: false, description: 'How the domain is held on Open-Xchange backends.' },
  ),
} satisfies Partial<Record<BackendType, TSchema>>;
export type BackendOptions = { [T in keyof typeof BACKEND_OPTIONS]: Static<(typeof BACKEND_OPTIONS)[T]> };

/** One CA source at most, and none with verification off (kubectl refuses a CA with insecure-skip-tls-verify too). */
export const TLS_RULES = [
  { rule: '!(has(self.caFile) && has(self.caBundleSecretRef))', message: 'set either caFile or caBundleSecretRef, not both' },
  {
    rule: '!(has(self.insecureSkipTLSVerify) && self.insecureSkipTLSVerify && (has(self.caFile) || has(self.caBundleSecretRef)))',
    message: 'insecureSkipTLSVerify turns verification off; it cannot be set together with caFile or caBundleSecretRef',
  },
];

/** TLS_RULES for files: each conflict with the field to name. */
export function tlsConflicts(spec: { caFile?: string; caBundleSecretRef?: object; insecureSkipTLSVerify?: boolean }): Array<{ field: string; message: string }> {
  const conflicts: Array<{ field: string; message: string }> = [];
  if (spec.caFile !== undefined && spec.caBundleSecretRef !== undefined) conflicts.push({ field: 'caBundleSecretRef', message: TLS_RULES[0]!.message });
  if (spec.insecureSkipTLSVerify && (spec.caFile !== undefined || spec.caBundleSecretRef !== undefined)) conflicts.push({ field: 'insecureSkipTLSVerify', message: TLS_RULES[1]!.message });
  return conflicts;
}

export const MailBackendSpec = Type.Object(
  {
    type: Type.Enum([...BACKEND_TYPES], { description: 'Which server this is.' }),
    url: Type.String({
      pattern: '^https?://[^\\s/]+(/[^\\s]*)?$',
      maxLength: 2048,
      description: 'Base URL of the administration API, e.g. http://james.mail.svc:8000.',
    }),
    credentials: Type.Optional(
      Type.Object(
        {
          username: Type.Optional(Type.String({ maxLength: 256, description: 'Login name, for backends that use one.' })),
          passwordSecretRef: Type.Optional(SecretKeySelector),
          tokenSecretRef: Type.Optional(SecretKeySelector),
        },
        {
          additionalProperties: false,
          description:
            'Where the credentials are. James 3.8 takes a JWT (tokenSecretRef), James 3.9 a password ' +
            '(passwordSecretRef); no credentials for a server with authentication off.',
        },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          concurrency: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 256, default: 8, description: 'Requests in flight at once.' }),
          ),
          requestsPerSecond: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 100000, default: 100, description: 'Request rate ceiling.' }),
          ),
          timeoutSeconds: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 3600, default: 30, description: 'Time limit of one request.' }),
          ),
          retries: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 10,
              default: 3,
              description: 'Retries of a request that failed transiently (a network error, a 5xx or 429 answer, or what the backend calls transient) and is safe to repeat.',
            }),
          ),
          taskTimeoutSeconds: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 86400,
              default: 600,
              description: 'How long to wait for a backend task before cancelling it.',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    insecureSkipTLSVerify: Type.Optional(
      Type.Boolean({ default: false, description: 'Accept any TLS certificate. For test servers only: every run logs a warning.' }),
    ),
    // TLS is verified against the system's CAs unless one of these names the CA of a private PKI (kubeconfig's
    // certificate-authority and certificate-authority-data, side by side with insecure-skip-tls-verify).
    caFile: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description:
          'A PEM file of the CAs that sign the server’s certificate (instead of the system’s). A relative path is relative to ' +
          'the manifest that declares it; in a cluster, an absolute path in the controller’s container (a mounted ConfigMap).',
      }),
    ),
    caBundleSecretRef: Type.Optional(
      Type.Object(SecretKeySelector.properties, {
        additionalProperties: false,
        description: 'A key of a Secret holding the PEM CA bundle that signs the server’s certificate (instead of the system’s CAs).',
      }),
    ),
    ...Object.fromEntries(Object.entries(BACKEND_OPTIONS).map(([type, schema]) => [type, Type.Optional(schema)])),
  },
  {
    additionalProperties: false,
    [CEL_RULES]: [
      ...Object.keys(BACKEND_OPTIONS).map((type) => ({
        rule: `!has(self.${type}) || self.type == '${type}'`,
        message: `spec.${type} holds settings of a ${type} backend; this MailBackend is of another type`,
      })),
      ...TLS_RULES,
    ],
  },
);

/** What deleting the object in a cluster does on its backends (Crossplane's deletionPolicy). */
const DeletionPolicy = (what: string) =>
  Type.Optional(
    Type.Enum(['Delete', 'Orphan'], {
      default: 'Delete',
      description:
        `In a cluster, what deleting this object does: Delete removes ${what} from its backends; Orphan leaves it there, ` +
        'no longer managed. Files ignore it (an object a file stops declaring is left alone unless its domain prunes).',
    }),
  );

export const MailDomainSpec = Type.Object(
  {
    domain: DomainName('The mail domain, e.g. example.com.'),
    backendRefs: BackendRefs('The MailBackends that serve this domain; its users and aliases inherit them.'),
    aliasDomains: Type.Optional(
      Type.Array(DomainName('A domain name.'), {
        maxItems: 100,
        ...listSet,
        description: 'Other domains whose mail is delivered to the same local parts of this domain; [] removes every other. Unset: not managed (what the server has is kept).',
      }),
    ),
    defaultQuota: Type.Optional(QuotaSpecOf('Quota for users of this domain that set none of their own. Unset: the domain level is not managed.')),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'A short description of the domain, e.g. the company name. Unset: not managed.' })),
    disabled: Type.Optional(Type.Boolean({ description: 'Keep the domain but refuse mail and logins for all of it. Unset: not managed.' })),
    totalStorage: Type.Optional(
      IntOrString({ minimum: 0 }, STORAGE_PATTERN, 'Storage all mailboxes of the domain may use together (a quantity, or "unlimited"). Unset: not managed.'),
    ),
    maxUserStorage: Type.Optional(
      IntOrString({ minimum: 0 }, STORAGE_PATTERN, 'The largest storage quota one user of the domain may have (a quantity, or "unlimited"). Unset: not managed.'),
    ),
    prune: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({
            description:
              'Delete users and aliases of this domain that exist on a backend but are not declared. Off by default.',
          }),
          maxUserDeletionPercent: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: 100,
              default: 25,
              description:
                'Refuse a run that would delete more than this share of the domain’s users on a backend ' +
                '(override with --allow-mass-deletion).',
            }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    deletionPolicy: DeletionPolicy('the domain (refused while it still holds users or aliases)'),
    ...Object.fromEntries(Object.entries(DOMAIN_BACKEND_OPTIONS).map(([type, schema]) => [type, Type.Optional(schema)])),
  },
  { additionalProperties: false },
);

export const MailUserSpec = Type.Object(
  {
    address: MailAddress('The primary mail address and login of the user.'),
    displayName: Type.Optional(Type.String({ maxLength: 256, description: 'Full name shown to others. Unset: not managed (what the server has is kept).' })),
    passwordSecretRef: PasswordSecretRef,
    extraAddresses: Type.Optional(
      AddressList('More addresses that deliver to this mailbox (per-user aliases); [] removes every other. Unset: not managed (what the server has is kept).'),
    ),
    forwarding: Type.Optional(
      Type.Object(
        {
          to: AddressList('Addresses that receive a copy of every message; [] removes every forward.'),
          keepCopy: Type.Optional(
            Type.Boolean({ default: false, description: 'Also keep the message in this mailbox.' }),
          ),
        },
        { additionalProperties: false, description: 'Forwarding, owned whole when set. Unset: not managed (what the server has is kept).' },
      ),
    ),
    disabled: Type.Optional(
      Type.Boolean({ description: 'Keep the account but refuse logins and delivery. Unset: not managed (what the server has is kept).' }),
    ),
    quota: Type.Optional(QuotaSpec),
    backendRefs: Type.Optional(
      BackendRefs('Serve this user on only some of its domain’s backends (default: all of them).'),
    ),
    deletionPolicy: DeletionPolicy('the user and its mailbox'),
  },
  { additionalProperties: false },
);

export const AliasSpec = Type.Object(
  {
    address: MailAddress('The alias address.'),
    members: AddressList('Where mail to the alias goes: one address or many.', 1),
    backendRefs: Type.Optional(
      BackendRefs('Serve this alias on only some of its domain’s backends (default: all of them).'),
    ),
    deletionPolicy: DeletionPolicy('the alias'),
  },
  { additionalProperties: false },
);

/** How much mail may pass in one direction within a period; a limit left out is no limit. */
const ThrottleDirection = (direction: 'inbound' | 'outbound') =>
  Type.Object(
    {
      period: IntOrString(
        { minimum: 1 },
        DURATION_PATTERN,
        'The period the limits count over: seconds, or a duration such as 30m, 1h or 1d.',
      ),
      maxMessageSize: Type.Optional(
        IntOrString({ minimum: 0 }, STORAGE_PATTERN, 'The largest single message (a quantity such as 10Mi, or "unlimited").'),
      ),
      maxMessages: Type.Optional(IntOrString({ minimum: 0 }, MESSAGES_PATTERN, `Messages ${direction === 'inbound' ? 'received' : 'sent'} per period, or "unlimited".`)),
      maxTotalSize: Type.Optional(
        IntOrString({ minimum: 0 }, STORAGE_PATTERN, `The size of all messages ${direction === 'inbound' ? 'received' : 'sent'} per period together (a quantity, or "unlimited").`),
      ),
    },
    {
      additionalProperties: false,
      description: `Throttling of ${direction} mail. At least one of maxMessageSize, maxMessages and maxTotalSize.`,
      [CEL_RULES]: [
        {
          rule: 'has(self.maxMessageSize) || has(self.maxMessages) || has(self.maxTotalSize)',
          message: 'set at least one of maxMessageSize, maxMessages, maxTotalSize',
        },
      ],
    },
  );

export const QuotaPolicySpec = Type.Object(
  {
    storage: Type.Optional(Storage),
    messages: Type.Optional(Messages),
    throttle: Type.Optional(
      Type.Object(
        { inbound: Type.Optional(ThrottleDirection('inbound')), outbound: Type.Optional(ThrottleDirection('outbound')) },
        {
          additionalProperties: false,
          description:
            'Message rate limits, on backends that have them (iRedAdmin-Pro); elsewhere shown as not applicable. They apply ' +
            'where the policy does: server-wide for the globalDefault policy, to a domain whose defaultQuota names it, to a ' +
            'user whose quota names it. Owned whole: a direction left out has no throttling at that level.',
        },
      ),
    ),
    globalDefault: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Apply to every user whose own quota and whose domain’s default quota leave a limit unset. ' +
          'At most one QuotaPolicy per namespace may be the global default; it acts on the backends of its namespace.',
      }),
    ),
  },
  { additionalProperties: false },
);

function kindSchema<K extends string, S extends TSchema>(kind: K, spec: S) {
  return Type.Object(
    {
      apiVersion: Type.Literal(API_GROUP_VERSION),
      kind: Type.Literal(kind),
      metadata: ObjectMeta,
      spec,
      status: Type.Optional(CommonStatus),
    },
    { additionalProperties: false },
  );
}

export const MailBackend = kindSchema('MailBackend', MailBackendSpec);
export const MailDomain = kindSchema('MailDomain', MailDomainSpec);
export const MailUser = kindSchema('MailUser', MailUserSpec);
export const Alias = kindSchema('Alias', AliasSpec);
export const QuotaPolicy = kindSchema('QuotaPolicy', QuotaPolicySpec);

export type MailBackend = Static<typeof MailBackend>;
export type MailDomain = Static<typeof MailDomain>;
export type MailUser = Static<typeof MailUser>;
export type Alias = Static<typeof Alias>;
export type QuotaPolicy = Static<typeof QuotaPolicy>;
export type MailObject = MailBackend | MailDomain | MailUser | Alias | QuotaPolicy;
export type KindName = MailObject['kind'];
