// Plans built in memory: a configuration, what a backend "reports", and the records mailops kept.
import { JAMES_CAPABILITIES } from '../../src/backends/james/adapter.ts';
import { objectKey, type Config } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import type { Capabilities } from '../../src/plan/capabilities.ts';
import type { UserPassword } from '../../src/plan/desired.ts';
import { buildPlan, type Plan } from '../../src/plan/index.ts';
import { emptyState, type AppliedRecord, type BackendState, type UserState } from '../../src/plan/state.ts';
import { fingerprinter } from '../../src/state/fingerprint.ts';

export const fingerprint = fingerprinter(Buffer.from('test key'));

/** Every user's password is `pw-<metadata.name>` unless overridden. */
export function passwordsFor(config: Config, overrides: Record<string, string> = {}): Map<string, UserPassword> {
  return new Map(
    config.users.map((u) => {
      const secret = overrides[u.ref.name] ?? `pw-${u.ref.name}`;
      return [objectKey(u.ref), { secret: new Sensitive(secret), fingerprint: fingerprint(u.address, secret) }];
    }),
  );
}

/** Records as a previous apply would have left them: every user's current address and password. */
export function recordsFor(config: Config, overrides: Record<string, Partial<AppliedRecord>> = {}): Map<string, AppliedRecord> {
  const passwords = passwordsFor(config);
  return new Map(
    config.users.map((u) => [
      objectKey(u.ref),
      { address: u.address, passwordFingerprint: passwords.get(objectKey(u.ref))!.fingerprint, ...overrides[u.ref.name] },
    ]),
  );
}

export function observedUser(address: string, fields: Partial<UserState> = {}): UserState {
  return { address, displayName: null, disabled: false, extraAddresses: [], forwards: [], keepCopy: false, quota: { storage: null, messages: null }, ...fields };
}

export function state(parts: Partial<BackendState> = {}): BackendState {
  return { ...emptyState(), ...parts };
}

export function plan(
  config: Config,
  observed: BackendState,
  options: { records?: Map<string, AppliedRecord>; passwords?: Map<string, UserPassword>; capabilities?: Capabilities; allowMassDeletion?: boolean } = {},
): Plan {
  const backendId = config.backends[0]!.id;
  return buildPlan({
    config,
    observations: new Map([[backendId, { backendId, state: observed, capabilities: options.capabilities ?? JAMES_CAPABILITIES, requests: 0 }]]),
    records: () => options.records ?? new Map(),
    passwords: options.passwords ?? passwordsFor(config),
    allowMassDeletion: options.allowMassDeletion ?? false,
  });
}

/** `+ user a@x`-style one-liners of a plan's changes, in plan order. */
export function outline(result: Plan): string[] {
  const symbol = { create: '+', update: '~', delete: '-', replace: '±' } as const;
  return result.backends.flatMap((b) => b.changes.map((c) => `${symbol[c.action]} ${c.resource} ${c.key}`));
}
