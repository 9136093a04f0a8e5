// How emulated servers tell who is calling: HTTP Basic credentials (MailStore, the Open-Xchange REST API) and
// cookie sessions that expire (iRedAdmin-Pro: a login sets the cookie, every later call must carry it;
// iredadmin.md). How a refusal looks is each backend's own business.

import { randomBytes } from 'node:crypto';
import type { EmulatorRequest } from './server.ts';

export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/** The `Authorization: Basic …` credentials, or undefined when absent or malformed. */
export function basicCredentials(request: EmulatorRequest): BasicCredentials | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The value of one cookie of the request. */
export function cookieOf(request: EmulatorRequest, name: string): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = pair.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

export interface Session {
  readonly id: string;
  readonly user: string;
  /** Epoch milliseconds after which the session is gone. */
  expiresAt: number;
}

export interface CookieSessionOptions {
  readonly cookieName: string;
  /** How long a session lives without being used; each use extends it. */
  readonly idleTimeoutMs: number;
  /** The clock, for tests that let a session expire without waiting. Default Date.now. */
  readonly now?: () => number;
}

export interface CookieSessions {
  /** Opens a session for `user`; the header value sets its cookie. */
  open(user: string): { session: Session; setCookie: string };
  /** The live session the request's cookie names (its idle timeout starts again), or undefined. */
  find(request: EmulatorRequest): Session | undefined;
  /** Ends a session (a logout, or the test hook for an expiry the server decided). */
  end(id: string): void;
}

export function createCookieSessions(options: CookieSessionOptions): CookieSessions {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Session>();
  return {
    open(user) {
      const session: Session = { id: randomBytes(16).toString('hex'), user, expiresAt: now() + options.idleTimeoutMs };
      sessions.set(session.id, session);
      return { session, setCookie: `${options.cookieName}=${session.id}; Path=/; HttpOnly` };
    },
    find(request) {
      const id = cookieOf(request, options.cookieName);
      const session = id === undefined ? undefined : sessions.get(id);
      if (session === undefined) return undefined;
      if (now() >= session.expiresAt) {
        sessions.delete(session.id);
        return undefined;
      }
      session.expiresAt = now() + options.idleTimeoutMs;
      return session;
    },
    end(id) {
      sessions.delete(id);
    },
  };
}
