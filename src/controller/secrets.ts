// Secrets in a cluster: passwords and backend credentials are read from the Secrets informer's
// cache (never fetched one by one); the key of password fingerprints lives in a Secret of the
// controller's own namespace, made once, so that every replica and every restart shares it.
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import path from 'node:path';
import type { SecretRef, SourceLocation } from '../model/config.ts';
import { Sensitive } from '../model/sensitive.ts';
import { SecretMissing, SecretNotFound, readFileBesideManifest, type SecretResolver } from '../secrets/file-secrets.ts';
import { isConflict, isNotFound, type KubeClient } from './kube.ts';

export const FINGERPRINT_KEY_SECRET = 'mailops-fingerprint-key';
const KEY_FIELD = 'key';

export class ClusterSecretResolver implements SecretResolver {
  readonly #get: (namespace: string, name: string) => V1Secret | undefined;

  constructor(get: (namespace: string, name: string) => V1Secret | undefined) {
    this.#get = get;
  }

  /** A path in the controller's container (a mounted ConfigMap): objects in a cluster have no file to be relative to. */
  async readFile(file: string, declaredIn: SourceLocation): Promise<string> {
    if (!path.isAbsolute(file)) throw new SecretNotFound(`${file} is a relative path; in a cluster give an absolute path in the controller’s container (a mounted ConfigMap), or use caBundleSecretRef`);
    return readFileBesideManifest(file, declaredIn);
  }

  async resolve(ref: SecretRef): Promise<Sensitive> {
    const secret = this.#get(ref.namespace, ref.name);
    if (!secret) throw new SecretMissing(`Secret ${ref.namespace}/${ref.name} does not exist (or mailops may not read it)`);
    const encoded = secret.data?.[ref.key];
    if (encoded === undefined) {
      const keys = Object.keys(secret.data ?? {});
      throw new SecretMissing(`Secret ${ref.namespace}/${ref.name} has no key "${ref.key}"${keys.length ? ` (it has: ${keys.join(', ')})` : ' (it is empty)'}`);
    }
    const value = Buffer.from(encoded, 'base64').toString('utf8');
    if (value === '') throw new SecretNotFound(`Secret ${ref.namespace}/${ref.name} key "${ref.key}" is empty`);
    return new Sensitive(value);
  }
}

/** Reads the fingerprint key, creating it the first time (a replica that loses the race reads the winner's). */
export async function loadClusterFingerprintKey(kube: KubeClient, namespace: string): Promise<Buffer> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const secret = await kube.readSecret(namespace, FINGERPRINT_KEY_SECRET);
      const encoded = secret.data?.[KEY_FIELD];
      if (!encoded) throw new Error(`Secret ${namespace}/${FINGERPRINT_KEY_SECRET} has no "${KEY_FIELD}"; delete it to have a new key made (every password is then checked or set once)`);
      return Buffer.from(encoded, 'base64');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    try {
      await kube.createSecret(namespace, {
        metadata: { name: FINGERPRINT_KEY_SECRET, namespace, labels: { 'app.kubernetes.io/name': 'mailops' } },
        type: 'Opaque',
        data: { [KEY_FIELD]: randomBytes(32).toString('base64') },
      });
    } catch (error) {
      if (!isConflict(error)) throw error; // another replica made it first: read it
    }
  }
  throw new Error(`could not read or create Secret ${namespace}/${FINGERPRINT_KEY_SECRET}`);
}
