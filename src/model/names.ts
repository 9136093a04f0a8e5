// Syntax of the names the API carries: mail addresses, domain names, object names.
import { domainToASCII } from 'node:url';

// The patterns are plain JSON-Schema/RE2 regular expressions (no look-arounds) so that the same
// strings validate files through ajv and objects in the cluster through the CRD schema.

const LABEL = '[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?';

/** A DNS domain name; a single label (`localhost`) is allowed because mail servers accept it. */
export const DOMAIN_PATTERN = `^${LABEL}(\\.${LABEL})*$`;
export const DOMAIN_MAX_LENGTH = 253;

// The local part is an RFC 5321 dot-atom restricted to ASCII (James rejects anything else) and
// without '/', which no backend can carry in a URL path segment.
const ATOM = "[A-Za-z0-9!#$%&'*+=?^_`{|}~-]+";
export const ADDRESS_PATTERN = `^${ATOM}(\\.${ATOM})*@${LABEL}(\\.${LABEL})*$`;
export const ADDRESS_MAX_LENGTH = 254;
/** RFC 5321 §4.5.3.1.1; the pattern cannot say it, so addressProblem() does. */
export const LOCAL_PART_MAX_LENGTH = 64;

/** Kubernetes object names (DNS-1123 subdomain). */
export const OBJECT_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const addressRegex = new RegExp(ADDRESS_PATTERN);
const domainRegex = new RegExp(DOMAIN_PATTERN);

export function isMailAddress(value: string): boolean {
  return value.length <= ADDRESS_MAX_LENGTH && addressRegex.test(value) && value.lastIndexOf('@') <= LOCAL_PART_MAX_LENGTH;
}

export function isDomainName(value: string): boolean {
  return value.length <= DOMAIN_MAX_LENGTH && domainRegex.test(value);
}

/**
 * Why `value` is not a mail address mailops can use, in words a person can act on; undefined when
 * it is one. Every backend's fact sheet that says anything says ASCII (James: "Mail addresses must
 * be ASCII"), so an internationalised domain is refused with its ASCII (A-label) form to write
 * instead — the form the servers store and list, so that plans compare like with like — and a
 * non-ASCII local part (SMTPUTF8) is refused: no backend can hold it. Lengths are RFC 5321's, in
 * octets (the same as characters once the address is ASCII).
 */
export function addressProblem(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return NOT_AN_ADDRESS;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!isAscii(local)) return `has a local part that is not ASCII ("${local}"): internationalised mailboxes (SMTPUTF8) are not supported by the mail servers mailops manages`;
  const domainIssue = domainProblem(domain);
  if (domainIssue) {
    const ascii = isAscii(domain) ? '' : domainToASCII(domain);
    return ascii ? `is in an internationalised domain: write it as "${local}@${ascii}", the ASCII form the mail servers store` : `has a domain that ${domainIssue}`;
  }
  if (local.length > LOCAL_PART_MAX_LENGTH) return `has a local part of ${local.length} characters; at most ${LOCAL_PART_MAX_LENGTH} are allowed (RFC 5321)`;
  if (value.length > ADDRESS_MAX_LENGTH) return `is ${value.length} characters long; at most ${ADDRESS_MAX_LENGTH} are allowed (RFC 5321)`;
  if (!addressRegex.test(value)) return NOT_AN_ADDRESS;
  return undefined;
}

/** Why `value` is not a domain name mailops can use (see addressProblem), or undefined. */
export function domainProblem(value: string): string | undefined {
  if (!isAscii(value)) {
    const ascii = domainToASCII(value);
    return ascii ? `is an internationalised domain name: write it as "${ascii}", the ASCII form the mail servers store` : NOT_A_DOMAIN;
  }
  const long = value.split('.').find((label) => label.length > 63);
  if (long) return `has a label of ${long.length} characters ("${long.slice(0, 12)}…"); at most 63 are allowed`;
  if (value.length > DOMAIN_MAX_LENGTH) return `is ${value.length} characters long; at most ${DOMAIN_MAX_LENGTH} are allowed`;
  if (!domainRegex.test(value)) return NOT_A_DOMAIN;
  return undefined;
}

const NOT_AN_ADDRESS = 'is not a valid mail address (ASCII, like user@example.com)';
const NOT_A_DOMAIN = 'is not a valid domain name (like example.com)';

function isAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/**
 * The one spelling of an address that every comparison uses. Mail servers treat both parts
 * case-insensitively in practice (James lower-cases user names), so two spellings that differ
 * only in case are the same mailbox and must not be declared twice.
 */
export function normalizeAddress(address: string): string {
  return address.trim().toLowerCase();
}

export function normalizeDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Why a backend URL cannot be used, or undefined when it can: it must parse the way the HTTP client
 * will parse it (a port that is not a number fails only there), and it must not carry credentials
 * (they would be printed with every plan). The message never repeats the URL.
 */
export function backendUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL the HTTP client can use (check the host name and the port)';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must start with http:// or https://';
  if (parsed.username !== '' || parsed.password !== '') {
    return 'carries credentials; put them in spec.credentials (a secret reference), never in the URL';
  }
  return undefined;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1);
}
