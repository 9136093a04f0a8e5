// The state directory holds what must stay private: the fingerprint key, and the records (password
// fingerprints, checkpoints of address changes under way). mailops creates its files there with mode
// 0600 and its directories with 0700, whatever the umask (a mode given at creation can only be
// narrowed by it). What already exists is checked at every writing run: a file of ours open to others
// is narrowed to 0600 (it is ours); a directory open to others is said, not changed — it may be a
// directory the user chose for more than mailops (`--state-dir .`), as gpg says of its home directory.
import { chmod, stat } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Files in the state directory that hold keys, fingerprints or checkpoints. */
const PRIVATE_FILES = ['fingerprint.key', 'records.json'];

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** Narrows mailops's own files to 0600; returns a warning for each thing that was, or still is, open to others. */
export async function securePrivateFiles(stateDir: string): Promise<string[]> {
  const warnings: string[] = [];
  const dir = await stat(stateDir).catch(() => undefined);
  if (dir && (dir.mode & 0o077) !== 0) {
    warnings.push(`the state directory ${stateDir} is open to other users (mode ${octal(dir.mode)}); it holds the fingerprint key and the password fingerprints: run chmod 700 ${stateDir}`);
  }
  for (const name of PRIVATE_FILES) {
    const file = path.join(stateDir, name);
    const info = await stat(file).catch(() => undefined);
    if (!info || (info.mode & 0o077) === 0) continue;
    await chmod(file, PRIVATE_FILE_MODE);
    warnings.push(`${file} was open to other users (mode ${octal(info.mode)}); mailops made it ${octal(PRIVATE_FILE_MODE)}`);
  }
  return warnings;
}
