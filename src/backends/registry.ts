// Backend types → adapters and emulators. The only file that knows every backend.
import { BackendError, type BackendAdapter, type BackendCredentials } from '../engine/adapter.ts';
import type { Logger } from '../log.ts';
import type { BackendDecl } from '../model/config.ts';
import type { BackendType } from '../model/schema.ts';
import { JamesAdapter } from './james/adapter.ts';
import { IRedAdminAdapter } from './iredadmin/adapter.ts';
import { MailStoreAdapter, type MailStoreSettings } from './mailstore/adapter.ts';
import { OpenXchangeAdapter, type OpenXchangeSettings } from './openxchange/adapter.ts';
import type { EmulatorOptions, RunningEmulator } from './emulator/server.ts';
import type { Exchange } from './http/client.ts';

export const IMPLEMENTED_BACKENDS: readonly BackendType[] = ['james', 'iredadmin', 'mailstore', 'openxchange'];

/** What a long-lived front door wants to know of every backend request (metrics). */
export interface AdapterHooks {
  onExchange?: (exchange: Exchange) => void;
}

export function createAdapter(backend: BackendDecl, credentials: BackendCredentials, log: Logger, hooks: AdapterHooks = {}): BackendAdapter {
  const http = {
    backend: backend.name,
    baseUrl: backend.url,
    concurrency: backend.limits.concurrency,
    requestsPerSecond: backend.limits.requestsPerSecond,
    timeoutMs: backend.limits.timeoutSeconds * 1000,
    retries: backend.limits.retries,
    insecureSkipTLSVerify: backend.insecureSkipTLSVerify,
    ...(credentials.caBundle !== undefined ? { ca: credentials.caBundle } : {}),
    log,
    ...(hooks.onExchange ? { onExchange: hooks.onExchange } : {}),
  };
  switch (backend.type) {
    case 'james':
      return new JamesAdapter(http, {
        ...(credentials.token ? { token: credentials.token.reveal() } : {}),
        ...(credentials.password ? { password: credentials.password.reveal() } : {}),
      });
    case 'iredadmin':
      return new IRedAdminAdapter(http, credentials, backend.options);
    case 'mailstore':
      // Without credentials, MailStore's own defaults (admin/admin), as its Python wrapper has them.
      return new MailStoreAdapter(http, {
        username: credentials.username ?? 'admin',
        password: credentials.password?.reveal() ?? 'admin',
      }, backend.options as MailStoreSettings);
    case 'openxchange': {
      // The master admin for contexts, each context's admin for users (openxchange.md); both required by the loader.
      const contextAdmin = credentials.optionSecrets?.['contextAdmin.passwordSecretRef'];
      const restPassword = credentials.optionSecrets?.['restCredentials.passwordSecretRef'];
      const settings = backend.options as OpenXchangeSettings;
      if (!credentials.username || !credentials.password || !contextAdmin) {
        throw new BackendError('Unauthorized', 'an Open-Xchange backend needs the master admin (credentials.username, credentials.passwordSecretRef) and the context admin (openxchange.contextAdmin.passwordSecretRef)');
      }
      return new OpenXchangeAdapter(http, {
        master: { login: credentials.username, password: credentials.password.reveal() },
        contextAdmin: { login: settings.contextAdmin.username ?? 'oxadmin', password: contextAdmin.reveal() },
        ...(settings.restCredentials && restPassword ? { rest: { login: settings.restCredentials.username, password: restPassword.reveal() } } : {}),
      }, settings);
    }
    default:
      throw new BackendError('Unsupported', `backend type "${backend.type}" is not implemented in this version of mailops (implemented: ${IMPLEMENTED_BACKENDS.join(', ')})`);
  }
}

export interface EmulatorCommandOptions extends EmulatorOptions {
  user?: string;
  password?: string;
  jwtPublicKey?: string;
  taskDurationMs?: number;
  /** iRedAdmin-Pro: how long an unused session lives. */
  sessionTtlMs?: number;
  /** iRedAdmin-Pro: the allow-list of client addresses (RESTFUL_API_CLIENTS). */
  apiClients?: string[];
  /** iRedAdmin-Pro: answer `{success, msg}` as releases before SQL 2.6 did. */
  legacyEnvelope?: boolean;
  /** MailStore: `FUNCTION=DURATION[:STEPS]` per long-running function, `FUNCTION[=MESSAGE]` per failing one. */
  slow?: string[];
  fail?: string[];
  /** Open-Xchange: health checks that report DOWN. */
  healthDown?: string[];
}

/** Starts the emulator of a backend type, as `mailops emulate <type>` and the demo do. */
export async function startBackendEmulator(type: string, options: EmulatorCommandOptions): Promise<RunningEmulator> {
  switch (type) {
    case 'james': {
      const { user: _user, sessionTtlMs: _ttl, apiClients: _clients, legacyEnvelope: _legacy, slow: _slow, fail: _fail, healthDown: _down, ...jamesOptions } = options;
      // Loaded only when an emulator runs: plan and apply never need one.
      const { startJamesEmulator } = await import('./james/emulator.ts');
      return startJamesEmulator(jamesOptions);
    }
    case 'iredadmin': {
      const { jwtPublicKey, taskDurationMs: _duration, slow: _slow, fail: _fail, healthDown: _down, ...iredadminOptions } = options;
      if (jwtPublicKey !== undefined) throw new BackendError('Invalid', 'iRedAdmin-Pro logs in with --user and --password, not a JWT');
      const { startIRedAdminEmulator } = await import('./iredadmin/emulator.ts');
      return startIRedAdminEmulator(iredadminOptions);
    }
    case 'mailstore': {
      const { jwtPublicKey: _key, taskDurationMs: _duration, sessionTtlMs: _ttl, apiClients: _clients, legacyEnvelope: _legacy, slow, fail, healthDown: _down, ...common } = options;
      const { startMailStoreEmulator, parseSlowOption, parseFailOption } = await import('./mailstore/emulator.ts');
      return startMailStoreEmulator({
        ...common,
        slow: Object.fromEntries((slow ?? []).map(parseSlowOption)),
        fail: Object.fromEntries((fail ?? []).map(parseFailOption)),
      });
    }
    case 'openxchange': {
      const { jwtPublicKey, taskDurationMs: _duration, sessionTtlMs: _ttl, apiClients: _clients, legacyEnvelope: _legacy, slow: _slow, fail: _fail, ...common } = options;
      if (jwtPublicKey !== undefined) throw new BackendError('Invalid', 'Open-Xchange takes the master admin as --user and --password, not a JWT');
      const { startOpenXchangeEmulator } = await import('./openxchange/emulator.ts');
      return startOpenXchangeEmulator(common);
    }
    default:
      throw new BackendError('Unsupported', `there is no emulator for "${type}" (available: ${IMPLEMENTED_BACKENDS.join(', ')})`);
  }
}
