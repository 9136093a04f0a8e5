// The parameters of an iRedAdmin-Pro call, read as web.py's `web.input()` does: query string and form body together,
// lists as comma-separated strings, numbers as decimal text. Bad input is refused with the server's reason.

import { readForm } from '../../emulator/actions.ts';
import type { RouteCall } from '../../emulator/router.ts';
import { isDomainName, isMailAddress } from '../../../model/names.ts';

export class Params {
  readonly #values: URLSearchParams;
  readonly #refuse: (msg: string) => never;

  constructor(call: RouteCall, refuse: (msg: string) => never) {
    this.#values = new URLSearchParams(call.query);
    for (const [key, value] of readForm(call.request)) this.#values.set(key, value);
    this.#refuse = refuse;
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  text(name: string): string | undefined {
    return this.#values.get(name)?.trim();
  }

  /** `a@x, B@x,,c@y` → [a@x, b@x, c@y] (lower case, empty items dropped). */
  list(name: string): string[] {
    return (this.text(name) ?? '').split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== '');
  }

  /** A whole number, or `refuse(reason)` when the value is not one. */
  integer(name: string, reason: string, options: { min?: number } = {}): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < (options.min ?? 0)) this.#refuse(reason);
    return value;
  }

  /** `active` or `disabled`. */
  accountStatus(): boolean | undefined {
    const status = this.text('accountStatus');
    if (status === undefined) return undefined;
    if (status !== 'active' && status !== 'disabled') this.#refuse('INVALID_ACCOUNT_STATUS');
    return status === 'active';
  }
}

/** iRedMail's domain names have at least two labels (`iredutils.is_domain`). */
export function isIRedMailDomain(value: string): boolean {
  return value.includes('.') && isDomainName(value);
}

export function isIRedMailAddress(value: string): boolean {
  return isMailAddress(value) && value.slice(value.indexOf('@') + 1).includes('.');
}

export function domainOfAddress(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
