// TLS certificate failures in words a person can act on. They are never retried: another attempt
// meets the same certificate. (Codes: OpenSSL's X509_V_ERR_* names as Node reports them.)

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'INVALID_CA',
]);

const OTHER_CERTIFICATE_CODES = new Set([
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);

/** What is wrong with the server's certificate, or undefined when the error is not about one. */
export function certificateProblem(error: unknown): string | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (UNKNOWN_AUTHORITY.has(code)) {
      return `the server’s certificate is signed by an unknown authority (${code}); set the MailBackend’s spec.caFile or spec.caBundleSecretRef to the CA bundle that signed it`;
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const reason = (cause as { reason?: unknown }).reason;
      return `the server’s certificate is not valid for this host name${typeof reason === 'string' ? ` (${reason})` : ''}; use a URL with a name the certificate holds`;
    }
    if (code === 'CERT_HAS_EXPIRED') return 'the server’s certificate has expired (CERT_HAS_EXPIRED); the server needs a new one';
    if (code === 'CERT_NOT_YET_VALID') return 'the server’s certificate is not valid yet (CERT_NOT_YET_VALID); check the clocks of both machines';
    if (OTHER_CERTIFICATE_CODES.has(code)) return `the server’s certificate was refused (${code}: ${cause.message})`;
  }
  return undefined;
}
