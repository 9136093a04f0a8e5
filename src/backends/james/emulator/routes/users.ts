// /users: creation, passwords, deletion, verification and the rename task (UserRoutes, UsernameChangeRoutes, 3.8.1).

import type { EmulatorRequest } from '../../../emulator/server.ts';
import { routeTable, type Route, type RouteHandler } from '../../../emulator/router.ts';
import { bodyText, empty, halt, invalidArguments, invalidJson, json, missingValue, readJsonObject } from '../answers.ts';
import { mappingConflict } from '../mapping-rules.ts';
import { usernameParam, type Username } from '../names.ts';
import { deleteUser, passwordHash, putUser, type JamesStore } from '../store.ts';
import { RENAME_STEPS, submitRename, type JamesTaskWorker } from '../tasks.ts';

/** The `password` of an AddUserRequest or a VerifyUserRequest; `refuse` answers with Jackson's details. */
function readPassword(request: EmulatorRequest, dto: string, refuse: (details: string) => never): string {
  const { password } = readJsonObject(request, ['password'], refuse);
  if (password === undefined || password === null) refuse(missingValue(`org.apache.james.webadmin.dto.${dto}`, bodyText(request)));
  if (typeof password !== 'string') refuse(`Cannot deserialize value of type \`[C\` from ${typeof password} value`);
  return password;
}

export function userRoutes(store: JamesStore, tasks: JamesTaskWorker, taskDurationMs: number): Route<RouteHandler>[] {
  /** UsersRepositoryImpl.assertValid, with virtual hosting on. */
  const assertValidUser = (username: Username): void => {
    const invalid = (details: string): never => halt(400, 'InvalidArgument', 'Username supplied is invalid', details);
    if (username.domain === undefined) invalid('Given Username needs to contain a @domainpart');
    else if (!store.domains.has(username.domain)) invalid('Domain does not exist in DomainList');
    if (/["(),:; <>@[\\\]]/.test(username.localPart)) {
      invalid(`Given Username '${username.name}' should not contain any of those characters: "(),:; <>@[\\]`);
    }
  };

  return routeTable<RouteHandler>([
    ['GET', '/users', () => json([...store.users.keys()].map((username) => ({ username })))],
    ['HEAD', '/users/:user', (call) => empty(store.users.has(usernameParam(call.param('user')).name) ? 200 : 404)],
    // PUT creates (409 if present); PUT ?force creates or changes the password.
    ['PUT', '/users/:user', (call) => {
      const username = usernameParam(call.param('user'));
      const password = readPassword(call.request, 'AddUserRequest', invalidJson);
      if (!(call.query.has('force') && store.users.has(username.name))) {
        // UsersRepositoryImpl validates with both DefaultUserEntityValidator and the rewrite table's.
        const conflict = store.users.has(username.name)
          ? `'${username.name}' user already exist`
          : mappingConflict(store, username.name);
        if (conflict !== undefined) halt(409, 'WrongState', conflict, conflict);
      }
      assertValidUser(username);
      putUser(store, username, password);
      return empty();
    }],
    // 204 whether or not the user existed; mailboxes, mappings and quotas stay.
    ['DELETE', '/users/:user', (call) => {
      deleteUser(store, usernameParam(call.param('user')));
      return empty();
    }],
    ['POST', '/users/:user/verify', (call) => {
      const username = usernameParam(call.param('user')).name;
      const password = readPassword(call.request, 'VerifyUserRequest',
        (details) => halt(400, 'InvalidArgument', 'Error while deserializing verifyUser request', details));
      return empty(store.users.get(username) === passwordHash(password) ? 204 : 401);
    }],
    // UsernameChangeRoutes: POST /users/{old}/rename/{new}?action=rename starts a task.
    ['POST', '/users/:oldUser/rename/:newUser', (call) => {
      const action = call.query.get('action');
      const supported = 'Supported values are [rename]';
      if (action === null) invalidArguments(`'action' query parameter is compulsory. ${supported}`);
      if (action.trim() === '') invalidArguments(`'action' query parameter cannot be empty or blank. ${supported}`);
      if (action !== 'rename') invalidArguments(`Invalid value supplied for query parameter 'action': ${action}. ${supported}`);
      const oldUser = usernameParam(call.param('oldUser')).name;
      const newUser = usernameParam(call.param('newUser')).name;
      if (!store.users.has(oldUser)) invalidArguments("'oldUser' parameter should be an existing user");
      if (!store.users.has(newUser)) invalidArguments("'newUser' parameter should be an existing user");
      const fromStep = call.query.get('fromStep');
      if (fromStep !== null && !RENAME_STEPS.some((step) => step.name === fromStep)) {
        invalidArguments(`Starting step not found: ${fromStep}`);
      }
      const task = submitRename(tasks, { store, oldUser, newUser, fromStep }, taskDurationMs);
      return json({ taskId: task.id }, 201, { location: `/tasks/${task.id}` });
    }],
  ]);
}
