// A secret value that cannot leak by accident: JSON, string conversion and util.inspect (what
// pino and console.log use) all print "(sensitive)". Only reveal() gives the value, at the one
// place that sends it to a backend.
//
// A value that left the process may come back: a server that quotes the request in its error answer
// (the Password header, a Basic login, the body with a user's password) puts the secret into a message
// mailops would print. So every Sensitive value alive in the process is known to `redactSecrets`,
// which the places where outside text enters (BackendError) and leaves (the logger, the CLI's error
// line) run it through.
const REDACTED = '(sensitive)';

export class Sensitive {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    liveSecrets.add(this, value);
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

export const SENSITIVE_PLACEHOLDER = REDACTED;

/**
 * A value shorter than this is not searched for: redacting every "abc" in a message would garble it,
 * and a secret that short is no secret.
 */
const MIN_SECRET_LENGTH = 4;

/**
 * The secret values of the Sensitive objects alive now, in the forms a message may quote them: as they
 * are, and URL-, form-, JSON- and XML-escaped. A value is forgotten when the last Sensitive holding it is
 * collected, so a long-lived process keeps no secret longer than its owner does. Searching goes by the
 * first three characters (a numeric key) and then by length, so that a message costs about its length
 * times the number of distinct secret lengths, whatever the number of secrets (a run may hold 100,000
 * passwords, and they may all start alike).
 */
class LiveSecrets {
  readonly #holders = new Map<string, number>();
  /** First three characters → form length → the forms: many secrets may share a prefix ("Welcome2024…"). */
  readonly #byPrefix = new Map<number, Map<number, Set<string>>>();
  readonly #collected = new FinalizationRegistry<string>((value) => this.#release(value));

  add(holder: object, value: string): void {
    if (value.length < MIN_SECRET_LENGTH) return;
    this.#collected.register(holder, value);
    const count = this.#holders.get(value) ?? 0;
    this.#holders.set(value, count + 1);
    if (count === 0) for (const form of quotedForms(value)) this.#index(form, +1);
  }

  #release(value: string): void {
    const count = (this.#holders.get(value) ?? 1) - 1;
    if (count > 0) {
      this.#holders.set(value, count);
      return;
    }
    this.#holders.delete(value);
    for (const form of quotedForms(value)) this.#index(form, -1);
  }

  #index(form: string, change: 1 | -1): void {
    const key = prefixKey(form, 0);
    const byLength = this.#byPrefix.get(key);
    if (change > 0) {
      const forms = byLength?.get(form.length);
      if (forms) forms.add(form);
      else if (byLength) byLength.set(form.length, new Set([form]));
      else this.#byPrefix.set(key, new Map([[form.length, new Set([form])]]));
    } else if (byLength !== undefined) {
      const forms = byLength.get(form.length);
      forms?.delete(form);
      if (forms?.size === 0) byLength.delete(form.length);
      if (byLength.size === 0) this.#byPrefix.delete(key);
    }
  }

  get empty(): boolean {
    return this.#byPrefix.size === 0;
  }

  /** Every secret form in `text` replaced by the placeholder (the longest form where several start at one place). */
  redact(text: string): string {
    let result = '';
    let copied = 0;
    for (let at = 0; at + MIN_SECRET_LENGTH <= text.length; ) {
      const byLength = this.#byPrefix.get(prefixKey(text, at));
      let longest = 0;
      if (byLength !== undefined) {
        for (const [length, forms] of byLength) if (length > longest && at + length <= text.length && forms.has(text.slice(at, at + length))) longest = length;
      }
      if (longest === 0) {
        at += 1;
        continue;
      }
      result += text.slice(copied, at) + REDACTED;
      at += longest;
      copied = at;
    }
    return copied === 0 ? text : result + text.slice(copied);
  }

  /** Whether `decoded` (a base64 run, decoded) holds a secret. */
  holdsSecret(decoded: string): boolean {
    return this.redact(decoded) !== decoded;
  }
}

/** The first three UTF-16 units at `at` as one number (48 bits: exact in a double). */
function prefixKey(text: string, at: number): number {
  return (text.charCodeAt(at) * 65536 + text.charCodeAt(at + 1)) * 65536 + text.charCodeAt(at + 2);
}

/** Characters no quoting changes: a value made of them only is quoted as it is. */
const PLAIN = /^[A-Za-z0-9._-]*$/;

function quotedForms(value: string): string[] {
  if (PLAIN.test(value)) return [value];
  const json = JSON.stringify(value).slice(1, -1);
  const url = encodeURIComponent(value);
  return [
    ...new Set([
      value,
      url,
      // application/x-www-form-urlencoded: a space is "+", and !'()~ are escaped too.
      url.replace(/%20/g, '+').replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
      json,
      // A JSON message quoted inside another (a log line holding an answer): escaped twice.
      JSON.stringify(json).slice(1, -1),
      value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;'),
    ]),
  ];
}

const liveSecrets = new LiveSecrets();

/** Runs of base64 (or base64url) long enough to hold a secret: a Basic login, a token. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{8,}={0,2}/g;

/**
 * `text` without any secret value alive in this process: each one found, as it is, escaped, or inside a
 * base64 run (an `Authorization: Basic …` quoted back), is replaced by "(sensitive)".
 */
export function redactSecrets(text: string): string {
  if (liveSecrets.empty || text.length < MIN_SECRET_LENGTH) return text;
  const cleaned = liveSecrets.redact(text);
  return cleaned.replace(BASE64_RUN, (run) => (liveSecrets.holdsSecret(Buffer.from(run, 'base64').toString('utf8')) ? REDACTED : run));
}
