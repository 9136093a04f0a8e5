// A secret value that cannot leak by accident: JSON, string conversion and util.inspect (what
// pino and console.log use) all print "(sensitive)". Only reveal() gives the value, at the one
// place that sends it to a backend.
const REDACTED = '(sensitive)';

export class Sensitive {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
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
