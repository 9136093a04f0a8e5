// Syntax of the names the API carries: mail addresses, domain names, object names.
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

/** Kubernetes object names (DNS-1123 subdomain). */
export const OBJECT_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const addressRegex = new RegExp(ADDRESS_PATTERN);
const domainRegex = new RegExp(DOMAIN_PATTERN);

export function isMailAddress(value: string): boolean {
  return value.length <= ADDRESS_MAX_LENGTH && addressRegex.test(value);
}

export function isDomainName(value: string): boolean {
  return value.length <= DOMAIN_MAX_LENGTH && domainRegex.test(value);
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
