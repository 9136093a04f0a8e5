// OXUserService: the users of a context, provisioned by that context's admin (shared/backends/openxchange.md).
// A create needs name, display_name, password, given_name, sur_name, primaryEmail and email1 (the same address);
// a change changes only the fields sent; the primary address is one of the user's aliases, and no two users of a
// context share an address. listAll reports ids only; getMultipleData reads many users at once.

import { createActionTable, type ActionTable } from '../../emulator/actions.ts';
import type { SoapContent, SoapElement, SoapOperation } from '../../emulator/soap.ts';
import {
  booleanField,
  credentialsOf,
  dataObject,
  integerField,
  invalidCredentials,
  invalidData,
  listField,
  noSuchContext,
  noSuchUser,
  objectParameter,
  objectsParameter,
  patternMatcher,
  textField,
  wrappedNoSuchObject,
} from './calls.ts';
import { passwordHash, putUser, removeUser, type ContextRecord, type OXStore, type UserRecord } from './store.ts';

const MANDATORY = ['name', 'display_name', 'password', 'given_name', 'sur_name', 'primaryEmail', 'email1'] as const;
const USER_NAME = /^[A-Za-z0-9._@+-]{1,128}$/;
const ADDRESS = /^[^@\s]+@[^@\s]+$/;
/** OX's defaults for a new user. */
const DEFAULT_LANGUAGE = 'en_US';
const DEFAULT_TIMEZONE = 'Europe/Berlin';

export function userJson(user: UserRecord): SoapContent {
  return dataObject({
    aliases: user.aliases,
    display_name: user.displayName,
    email1: user.email1,
    given_name: user.givenName,
    id: user.id,
    language: user.language,
    mailenabled: user.mailEnabled,
    maxQuota: user.maxQuota,
    name: user.name,
    primaryEmail: user.primaryEmail,
    sur_name: user.surName,
    timezone: user.timezone,
    usedQuota: 0,
  });
}

function addresses(values: readonly string[]): string[] {
  const lower = values.map((value) => value.toLowerCase());
  const bad = lower.find((value) => !ADDRESS.test(value));
  if (bad !== undefined) throw invalidData(`Invalid mail address: ${bad}`);
  return [...new Set(lower)];
}

/** A new user (a context's admin, or a user of it) from its data object, checked as OX checks it. */
export function readNewUser(element: SoapElement, what: string): Omit<UserRecord, 'id'> {
  const missing = MANDATORY.filter((field) => !textField(element, field)?.trim());
  if (missing.length > 0) throw invalidData(`Mandatory fields in ${what} not set: ${missing.join(', ')}`);
  const name = textField(element, 'name')!.trim();
  if (!USER_NAME.test(name)) throw invalidData(`Invalid username: ${name}`);
  const [primaryEmail, email1] = addresses([textField(element, 'primaryEmail')!.trim(), textField(element, 'email1')!.trim()]);
  if (email1 !== undefined && primaryEmail !== email1) throw invalidData('primarymail must have the same value as email1');
  const maxQuota = integerField(element, 'maxQuota') ?? -1;
  if (maxQuota < -1) throw invalidData(`Invalid quota size: ${maxQuota}`);
  return {
    name,
    displayName: textField(element, 'display_name')!.trim(),
    givenName: textField(element, 'given_name')!.trim(),
    surName: textField(element, 'sur_name')!.trim(),
    passwordHash: passwordHash(textField(element, 'password')!),
    primaryEmail: primaryEmail!,
    email1: primaryEmail!,
    // The primary address is one of the aliases; OX adds it when a create leaves it out.
    aliases: addresses([primaryEmail!, ...(listField(element, 'aliases') ?? [])]),
    mailEnabled: booleanField(element, 'mailenabled') ?? true,
    maxQuota,
    language: textField(element, 'language')?.trim() || DEFAULT_LANGUAGE,
    timezone: textField(element, 'timezone')?.trim() || DEFAULT_TIMEZONE,
  };
}

/** Refuses addresses another user of the context has. */
function checkAddressesFree(context: ContextRecord, user: Pick<UserRecord, 'aliases'>, self?: number): void {
  for (const address of user.aliases) {
    const holder = context.userByAddress.get(address);
    if (holder !== undefined && holder !== self) throw invalidData(`The mail address ${address} is already used by another user in context ${context.id}`);
  }
}

export function userOperations(store: OXStore): ActionTable<SoapOperation> {
  /** Every user call names its context and is that context's admin's. */
  const inContext = (operation: (context: ContextRecord, parameters: SoapElement) => SoapContent): SoapOperation => ({ parameters }) => {
    const id = integerField(objectParameter(parameters, 'ctx'), 'id');
    if (id === undefined) throw invalidData('Context id is missing');
    const context = store.contexts.get(id);
    if (!context) throw noSuchContext(id);
    const { login, password } = credentialsOf(parameters);
    const admin = context.users.get(context.adminId);
    if (!admin || login !== admin.name || passwordHash(password) !== admin.passwordHash) throw invalidCredentials();
    return operation(context, parameters);
  };

  /** The user an element names by id or by name, or undefined. */
  const lookup = (context: ContextRecord, element: SoapElement): { user: UserRecord | undefined; named: string } => {
    const id = integerField(element, 'id');
    const name = textField(element, 'name')?.trim();
    if (id === undefined && !name) throw invalidData('The user has neither id nor name');
    const user = id !== undefined ? context.users.get(id) : context.users.get(context.userByName.get(name!) ?? -1);
    return { user, named: id !== undefined ? String(id) : name! };
  };
  const find = (context: ContextRecord, element: SoapElement): UserRecord => {
    const { user, named } = lookup(context, element);
    if (!user) throw noSuchUser(named, context.id);
    return user;
  };

  return createActionTable<SoapOperation>({
    create: inContext((context, parameters) => {
      const fields = readNewUser(objectParameter(parameters, 'usrdata'), 'usrdata');
      if (context.userByName.has(fields.name)) throw invalidData(`User ${fields.name} already exists in this context`);
      checkAddressesFree(context, fields);
      const user: UserRecord = { ...fields, id: context.nextUserId++ };
      putUser(context, user);
      return { return: userJson(user) };
    }),
    change: inContext((context, parameters) => {
      const data = objectParameter(parameters, 'usrdata');
      const current = find(context, data);
      const name = textField(data, 'name')?.trim();
      if (name && name !== current.name) throw invalidData('Changing the user name is not allowed');
      const text = (field: string): string | undefined => {
        const value = textField(data, field);
        if (value !== undefined && value.trim() === '') throw invalidData(`${field} cannot be empty`);
        return value?.trim();
      };
      const [primary, email1] = [text('primaryEmail'), text('email1')].map((a) => (a === undefined ? undefined : addresses([a])[0]));
      if (primary !== undefined && email1 !== undefined && primary !== email1) throw invalidData('primarymail must have the same value as email1');
      const primaryEmail = primary ?? email1 ?? current.primaryEmail;
      const aliases = listField(data, 'aliases');
      const next: UserRecord = {
        ...current,
        displayName: text('display_name') ?? current.displayName,
        givenName: text('given_name') ?? current.givenName,
        surName: text('sur_name') ?? current.surName,
        passwordHash: textField(data, 'password') !== undefined ? passwordHash(text('password')!) : current.passwordHash,
        primaryEmail,
        email1: primaryEmail,
        aliases: aliases !== undefined ? addresses(aliases) : current.aliases,
        mailEnabled: booleanField(data, 'mailenabled') ?? current.mailEnabled,
        maxQuota: integerField(data, 'maxQuota') ?? current.maxQuota,
        language: text('language') ?? current.language,
        timezone: text('timezone') ?? current.timezone,
      };
      if (!next.aliases.includes(next.primaryEmail)) throw invalidData(`The primary mail address ${next.primaryEmail} must be one of the aliases`);
      if (next.maxQuota < -1) throw invalidData(`Invalid quota size: ${next.maxQuota}`);
      checkAddressesFree(context, next, current.id);
      putUser(context, next, current);
      return {};
    }),
    delete: inContext((context, parameters) => {
      const user = find(context, objectParameter(parameters, 'user'));
      if (user.id === context.adminId) throw invalidData('The admin of a context cannot be deleted');
      removeUser(context, user);
      return {};
    }),
    getData: inContext((context, parameters) => ({ return: userJson(find(context, objectParameter(parameters, 'user'))) })),
    getMultipleData: inContext((context, parameters) => {
      const found = objectsParameter(parameters, 'users').map((element) => {
        const { user, named } = lookup(context, element);
        if (!user) throw wrappedNoSuchObject(`No such user ${named} in context ${context.id}`);
        return userJson(user);
      });
      return { return: found };
    }),
    exists: inContext((context, parameters) => ({ return: lookup(context, objectParameter(parameters, 'user')).user !== undefined })),
    listAll: inContext((context) => ({ return: [...context.users.keys()].sort((a, b) => a - b).map((id) => dataObject({ id })) })),
    list: inContext((context, parameters) => {
      const matches = patternMatcher(textField(parameters, 'search_pattern') ?? '*');
      const ids = [...context.users.values()].filter((user) => matches(user.name)).map((user) => user.id);
      return { return: ids.sort((a, b) => a - b).map((id) => dataObject({ id })) };
    }),
  });
}
