// Names as org.apache.james.core.Domain, Username and MailAddress accept them, and as WebAdmin's routes read them
// from the path (james.md; 3.8.1 sources).

import { halt, invalidArguments } from './answers.ts';
import { isIP } from 'node:net';

class InvalidName extends Error {}

/** Domain.of: returns the normalised (lower-case) name or throws InvalidName with James's reason. */
export function parseDomain(raw: string): string {
  if (raw.length > 253) throw new InvalidName('Domain name length should not exceed 253 characters');
  const name = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (!/^[\p{L}\p{Nd}._-]*$/u.test(name)) throw new InvalidName('Domain parts ASCII chars must be a-z A-Z 0-9 - or _');
  const parts = name.split('.');
  for (const part of parts) {
    if (part === '') throw new InvalidName('Domain part should not be empty');
    if (/^[-_]/.test(part)) throw new InvalidName("Domain part should not start with '-' or '_'");
    if (/[-_]$/.test(part)) throw new InvalidName("Domain part should not end with '-' or '_'");
    if (part.length > 63) throw new InvalidName('Domain part should not not exceed 63 characters');
  }
  if (/^\d/.test(parts.at(-1) ?? '') && isIP(name) === 0) {
    throw new InvalidName('The last domain part must not start with 0-9');
  }
  return name.toLowerCase();
}

export interface Username {
  /** `local@domain`, lower case (James lower-cases usernames). */
  readonly name: string;
  readonly domain: string | undefined;
  readonly localPart: string;
}

/** Username.of. */
export function parseUsername(raw: string): Username {
  if (raw.trim() === '') throw new InvalidName('username should not be null or empty after being trimmed');
  if (raw.length > 255) throw new InvalidName('username length should not be longer than 255 characters');
  const at = raw.indexOf('@');
  const localPart = (at < 0 ? raw : raw.slice(0, at)).toLowerCase();
  const domain = at < 0 ? undefined : parseDomain(raw.slice(at + 1));
  if (localPart === '') throw new InvalidName('username local part should not be empty');
  return { name: domain === undefined ? localPart : `${localPart}@${domain}`, domain, localPart };
}

/** MailAddress, simplified: a dot-atom ASCII local part, a valid domain. Keeps the local part's case. */
function parseMailAddress(raw: string): string {
  const at = raw.lastIndexOf('@');
  if (at < 0) throw new InvalidName(`Out of data at position 1 in '${raw}'`);
  const localPart = raw.slice(0, at);
  const bad = localPart === '' ? 0 : localPart.search(/[^!#-'*+\-./-9=?A-Z^-~]|^\.|\.\.|\.$/);
  if (bad >= 0) throw new InvalidName(`Invalid character in local-part (user account) at position ${bad + 1} in '${raw}'`);
  return `${localPart}@${parseDomain(raw.slice(at + 1))}`;
}

/** The domain part of an address or username. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}

/**
 * java.net.URLDecoder, which some routes apply to path parameters Jetty has already decoded: `+` (sent raw or as
 * %2B) becomes a space, so `tag+user@d` is refused by the /address routes and not found by /quota/users (3.8.1).
 */
export function decodeAgain(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return invalidArguments(`URLDecoder: Illegal hex characters in escape (%) pattern - ${value}`);
  }
}

/** The source key of an address in the rewrite table (MappingSource.fromUser lower-cases it). */
export function sourceOf(address: string): string {
  return address.toLowerCase();
}

/** Runs a parser, answering its InvalidName the way the calling route does. */
export function parsedOr<T>(parse: () => T, refuse: (reason: string) => never): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidName) refuse(error.message);
    throw error;
  }
}

/** A username from the path. */
export function usernameParam(raw: string): Username {
  return parsedOr(() => parseUsername(raw), invalidArguments);
}

/** MailAddressParser: `kind` is how James names the address in its message ("alias", "group member"…). */
export function addressParam(raw: string, kind: string): string {
  return parsedOr(() => parseMailAddress(decodeAgain(raw)),
    (reason) => halt(400, 'InvalidArgument', `The ${kind} is not an email address`, reason));
}
