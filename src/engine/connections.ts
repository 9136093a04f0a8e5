// Backend connections that live as long as the process. A connection (an adapter with its HTTP
// pool, its session, its queues) is built once per backend and rebuilt only when what it was
// built from changes: type, URL, limits, TLS setting, options or credentials.
import { createHash } from 'node:crypto';
import { silentLogger, type Logger } from '../log.ts';
import type { BackendDecl } from '../model/config.ts';
import { BackendError, type AdapterFactory, type BackendAdapter, type BackendCredentials } from './adapter.ts';

interface Connection {
  identity: string;
  adapter: BackendAdapter | BackendError;
}

export class BackendConnections {
  readonly #factory: AdapterFactory;
  readonly #log: Logger;
  readonly #connections = new Map<string, Connection>();

  constructor(factory: AdapterFactory, log: Logger = silentLogger) {
    this.#factory = factory;
    this.#log = log;
  }

  /**
   * Brings the connections in line with these backends: new ones are built, changed ones rebuilt,
   * removed ones closed. A backend without credentials (its secret is missing) gets no adapter.
   * Returns the ids of the backends whose connection was replaced or removed.
   */
  async sync(backends: readonly BackendDecl[], credentials: ReadonlyMap<string, BackendCredentials>): Promise<string[]> {
    const closing: Array<Promise<void>> = [];
    const replaced: string[] = [];
    const wanted = new Set(backends.map((b) => b.id));
    for (const [id, connection] of this.#connections) {
      if (wanted.has(id)) continue;
      this.#connections.delete(id);
      replaced.push(id);
      closing.push(closeQuietly(connection));
    }
    for (const backend of backends) {
      const secrets = credentials.get(backend.id);
      const identity = connectionIdentity(backend, secrets);
      const current = this.#connections.get(backend.id);
      if (current?.identity === identity) continue;
      if (current) {
        replaced.push(backend.id);
        closing.push(closeQuietly(current));
      }
      this.#connections.set(backend.id, { identity, adapter: this.#build(backend, secrets) });
    }
    await Promise.all(closing);
    return replaced;
  }

  /** The backend's adapter, or why there is none. */
  get(backendId: string): BackendAdapter | BackendError {
    return this.#connections.get(backendId)?.adapter ?? new BackendError('Unavailable', 'no connection: the backend is not part of the configuration');
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map(closeQuietly));
  }

  #build(backend: BackendDecl, secrets: BackendCredentials | undefined): BackendAdapter | BackendError {
    if (!secrets) return new BackendError('Unauthorized', 'its credentials could not be read (see the MailBackend’s secret reference)');
    try {
      return this.#factory(backend, secrets, this.#log);
    } catch (error) {
      return error instanceof BackendError ? error : new BackendError('Unsupported', (error as Error).message, { cause: error });
    }
  }
}

async function closeQuietly(connection: Connection): Promise<void> {
  if (connection.adapter instanceof BackendError) return;
  await connection.adapter.close().catch(() => undefined);
}

/** What a connection is built from; credentials enter only as a hash. */
function connectionIdentity(backend: BackendDecl, credentials: BackendCredentials | undefined): string {
  const secret = createHash('sha256');
  const optionSecrets = Object.entries(credentials?.optionSecrets ?? {}).flatMap(([path, value]) => [path, value.reveal()]);
  for (const value of [credentials?.username, credentials?.token?.reveal(), credentials?.password?.reveal(), ...optionSecrets]) secret.update(`${value ?? ''}\0`);
  const { type, url, limits, insecureSkipTLSVerify, options } = backend;
  // A new CA bundle (a rotated Secret, an edited caFile) means new TLS connections.
  const ca = credentials?.caBundle === undefined ? null : createHash('sha256').update(credentials.caBundle).digest('base64url');
  return JSON.stringify({ type, url, limits, insecureSkipTLSVerify, ca, options, present: credentials !== undefined, secret: secret.digest('base64url') });
}
