// /users/{user}/mailboxes (UserMailboxesRoutes, 3.8.1). The hierarchy delimiter is `.`.

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { empty, halt, json } from '../answers.ts';
import { usernameParam } from '../names.ts';
import { createMailbox, type JamesStore, type Mailbox } from '../store.ts';

/** The mailbox's full path as James names it in messages. */
function mailboxPath(call: RouteCall): string {
  return `#private:${usernameParam(call.param('user')).name}:${call.param('mailbox')}`;
}

/** MailboxPath.assertAcceptable. */
function mailboxName(call: RouteCall, message: string): string {
  const name = call.param('mailbox');
  const path = mailboxPath(call);
  const reject = (details: string): never => halt(400, 'InvalidArgument', message, details);
  if (name.replace(/\s/g, '').split('.').some((part) => part === '')) {
    reject(`'${path}' has an empty part within its mailbox name considering . as a delimiter`);
  }
  if (/[%*]/.test(name) || name.startsWith('#')) reject(`${path} contains one of the forbidden characters %* or starts with #`);
  if (name.length > 200) reject('Mailbox name exceeds maximum size of 200 characters');
  return name;
}

export function mailboxRoutes(store: JamesStore): Route<RouteHandler>[] {
  /** UserMailboxesService.usernamePreconditions; the 404 message depends on the route, as in James. */
  const ownerOf = (call: RouteCall, message = 'Invalid get on user mailboxes'): string => {
    const username = usernameParam(call.param('user')).name;
    if (!store.users.has(username)) halt(404, 'notFound', message, 'User does not exist');
    return username;
  };
  const existing = (call: RouteCall): Mailbox => {
    const username = ownerOf(call);
    const mailbox = store.mailboxes.get(username)?.get(mailboxName(call, 'Attempt to test existence of an invalid mailbox'));
    return mailbox ?? halt(404, 'notFound', 'Invalid get on user mailboxes', `${mailboxPath(call)} can not be found`);
  };

  return routeTable<RouteHandler>([
    ['GET', '/users/:user/mailboxes', (call) => {
      const mailboxes = [...(store.mailboxes.get(ownerOf(call)) ?? new Map<string, Mailbox>())].sort(([a], [b]) => (a < b ? -1 : 1));
      return json(mailboxes.map(([mailboxName, mailbox]) => ({ mailboxName, mailboxId: mailbox.id })));
    }],
    // Deletes every mailbox of the user.
    ['DELETE', '/users/:user/mailboxes', (call) => {
      store.mailboxes.get(ownerOf(call, 'Invalid delete on user mailboxes'))?.clear();
      return empty();
    }],
    ['GET', '/users/:user/mailboxes/:mailbox', (call) => {
      const username = ownerOf(call);
      const name = mailboxName(call, 'Attempt to test existence of an invalid mailbox');
      return store.mailboxes.get(username)?.has(name) ? empty() : halt(404, 'notFound', 'Mailbox does not exist');
    }],
    ['PUT', '/users/:user/mailboxes/:mailbox', (call) => {
      createMailbox(store, ownerOf(call), mailboxName(call, 'Attempt to create an invalid mailbox'));
      return empty();
    }],
    // Deletes the mailbox and its children; 204 when it does not exist.
    ['DELETE', '/users/:user/mailboxes/:mailbox', (call) => {
      const mailboxes = store.mailboxes.get(ownerOf(call, 'Invalid delete on user mailboxes'));
      const name = mailboxName(call, 'Attempt to delete an invalid mailbox');
      for (const candidate of [...(mailboxes?.keys() ?? [])]) {
        if (candidate === name || candidate.startsWith(`${name}.`)) mailboxes?.delete(candidate);
      }
      return empty();
    }],
    ['GET', '/users/:user/mailboxes/:mailbox/messageCount', (call) => json(existing(call).messageCount)],
    // The emulator's messages are delivered, never read: all of them are unseen.
    ['GET', '/users/:user/mailboxes/:mailbox/unseenMessageCount', (call) => json(existing(call).messageCount)],
  ]);
}
