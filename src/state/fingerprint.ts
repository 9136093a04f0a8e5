// Passwords are write-only on every backend, so the only way to know whether the declared one is
// in force is to remember what was set. mailops remembers a keyed fingerprint, never the password:
// HMAC-SHA256 over the address and the password, with a key that lives apart from the records.
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type Fingerprinter = (address: string, secret: string) => string;

export function fingerprinter(key: Buffer): Fingerprinter {
  // One KeyObject for every fingerprint: made from the Buffer on each call, it costs more than the HMAC.
  const keyObject = createSecretKey(key);
  return (address, secret) =>
    `hmac-sha256:${createHmac('sha256', keyObject).update(address).update('\0').update(secret).digest('base64url')}`;
}

/**
 * Names the key without revealing it, so that records made with another key (a lost
 * fingerprint.key, a changed MAILOPS_FINGERPRINT_KEY) are recognised as such.
 */
export function fingerprintKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('mailops fingerprint key id').digest('base64url').slice(0, 16);
}

/**
 * The fingerprint key: MAILOPS_FINGERPRINT_KEY when set (a Secret in a cluster, a CI variable),
 * otherwise `fingerprint.key` next to the records, readable by its owner only. Only a command that
 * writes the state directory (apply) creates that file; a read-only one (plan) gets a throw-away
 * key, so that no fingerprint it could compare matches, and the backend is asked instead.
 */
export async function loadFingerprintKey(stateDir: string, options: { create: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const fromEnv = env.MAILOPS_FINGERPRINT_KEY;
  if (fromEnv) return Buffer.from(fromEnv, 'utf8');
  const file = path.join(stateDir, 'fingerprint.key');
  try {
    return await readKeyFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32);
  if (!options.create) return key;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // Whole or not at all: a run killed while writing the key must not leave a part of one for the
  // next run to adopt. link() does not replace: if another process made the key meanwhile, use theirs.
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, `${key.toString('base64')}\n`, { mode: 0o600 });
    await chmod(temporary, 0o600);
    await link(temporary, file);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readKeyFile(file);
  } finally {
    await rm(temporary, { force: true });
  }
}

const MIN_KEY_BYTES = 16;

async function readKeyFile(file: string): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw error;
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  const key = Buffer.from(text.trim(), 'base64');
  // An empty file is what a run killed while creating the key left before keys were written whole.
  if (key.length < MIN_KEY_BYTES) {
    throw new Error(
      `${file} holds no usable fingerprint key (${key.length} bytes, at least ${MIN_KEY_BYTES} expected). ` +
        'Remove it: the next apply makes a new key, and then asks the servers, or sets each password once where they cannot tell.',
    );
  }
  return key;
}
