// Secrets, resolved per object: a MailUser whose password cannot be read, or a MailBackend whose
// credentials cannot, is a failure of that object alone. The long-lived front doors report it in
// that object's status (SecretNotFound) and go on with the others; the CLI keeps its
// all-or-nothing rule by refusing the run when there is any failure.
import { describeObject, objectKey, type BackendDecl, type Config, type SecretRef, type SourceLocation } from '../model/config.ts';
import type { Sensitive } from '../model/sensitive.ts';
import type { UserPassword } from '../plan/desired.ts';
import { checkCaBundle } from '../secrets/ca-bundle.ts';
import { SecretMissing, readFileBesideManifest, type SecretResolver } from '../secrets/file-secrets.ts';
import type { Fingerprinter } from '../state/fingerprint.ts';
import type { BackendCredentials } from './adapter.ts';

/** A secret reference that could not be resolved: where it was written, and why. */
export interface SecretFailure {
  /** objectKey of the MailUser or MailBackend that holds the reference. */
  objectKey: string;
  position: SourceLocation;
  object: string;
  field: string;
  message: string;
}

export interface ResolvedSecrets {
  /** By MailUser objectKey; a user whose secret failed, or whose optional secret does not exist, is missing. */
  passwords: Map<string, UserPassword>;
  /** By backend id; a backend whose credentials failed is missing. */
  credentials: Map<string, BackendCredentials>;
  failures: SecretFailure[];
}

export async function resolveSecrets(config: Config, resolver: SecretResolver, fingerprint: Fingerprinter): Promise<ResolvedSecrets> {
  const failures: SecretFailure[] = [];
  const read = async (owner: { ref: Parameters<typeof objectKey>[0] }, ref: SecretRef, field: string): Promise<Sensitive | undefined> => {
    try {
      return await resolver.resolve(ref);
    } catch (error) {
      // An optional secret that is not there is no failure: the password stays unmanaged (plan/desired.ts).
      if (ref.optional && error instanceof SecretMissing) return undefined;
      failures.push({ objectKey: objectKey(owner.ref), position: ref.source, object: describeObject(owner.ref), field, message: (error as Error).message });
      return undefined;
    }
  };

  /** The backend's CA bundle, checked: a file or Secret that holds no certificate fails here, naming the field. */
  const readCaBundle = async (backend: BackendDecl): Promise<string | undefined> => {
    const ref = backend.caBundle!;
    const fromSecret = 'secret' in ref;
    const field = fromSecret ? 'spec.caBundleSecretRef' : 'spec.caFile';
    try {
      const text = fromSecret ? (await resolver.resolve(ref.secret)).reveal() : await (resolver.readFile ?? readFileBesideManifest)(ref.file, ref.source);
      return checkCaBundle(text, fromSecret ? `Secret ${ref.secret.name} key "${ref.secret.key}"` : ref.file);
    } catch (error) {
      const position = fromSecret ? ref.secret.source : ref.source;
      failures.push({ objectKey: objectKey(backend.ref), position, object: describeObject(backend.ref), field, message: (error as Error).message });
      return undefined;
    }
  };

  const passwords = new Map<string, UserPassword>();
  const credentials = new Map<string, BackendCredentials>();
  await Promise.all([
    ...config.users.map(async (user) => {
      const secret = await read(user, user.password, 'spec.passwordSecretRef');
      if (secret) passwords.set(objectKey(user.ref), { secret, fingerprint: fingerprint(user.address, secret.reveal()) });
    }),
    ...config.backends.map(async (backend) => {
      const { username, token, password, optionSecrets = {} } = backend.credentials;
      const [caBundle, tokenValue, passwordValue, ...optionValues] = await Promise.all([
        backend.caBundle ? readCaBundle(backend) : undefined,
        token ? read(backend, token, 'spec.credentials.tokenSecretRef') : undefined,
        password ? read(backend, password, 'spec.credentials.passwordSecretRef') : undefined,
        ...Object.entries(optionSecrets).map(([path, ref]) => read(backend, ref, `spec.${backend.type}.${path}`)),
      ]);
      if ((backend.caBundle && !caBundle) || (token && !tokenValue) || (password && !passwordValue) || optionValues.some((value) => !value)) return;
      const options = Object.fromEntries(Object.keys(optionSecrets).map((path, i) => [path, optionValues[i]!]));
      credentials.set(backend.id, {
        ...(username !== undefined ? { username } : {}),
        ...(tokenValue ? { token: tokenValue } : {}),
        ...(passwordValue ? { password: passwordValue } : {}),
        ...(optionValues.length > 0 ? { optionSecrets: options } : {}),
        ...(caBundle ? { caBundle } : {}),
      });
    }),
  ]);
  return { passwords, credentials, failures };
}
