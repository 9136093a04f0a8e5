// WebAdmin's answers and how it reads request bodies: JSON with `Content-Type: application/json` (no charset),
// errors as ErrorResponder writes them, and Jackson's strict reading of JSON bodies (james.md).

import { halt as haltWith, jsonAnswer } from '../../emulator/answers.ts';
import { decodePath } from '../../emulator/router.ts';
import type { EmulatorRequest, EmulatorResponse } from '../../emulator/server.ts';

export type JamesErrorType = 'InvalidArgument' | 'notFound' | 'WrongState' | 'ServerError';

export const JSON_CONTENT = { 'content-type': 'application/json' } as const;

export function json(value: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): EmulatorResponse {
  return jsonAnswer(value, { status, headers: { ...JSON_CONTENT, ...headers } });
}

export function empty(status = 204): EmulatorResponse {
  return { status, headers: JSON_CONTENT };
}

/** ErrorResponder's body: `{statusCode, type, message, details}` (details = the cause's message or null). */
export function jamesError(status: number, type: JamesErrorType, message: string, details: string | null = null): EmulatorResponse {
  return json({ statusCode: status, type, message, details }, status);
}

export function halt(status: number, type: JamesErrorType, message: string, details: string | null = null): never {
  return haltWith(jamesError(status, type, message, details));
}

/** WebAdminServer's handler for IllegalArgumentException. */
export function invalidArguments(details: string): never {
  return halt(400, 'InvalidArgument', 'Invalid arguments supplied in the user request', details);
}

/** Spark's notFound route; the path is shown decoded. */
export function routeNotFound(request: EmulatorRequest): EmulatorResponse {
  const path = `/${(decodePath(request.rawPath) ?? []).join('/')}`;
  return jamesError(404, 'notFound', `${request.method} ${path} can not be found`);
}

/** A malformed URL never reaches James: Jetty answers with its own HTML page. */
export function malformedUrl(): EmulatorResponse {
  return {
    status: 400,
    headers: { 'content-type': 'text/html;charset=iso-8859-1' },
    body: '<h1>Bad Message 400</h1><pre>reason: Bad Request</pre>',
  };
}

/**
 * The request body as James reads it. Sent as a form (curl's default content type) it arrives empty: Jetty has
 * consumed it as form parameters. Any other content type, or none, is read as sent (seen on 3.8.1).
 */
export function bodyText(request: EmulatorRequest): string {
  const contentType = request.headers['content-type'] ?? '';
  return /^application\/x-www-form-urlencoded\s*(?:;|$)/i.test(contentType) ? '' : request.body.toString('utf8');
}

export function invalidJson(details: string): never {
  return halt(400, 'InvalidArgument', 'JSON payload of the request is not valid', details);
}

/** Jackson's report of a DTO whose constructor refused a missing value (seen on 3.8.1 for `{}`). */
export function missingValue(dtoClass: string, text: string): string {
  const lines = text.split('\n');
  return `Cannot construct instance of \`${dtoClass}\`, problem: \`java.lang.NullPointerException\`\n`
    + ` at [Source: (String)"${text}"; line: ${lines.length}, column: ${lines.at(-1)?.trimEnd().length ?? 0}]`;
}

/**
 * JsonExtractor: Jackson, which rejects unknown properties. `refuse` answers with the parser's details; by default
 * as an invalid JSON payload.
 */
export function readJsonObject(
  request: EmulatorRequest,
  allowed: readonly string[],
  refuse: (details: string) => never = invalidJson,
): Record<string, unknown> {
  const text = bodyText(request);
  if (text.trim() === '') refuse('No content to map due to end-of-input\n at [Source: (String)""; line: 1, column: 0]');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    refuse(error instanceof Error ? error.message : String(error));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    refuse('Cannot deserialize value: expected a JSON object');
  }
  const object = value as Record<string, unknown>;
  const unknown = Object.keys(object).find((key) => !allowed.includes(key));
  if (unknown !== undefined) refuse(`Unrecognized field "${unknown}", not marked as ignorable`);
  return object;
}
