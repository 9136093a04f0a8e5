// Files for tests to read: a directory tree from a map of paths to contents, in a new temporary
// directory each time.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tree(files: Record<string, string>, prefix = 'mailops-files-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** A directory holding the manifests as `config.yaml`. */
export function configDir(yaml: string): Promise<string> {
  return tree({ 'config.yaml': yaml }, 'mailops-config-');
}
