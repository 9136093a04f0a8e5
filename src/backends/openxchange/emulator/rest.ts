// The REST admin API of the emulator, under the seed's paths (shared/seeds/open-xchange-rest-api.txt): the health
// check, closing sessions, and the mail resolver. HTTP Basic with the seed's schemes — `masterAdminAuth` (the master
// admin) for closing sessions, `basicAuth` (com.openexchange.rest.services.basic-auth.*) for the rest — and its
// status codes: 400 with a message, 401, 404 for a wrong path with a message, 503 with the health document when DOWN.

import { jsonAnswer, textAnswer } from '../../emulator/answers.ts';
import { basicCredentials } from '../../emulator/credentials.ts';
import { routeTable, type RouteCall, type RouteHandler } from '../../emulator/router.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../emulator/server.ts';
import { passwordHash, type OXStore } from './store.ts';

export interface RestLogin {
  readonly user: string;
  readonly passwordHash: string;
}

export interface HealthState {
  /** Names of the checks that report DOWN. */
  readonly down: Set<string>;
}

/** The checks the emulated middleware runs (a real one runs more). */
export const HEALTH_CHECKS = ['allPluginsLoaded', 'configdb', 'hazelcast', 'jvmHeap'] as const;

export const badRequest = (message: string): EmulatorResponse => textAnswer(message, 'text/plain; charset=utf-8', { status: 400 });
export const notFound = (request: EmulatorRequest): EmulatorResponse => textAnswer(`No such path: ${request.method} ${request.rawPath}`, 'text/plain; charset=utf-8', { status: 404 });
const unauthorized = (): EmulatorResponse => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="OX REST API"' }, body: '' });

function authorized(request: EmulatorRequest, login: RestLogin): boolean {
  const credentials = basicCredentials(request);
  return credentials !== undefined && credentials.user === login.user && passwordHash(credentials.password) === login.passwordHash;
}

function readJson(request: EmulatorRequest): unknown {
  try {
    return JSON.parse(request.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const isInteger = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);

export function restRoutes(store: OXStore, logins: { master: RestLogin; basic: RestLogin }, health: HealthState) {
  const requiring = (login: RestLogin, handler: RouteHandler): RouteHandler => (call) => (authorized(call.request, login) ? handler(call) : unauthorized());

  const healthDocument = (): EmulatorResponse => {
    const names = [...new Set<string>([...HEALTH_CHECKS, ...health.down])];
    const checks = names.map((name) => ({ name, status: health.down.has(name) ? 'DOWN' : 'UP', data: {} }));
    const status = health.down.size > 0 ? 'DOWN' : 'UP';
    const service = { name: 'open-xchange-emulator', version: '8.0.0', buildDate: '2024-01-01', date: new Date().toUTCString(), timeZone: 'UTC', locale: 'en_US', charset: 'UTF-8' };
    return jsonAnswer({ status, checks, service, blacklist: [], ignorelist: [] }, { status: status === 'UP' ? 200 : 503 });
  };

  const closeByUser: RouteHandler = (call) => {
    const body = readJson(call.request) as { users?: unknown } | undefined;
    const users = Array.isArray(body?.users) ? body.users : undefined;
    const valid = users?.every((u) => typeof u === 'object' && u !== null && isInteger((u as Record<string, unknown>)['contextId']) && isInteger((u as Record<string, unknown>)['userId']));
    if (!users || !valid) return badRequest('Expected a JSON object {"users": [{"contextId": <int>, "userId": <int>}]}');
    const wanted = new Set((users as Array<{ contextId: number; userId: number }>).map((u) => `${u.contextId}/${u.userId}`));
    for (const session of [...store.sessions.values()]) if (wanted.has(`${session.contextId}/${session.userId}`)) store.sessions.delete(session.id);
    return { status: 200 };
  };

  const closeByContext: RouteHandler = (call) => {
    const body = readJson(call.request) as { contextIds?: unknown } | undefined;
    const ids = Array.isArray(body?.contextIds) && body.contextIds.every(isInteger) ? new Set(body.contextIds as number[]) : undefined;
    if (!ids) return badRequest('Expected a JSON object {"contextIds": [<int>]}');
    const closed: string[] = [];
    for (const session of [...store.sessions.values()]) {
      if (!ids.has(session.contextId)) continue;
      store.sessions.delete(session.id);
      closed.push(session.id);
    }
    return jsonAnswer({ closed });
  };

  const closeById: RouteHandler = (call) => {
    const body = readJson(call.request) as { sessionIds?: unknown } | undefined;
    const ids = Array.isArray(body?.sessionIds) && body.sessionIds.every((id) => typeof id === 'string') ? (body.sessionIds as string[]) : undefined;
    if (!ids) return badRequest('Expected a JSON object {"sessionIds": [<string>]}');
    for (const id of ids) store.sessions.delete(id);
    return { status: 200 };
  };

  /** `a@x;b@y` → the users they belong to, by address; unknown addresses left out. */
  const resolve: RouteHandler = (call: RouteCall) => {
    const found: Record<string, { user: number; context: number }> = {};
    for (const raw of call.param('mails').split(';')) {
      const address = raw.trim().toLowerCase();
      if (address === '') continue;
      for (const context of store.contexts.values()) {
        const user = context.userByAddress.get(address);
        if (user !== undefined) {
          found[raw.trim()] = { user, context: context.id };
          break;
        }
      }
    }
    return jsonAnswer(found);
  };

  return routeTable<RouteHandler>([
    ['GET', '/health', requiring(logins.basic, healthDocument)],
    ['POST', '/admin/v1/close-sessions/by-user', requiring(logins.master, closeByUser)],
    ['POST', '/admin/v1/close-sessions/by-context', requiring(logins.master, closeByContext)],
    ['POST', '/admin/v1/close-sessions/by-id', requiring(logins.master, closeById)],
    ['GET', '/preliminary/utilities/mailResolver/v1/resolve/:mails', requiring(logins.basic, resolve)],
  ]);
}
