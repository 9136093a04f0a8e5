// What every route of the iRedAdmin-Pro emulator works with: the store, the envelope of this server's release,
// the call's parameters, and the server settings that apply to every account.

import type { RouteCall, RouteHandler } from '../../emulator/router.ts';
import type { Envelope } from './answers.ts';
import { isIRedMailDomain, Params } from './params.ts';
import type { IRedAdminStore } from './store.ts';

export interface RouteContext {
  readonly store: IRedAdminStore;
  readonly reply: Envelope;
  params(call: RouteCall): Params;
}

export function routeContext(store: IRedAdminStore, reply: Envelope): RouteContext {
  return { store, reply, params: (call) => new Params(call, reply.refuse) };
}

/** settings.py `min_passwd_length` (8 by default); iRedAdmin-Pro's other password rules are not emulated. */
export const MIN_PASSWORD_LENGTH = 8;

/** The reasons iredpwd.verify_new_password gives, comma-separated, or undefined for a good password. */
export function passwordProblems(password: string): string | undefined {
  if (password === '') return 'PW_EMPTY';
  const problems = [
    ...(/[^\x20-\x7e]/.test(password) ? ['PW_NON_ASCII'] : []),
    ...(password.length < MIN_PASSWORD_LENGTH ? ['PW_SHORTER_THAN_MIN_LENGTH'] : []),
  ];
  return problems.length > 0 ? problems.join(',') : undefined;
}

/**
 * GET /api/users/<domain> and /api/aliases/<domain>: a domain's accounts sorted by address, only the disabled ones
 * with `disabled_only`, as bare addresses with `email_only`, else as profiles.
 */
export function listOfDomain<R extends { readonly active: boolean }>(
  context: RouteContext,
  accounts: (domain: string) => Iterable<string>,
  record: (address: string) => R,
  json: (record: R) => Record<string, unknown>,
): RouteHandler {
  return (call) => {
    const domain = call.param('domain').toLowerCase();
    if (!isIRedMailDomain(domain)) context.reply.refuse('INVALID_DOMAIN_NAME');
    const params = context.params(call);
    const addresses = [...accounts(domain)].sort().filter((address) => !params.has('disabled_only') || !record(address).active);
    return context.reply.ok(params.has('email_only') ? addresses : addresses.map((address) => json(record(address))));
  };
}
