// Config → the desired state of one backend, in the shape the backend can hold. Fields the
// backend cannot represent are set aside as "not applicable" (and shown in the plan); quota
// levels the backend lacks are folded into each user. Pure.
import { NO_QUOTA, effectiveQuota, objectKey, type Config, type QuotaLimits } from '../model/config.ts';
import type { Sensitive } from '../model/sensitive.ts';
import type { Capabilities } from './capabilities.ts';
import type { DesiredBackendState, DesiredUser, NotApplicable } from './state.ts';

export interface UserPassword {
  secret: Sensitive;
  fingerprint: string;
}

/** Passwords by the MailUser's objectKey, resolved by the caller (secrets are I/O). */
export type PasswordsByUser = ReadonlyMap<string, UserPassword>;

export function desiredStateFor(
  config: Config,
  backendId: string,
  backendType: string,
  capabilities: Capabilities,
  passwords: PasswordsByUser,
): DesiredBackendState {
  const desired: DesiredBackendState = {
    domains: new Map(),
    users: new Map(),
    groups: new Map(),
    globalQuota: null,
    notApplicable: [],
  };
  const notApplicable = (entry: Omit<NotApplicable, 'reason'>) =>
    desired.notApplicable.push({ ...entry, reason: `${backendType} cannot represent ${entry.field}` });

  const domains = config.domains.filter((d) => d.backendIds.includes(backendId));
  const domainDefaults = new Map<string, QuotaLimits>();
  const global = config.globalQuota?.limits ?? null;

  const quotaFor = (owned: QuotaLimits, resource: NotApplicable['resource'], key: string, owner: NotApplicable['owner'], field: string) => {
    const limits = { ...owned };
    if (!capabilities.quota.storage && limits.storage !== null) {
      notApplicable({ resource, key, owner, field: `${field}.storage`, value: limits.storage });
      limits.storage = null;
    }
    if (!capabilities.quota.messages && limits.messages !== null) {
      notApplicable({ resource, key, owner, field: `${field}.messages`, value: limits.messages });
      limits.messages = null;
    }
    return limits;
  };

  for (const domain of domains) {
    domainDefaults.set(domain.domain, domain.defaultQuota);
    if (!capabilities.domains) continue;
    const aliasDomains = capabilities.aliasDomains ? domain.aliasDomains : [];
    if (!capabilities.aliasDomains && domain.aliasDomains.length > 0) {
      notApplicable({ resource: 'domain', key: domain.domain, owner: domain.ref, field: 'aliasDomains', value: domain.aliasDomains });
    }
    desired.domains.set(domain.domain, {
      name: domain.domain,
      aliasDomains,
      defaultQuota: capabilities.quota.domainDefault
        ? quotaFor(domain.defaultQuota, 'domain', domain.domain, domain.ref, 'defaultQuota')
        : NO_QUOTA,
      owner: domain.ref,
      prune: domain.prune,
    });
  }

  if (config.globalQuota && capabilities.quota.global) {
    desired.globalQuota = {
      owner: config.globalQuota.ref,
      limits: quotaFor(config.globalQuota.limits, 'globalQuota', 'global', config.globalQuota.ref, 'limits'),
    };
  }

  for (const user of config.users) {
    if (!user.backendIds.includes(backendId)) continue;
    const password = passwords.get(objectKey(user.ref));
    if (!password) throw new Error(`no password resolved for ${objectKey(user.ref)}`);
    const key = user.address;
    const na = (field: string, value: unknown) => notApplicable({ resource: 'user', key, owner: user.ref, field, value });

    // Where the backend has no domain or global level, the user carries the effective limits.
    const owned = effectiveQuota(
      user.quota,
      capabilities.quota.domainDefault ? NO_QUOTA : (domainDefaults.get(user.domain) ?? NO_QUOTA),
      capabilities.quota.global ? null : global,
    );
    if (user.displayName !== null && !capabilities.displayName) na('displayName', user.displayName);
    if (user.disabled && !capabilities.disableUser) na('disabled', true);
    if (user.extraAddresses.length > 0 && !capabilities.extraAddresses) na('extraAddresses', user.extraAddresses);
    if (user.forwarding && !capabilities.forwarding) na('forwarding', user.forwarding.to);
    if (user.forwarding?.keepCopy && capabilities.forwarding && !capabilities.keepCopy) na('forwarding.keepCopy', true);

    const desiredUser: DesiredUser = {
      address: user.address,
      displayName: capabilities.displayName ? user.displayName : null,
      disabled: capabilities.disableUser ? user.disabled : false,
      extraAddresses: capabilities.extraAddresses ? user.extraAddresses : [],
      forwards: capabilities.forwarding ? (user.forwarding?.to ?? []) : [],
      keepCopy: capabilities.forwarding && capabilities.keepCopy ? (user.forwarding?.keepCopy ?? false) : false,
      quota: quotaFor(owned, 'user', key, user.ref, 'quota'),
      owner: user.ref,
      domain: user.domain,
      password: password.secret,
      passwordFingerprint: password.fingerprint,
    };
    desired.users.set(key, desiredUser);
  }

  for (const alias of config.aliases) {
    if (!alias.backendIds.includes(backendId)) continue;
    if (!capabilities.groups) {
      notApplicable({ resource: 'group', key: alias.address, owner: alias.ref, field: 'members', value: alias.members });
      continue;
    }
    desired.groups.set(alias.address, { address: alias.address, members: alias.members, owner: alias.ref, domain: alias.domain });
  }
  return desired;
}
