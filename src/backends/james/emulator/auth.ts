// WebAdmin's authentication filters: JwtFilter (3.8: an RS256 bearer token with `admin: true`) or PasswordFilter
// (3.9: static passwords), or none. Their 401 bodies are plain text, yet labelled application/json by an earlier
// filter (james.md, "Seen on the real server").

import { createPublicKey } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { EmulatorRequest, EmulatorResponse } from '../../emulator/server.ts';
import { JSON_CONTENT } from './answers.ts';

export interface JamesAuthOptions {
  /** PEM public key: WebAdmin then wants `Authorization: Bearer <jwt>` (RS256, claims `sub` and `admin: true`), as 3.8. */
  jwtPublicKey?: string;
  /** Comma-separated passwords: WebAdmin then wants `Password: <p>` or `Authorization: Bearer <p>`, as 3.9. */
  password?: string;
}

/** Resolves to the refusal, or undefined when the request may go on. */
export type Authenticate = (request: EmulatorRequest) => Promise<EmulatorResponse | undefined>;

function unauthorized(text: string): EmulatorResponse {
  return { status: 401, headers: JSON_CONTENT, body: text };
}

function bearerOf(request: EmulatorRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
}

export function createAuthentication(options: JamesAuthOptions): Authenticate {
  if (options.jwtPublicKey !== undefined && options.password !== undefined) {
    throw new Error('give jwtPublicKey (James 3.8 JWT) or password (James 3.9), not both');
  }
  if (options.jwtPublicKey !== undefined) {
    const key = createPublicKey(options.jwtPublicKey);
    // A missing header, a token that does not verify or has no `sub`, and a non-admin token differ.
    return async (request) => {
      const token = bearerOf(request);
      if (token === undefined) return unauthorized('No Bearer header.');
      let payload: Record<string, unknown>;
      try {
        payload = (await jwtVerify(token, key)).payload;
      } catch {
        return unauthorized('Invalid Bearer header.');
      }
      if (typeof payload['sub'] !== 'string' || payload['sub'] === '') return unauthorized('Invalid Bearer header.');
      if (payload['admin'] !== true) return unauthorized('Non authorized user.');
      return undefined;
    };
  }
  if (options.password !== undefined) {
    const passwords = options.password.split(',');
    // The `Password` header, else `Authorization: Bearer <password>`.
    return async (request) => {
      const header = request.headers['password'];
      const given = (Array.isArray(header) ? header[0] : header) ?? bearerOf(request);
      if (given === undefined) return unauthorized('No Password in header.');
      return passwords.includes(given) ? undefined : unauthorized('Wrong password.');
    };
  }
  return async () => undefined;
}
