// A CA bundle as a MailBackend names it (caFile, caBundleSecretRef): PEM certificates, checked when
// read, so that a wrong file is a configuration error naming the field — not a TLS failure later.
import { X509Certificate } from 'node:crypto';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export class InvalidCaBundle extends Error {}

/** The bundle's certificates as PEM, one after another; throws InvalidCaBundle saying what is wrong. */
export function checkCaBundle(text: string, where: string): string {
  const blocks = text.replace(/^\uFEFF/, '').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    const hint = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? ' (it holds a private key: give the CA’s certificate instead)' : '';
    throw new InvalidCaBundle(`${where} holds no PEM certificate (-----BEGIN CERTIFICATE-----)${hint}`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new InvalidCaBundle(`certificate ${i + 1} of ${blocks.length} in ${where} cannot be read: ${(error as Error).message}`);
    }
  });
  return `${blocks.join('\n')}\n`;
}
