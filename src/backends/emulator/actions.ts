// Dispatch by action name, for APIs that name an operation rather than a resource — MailStore's
// `/api/invoke/{Function}` and legacy `/JSON/Invoke/{Method}` (mailstore.md), SOAP operations (soap.ts) — and the
// form-encoded parameters such APIs take (MailStore, iRedAdmin). Each backend says how it answers an unknown action
// or a bad parameter, in its own error shape.

import type { EmulatorRequest } from './server.ts';

export interface ActionTable<H> {
  /** The handler of the action called `name`, or undefined. */
  find(name: string): H | undefined;
  /** The action names as declared, e.g. for a server's own list of functions. */
  readonly names: readonly string[];
}

export function createActionTable<H>(actions: Readonly<Record<string, H>>, options: { ignoreCase?: boolean } = {}): ActionTable<H> {
  const key = options.ignoreCase === true ? (name: string) => name.toLowerCase() : (name: string) => name;
  const byName = new Map(Object.entries(actions).map(([name, handler]) => [key(name), handler]));
  return { find: (name) => byName.get(key(name)), names: Object.keys(actions) };
}

/** An `application/x-www-form-urlencoded` body, read as UTF-8 (a leading byte order mark is dropped). */
export function readForm(request: EmulatorRequest): URLSearchParams {
  return new URLSearchParams(request.body.toString('utf8').replace(/^\uFEFF/, ''));
}

/**
 * Named string parameters (form fields), read the way these APIs define them: comma-separated lists and
 * lowercase `true`/`false` booleans. `refuse` answers a missing or malformed one in the backend's error shape.
 */
export class ActionParameters {
  readonly #values: URLSearchParams;
  readonly #refuse: (message: string) => never;
  constructor(values: URLSearchParams, refuse: (message: string) => never) {
    this.#values = values;
    this.#refuse = refuse;
  }
  optional(name: string): string | undefined {
    return this.#values.get(name) ?? undefined;
  }
  required(name: string): string {
    return this.optional(name) ?? this.#refuse(`parameter '${name}' is missing`);
  }
  /** `a, b,c` → [a, b, c]; absent or empty → []. */
  list(name: string): string[] {
    return (this.optional(name) ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  }
  flag(name: string): boolean | undefined {
    const value = this.optional(name);
    if (value === undefined || value === 'true' || value === 'false') return value === undefined ? undefined : value === 'true';
    return this.#refuse(`parameter '${name}' must be true or false, got '${value}'`);
  }
}
