// The Administration API functions the emulator knows (mailstore.md, "User functions"), each with its arguments as
// `get-metadata` lists them and what it does to the store. Arguments arrive as form fields: lists comma-separated,
// booleans lower case. A refusal is thrown as MailStoreRefusal and answered in the form's error shape by the caller.

import { ActionParameters } from '../../emulator/actions.ts';
import {
  AUTHENTICATIONS,
  FOLDER_PRIVILEGES,
  LOGIN_PRIVILEGES,
  MailStoreRefusal,
  PRIVILEGES,
  emailAddressList,
  findUser,
  privilegeList,
  putUser,
  userOf,
  type MailStoreStore,
  type StoredUser,
} from './store.ts';

export interface ArgumentInfo {
  readonly name: string;
  readonly type: 'string' | 'number' | 'bool';
  readonly nullable: boolean;
}

export interface ApiFunction {
  readonly args: readonly ArgumentInfo[];
  /** Runs the function once its time has come (at once, or at the end of a long-running call). */
  run(store: MailStoreStore, params: ActionParameters): unknown;
  /** Functions that are long-running by nature: their default duration and the lines they log. */
  readonly longRunning?: { readonly durationMs: number; lines(params: ActionParameters): string[] };
}

const arg = (name: string, type: ArgumentInfo['type'] = 'string', nullable = false): ArgumentInfo => ({ name, type, nullable });

/** Login privileges a user gets when CreateUser is not told (the emulator's choice; the fact sheet is silent). */
const DEFAULT_LOGIN_PRIVILEGES = ['windows', 'web', 'outlook'];

function userInfo(user: StoredUser): unknown {
  return {
    userName: user.userName,
    fullName: user.fullName,
    distinguishedName: user.distinguishedName,
    authentication: user.authentication,
    emailAddresses: [...user.emailAddresses],
    pop3UserNames: [...user.pop3UserNames],
    privileges: [...user.privileges],
    privilegesOnFolders: [...user.privilegesOnFolders].map(([folder, privileges]) => ({ folder, privileges: [...privileges] })),
  };
}

/** A list argument that must be given (`none` for the empty set). */
function requiredList(params: ActionParameters, name: string): string[] {
  params.required(name);
  return params.list(name);
}

function authentication(value: string | undefined): StoredUser['authentication'] {
  if (value === undefined) return 'integrated';
  const known = AUTHENTICATIONS.find((a) => a === value);
  if (known === undefined) throw new MailStoreRefusal(`Invalid authentication '${value}'.`, `Allowed values: ${AUTHENTICATIONS.join(', ')}`);
  return known;
}

function newUserName(store: MailStoreStore, userName: string): string {
  if (userName.trim() === '' || /[\\/:*?"<>|]/.test(userName)) throw new MailStoreRefusal(`Invalid user name '${userName}'.`);
  if (findUser(store, userName) !== undefined) throw new MailStoreRefusal(`User '${userName}' already exists.`);
  return userName;
}

function verifyLines(what: string): (params: ActionParameters) => string[] {
  return (params) => {
    const id = params.optional('id') ?? '1';
    return [`${what} file group #${id}...`, 'Creating a list of messages to be verified...', '1249 messages are about to be verified.', 'Verifying...',
      ...[100, 400, 800, 1200].map((n) => `  ${n} messages verified...`), '  1249 messages verified.', 'Finished. No errors have been found.'];
  };
}

/** SetUserPrivileges and SetUserLoginPrivileges: a user's privilege set, replaced whole. */
function privilegeSetter(field: 'privileges' | 'loginPrivileges', allowed: readonly string[], what: string): ApiFunction {
  return {
    args: [arg('userName'), arg(field)],
    run: (store, p) => {
      const user = userOf(store, p.required('userName'));
      user[field] = privilegeList(requiredList(p, field), allowed, what);
      return null;
    },
  };
}

export const API_FUNCTIONS: Readonly<Record<string, ApiFunction>> = {
  GetServerInfo: {
    args: [],
    run: () => ({ version: '13.2.1.20465', machineName: 'MAILSTORE-EMU' }),
  },
  GetUsers: {
    args: [],
    run: (store) => [...store.users.values()].map((u) => ({ userName: u.userName, fullName: u.fullName, distinguishedName: u.distinguishedName })),
  },
  GetUserInfo: {
    args: [arg('userName')],
    run: (store, p) => userInfo(userOf(store, p.required('userName'))),
  },
  CreateUser: {
    args: [arg('userName'), arg('privileges'), arg('fullName', 'string', true), arg('distinguishedName', 'string', true),
      arg('authentication', 'string', true), arg('password', 'string', true), arg('loginPrivileges', 'string', true)],
    run: (store, p) => {
      const userName = newUserName(store, p.required('userName'));
      const privileges = privilegeList(requiredList(p, 'privileges'), PRIVILEGES, 'privilege');
      putUser(store, {
        userName,
        fullName: p.optional('fullName') ?? null,
        distinguishedName: p.optional('distinguishedName') ?? null,
        authentication: authentication(p.optional('authentication')),
        emailAddresses: [],
        pop3UserNames: [],
        privileges,
        loginPrivileges: p.optional('loginPrivileges') === undefined ? [...DEFAULT_LOGIN_PRIVILEGES] : privilegeList(p.list('loginPrivileges'), LOGIN_PRIVILEGES, 'login privilege'),
        privilegesOnFolders: new Map(),
        password: p.optional('password') ?? null,
      });
      return null;
    },
  },
  DeleteUser: {
    args: [arg('userName')],
    run: (store, p) => {
      const user = userOf(store, p.required('userName'));
      if (user.userName.toLowerCase() === 'admin') throw new MailStoreRefusal("The user 'admin' cannot be deleted.");
      // The user's archive stays in the store; only the user goes.
      store.users.delete(user.userName.toLowerCase());
      return null;
    },
  },
  RenameUser: {
    args: [arg('oldUserName'), arg('newUserName')],
    run: (store, p) => {
      const user = userOf(store, p.required('oldUserName'));
      const newName = p.required('newUserName');
      if (newName.toLowerCase() !== user.userName.toLowerCase()) newUserName(store, newName);
      store.users.delete(user.userName.toLowerCase());
      putUser(store, { ...user, userName: newName });
      return null;
    },
  },
  SetUserEmailAddresses: {
    args: [arg('userName'), arg('emailAddresses', 'string', true)],
    run: (store, p) => {
      const user = userOf(store, p.required('userName'));
      user.emailAddresses = emailAddressList(p.list('emailAddresses'));
      return null;
    },
  },
  SetUserFullName: {
    args: [arg('userName'), arg('fullName', 'string', true)],
    run: (store, p) => {
      userOf(store, p.required('userName')).fullName = p.optional('fullName') ?? null;
      return null;
    },
  },
  SetUserPassword: {
    args: [arg('userName'), arg('password')],
    run: (store, p) => {
      const user = userOf(store, p.required('userName'));
      const password = p.required('password');
      if (user.authentication !== 'integrated') throw new MailStoreRefusal(`The password of '${user.userName}' cannot be set: the user authenticates through directory services.`);
      user.password = password;
      return null;
    },
  },
  SetUserPrivileges: privilegeSetter('privileges', PRIVILEGES, 'privilege'),
  SetUserLoginPrivileges: privilegeSetter('loginPrivileges', LOGIN_PRIVILEGES, 'login privilege'),
  SetUserAuthentication: {
    args: [arg('userName'), arg('authentication')],
    run: (store, p) => {
      userOf(store, p.required('userName')).authentication = authentication(p.required('authentication'));
      return null;
    },
  },
  SetUserPrivilegesOnFolder: {
    args: [arg('userName'), arg('folder'), arg('privileges')],
    run: (store, p) => {
      const user = userOf(store, p.required('userName'));
      const privileges = privilegeList(requiredList(p, 'privileges'), FOLDER_PRIVILEGES, 'folder privilege');
      if (privileges.length === 0) user.privilegesOnFolders.delete(p.required('folder'));
      else user.privilegesOnFolders.set(p.required('folder'), privileges);
      return null;
    },
  },
  VerifyStore: {
    args: [arg('id', 'number')],
    run: () => null,
    longRunning: { durationMs: 2000, lines: verifyLines('Verifying') },
  },
  RebuildStoreIndex: {
    args: [arg('id', 'number')],
    run: () => null,
    longRunning: { durationMs: 2000, lines: verifyLines('Rebuilding the index of') },
  },
};

/** The function's arguments that are not nullable and missing, refused before anything runs. */
export function checkArguments(fn: ApiFunction, params: ActionParameters): void {
  for (const info of fn.args) if (!info.nullable) params.required(info.name);
}

/** What `get-metadata` answers. */
export function metadata(): unknown {
  return Object.entries(API_FUNCTIONS).map(([name, fn]) => ({ name, args: fn.args.map((a) => ({ ...a })) }));
}
