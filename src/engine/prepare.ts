// Before anything touches a backend: every secret the configuration names is read, and a missing
// one is a configuration error (nothing is applied anywhere).
import { InvalidConfigError } from '../load/errors.ts';
import { describeObject, objectKey, type Config } from '../model/config.ts';
import type { Sensitive } from '../model/sensitive.ts';
import type { UserPassword } from '../plan/desired.ts';
import type { BackendCredentials } from '../backends/registry.ts';
import { resolveAll, type SecretResolver } from '../secrets/file-secrets.ts';
import type { Fingerprinter } from '../state/fingerprint.ts';

export interface ResolvedSecrets {
  passwords: Map<string, UserPassword>;
  credentials: Map<string, BackendCredentials>;
}

export async function resolveSecrets(config: Config, resolver: SecretResolver, fingerprint: Fingerprinter): Promise<ResolvedSecrets> {
  const users = await resolveAll(
    resolver,
    config.users.map((user) => ({ key: objectKey(user.ref), ref: user.password, object: describeObject(user.ref), field: 'spec.passwordSecretRef' })),
  );
  const backendRefs = config.backends.flatMap((backend) =>
    (['token', 'password'] as const).flatMap((kind) => {
      const ref = backend.credentials[kind];
      return ref ? [{ key: `${backend.id}|${kind}`, ref, object: describeObject(backend.ref), field: `spec.credentials.${kind}SecretRef` }] : [];
    }),
  );
  const backends = await resolveAll(resolver, backendRefs);
  const errors = [...users.errors, ...backends.errors];
  if (errors.length > 0) throw new InvalidConfigError(errors);

  const passwords = new Map<string, UserPassword>();
  for (const user of config.users) {
    const secret = users.values.get(objectKey(user.ref))!;
    passwords.set(objectKey(user.ref), { secret, fingerprint: fingerprint(user.address, secret.reveal()) });
  }
  const credentials = new Map<string, BackendCredentials>();
  for (const backend of config.backends) {
    const get = (kind: string): Sensitive | undefined => backends.values.get(`${backend.id}|${kind}`);
    const token = get('token');
    const password = get('password');
    credentials.set(backend.id, {
      ...(backend.credentials.username !== undefined ? { username: backend.credentials.username } : {}),
      ...(token ? { token } : {}),
      ...(password ? { password } : {}),
    });
  }
  return { passwords, credentials };
}
