// iRedAdmin-Pro's answers (iredadmin.md): JSON at HTTP 200 whatever happened; `{"_success": true}` (GET adds
// `"_data"`) or `{"_success": false, "_msg": "REASON"}`. Releases before SQL 2.6 / LDAP 2.8 wrote `{success, msg}`;
// the emulator speaks that form when asked to. A handler refuses by throwing (halt), as the server's helpers
// return `(False, 'REASON')` from deep inside.

import { halt, jsonAnswer } from '../../emulator/answers.ts';
import type { EmulatorResponse } from '../../emulator/server.ts';

export interface Envelope {
  ok(data?: unknown): EmulatorResponse;
  /** `_success: false` with a reason; without one (a password that does not match) when `msg` is undefined. */
  failed(msg?: string): EmulatorResponse;
  /** Answers at once with a failure. */
  refuse(msg: string): never;
}

export function envelope(legacy: boolean): Envelope {
  const [success, message, data] = legacy ? ['success', 'msg', 'data'] : ['_success', '_msg', '_data'];
  const failed = (msg?: string) => jsonAnswer(msg === undefined ? { [success]: false } : { [success]: false, [message]: msg });
  return {
    ok: (value?: unknown) => jsonAnswer(value === undefined ? { [success]: true } : { [success]: true, [data]: value }),
    failed,
    refuse: (msg) => halt(failed(msg)),
  };
}

/** web.py's answer to a path no route matches. */
export function notFound(): EmulatorResponse {
  return { status: 404, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'not found' };
}

/** What uwsgi/Apache answer to a request the application never saw. */
export function badRequest(): EmulatorResponse {
  return { status: 400, headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<h1>Bad Request</h1>' };
}

/** An unhandled exception in iRedAdmin: web.py's internal error page. */
export function internalError(): EmulatorResponse {
  return { status: 500, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'internal server error' };
}
