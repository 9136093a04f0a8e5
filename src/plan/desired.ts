// Config → the desired state of one backend, in the shape the backend can hold. Only what the
// configuration declares is in it (the ownership rule, see state.ts). Fields the backend cannot
// represent are set aside as "not applicable" (and shown in the plan); quota levels the backend
// lacks are folded into each user. Pure.
import { effectiveQuota, globalQuotaOf, objectKey, type Config, type DomainDecl, type ObjectRef, type QuotaLimits } from '../model/config.ts';
import type { Sensitive } from '../model/sensitive.ts';
import { domainProfileFields, roundStorage, type Capabilities } from './capabilities.ts';
import type { DesiredBackendState, DesiredDomain, DesiredUser, NotApplicable } from './state.ts';
import { UNLIMITED, type Limit } from '../model/quantity.ts';

export interface UserPassword {
  secret: Sensitive;
  fingerprint: string;
}

/**
 * Passwords by the MailUser's objectKey, resolved by the caller (secrets are I/O). A user that is
 * missing here is still declared (never pruned) but nothing is planned for it.
 */
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
    deletions: [],
    ...(config.reservedAddresses?.length ? { reserved: new Set(config.reservedAddresses) } : {}),
    notApplicable: [],
  };
  const notApplicable = (resource: NotApplicable['resource'], key: string, owner: ObjectRef, field: string, value: unknown, wholeObject = false) =>
    desired.notApplicable.push({
      resource,
      key,
      owner,
      field,
      value,
      reason: wholeObject ? `${backendType} has no ${field === 'domain' ? 'domains' : 'aliases'}` : `${backendType} cannot represent ${field}`,
      ...(wholeObject ? { wholeObject } : {}),
    });

  /** Limits as this backend can hold them: unsupported ones dropped (and reported), storage rounded. */
  const representable = (limits: Partial<QuotaLimits>, resource: NotApplicable['resource'], key: string, owner: ObjectRef, field: string) => {
    const result: Partial<QuotaLimits> = {};
    if (limits.storage !== undefined) {
      if (capabilities.quota.storage) {
        result.storage = typeof limits.storage === 'number' ? roundStorage(limits.storage, capabilities.quota.storageUnit) : limits.storage;
      } else if (limits.storage !== null) {
        notApplicable(resource, key, owner, `${field}.storage`, limits.storage);
      }
    }
    if (limits.messages !== undefined) {
      if (capabilities.quota.messages) result.messages = limits.messages;
      else if (limits.messages !== null) notApplicable(resource, key, owner, `${field}.messages`, limits.messages);
    }
    return result;
  };

  const domains = new Map<string, DomainDecl>();
  for (const domain of config.domains) {
    if (!domain.backendIds.includes(backendId)) continue;
    domains.set(domain.domain, domain);
    const na = (field: string, value: unknown) => notApplicable('domain', domain.domain, domain.ref, field, value);
    if (!capabilities.domains) {
      notApplicable('domain', domain.domain, domain.ref, 'domain', domain.domain, true);
      if (domain.aliasDomains?.length) na('aliasDomains', domain.aliasDomains);
      // No domain object, but its users are there: prune still decides about undeclared ones.
      (desired.domainsWithoutObject ??= []).push({ name: domain.domain, owner: domain.ref, prune: domain.prune });
      continue;
    }
    if (domain.aliasDomains?.length && !capabilities.aliasDomains) na('aliasDomains', domain.aliasDomains);
    const defaultQuota =
      domain.defaultQuota && (capabilities.quota.domainDefault || capabilities.quota.domainDefaultCopied)
        ? representable(domain.defaultQuota, 'domain', domain.domain, domain.ref, 'defaultQuota')
        : undefined;
    // A default that is only copied into new accounts: "unlimited" and "none" give a new account the same.
    if (defaultQuota && !capabilities.quota.domainDefault && defaultQuota.storage === UNLIMITED) defaultQuota.storage = null;
    const profile = domainProfile(domain, capabilities, na);
    const throttle = domain.throttle && (capabilities.throttling ? domain.throttle : (na('throttle', domain.throttle), undefined));
    desired.domains.set(domain.domain, {
      name: domain.domain,
      owner: domain.ref,
      prune: domain.prune,
      ...(domain.aliasDomains && capabilities.aliasDomains ? { aliasDomains: domain.aliasDomains } : {}),
      // The domain level is owned whole: a limit it leaves out is unset there.
      ...(defaultQuota ? { defaultQuota: { storage: defaultQuota.storage ?? null, messages: defaultQuota.messages ?? null } } : {}),
      ...profile,
      ...(throttle ? { throttle } : {}),
      ...(domain.backendSettings?.[backendType] ? { settings: domain.backendSettings[backendType] } : {}),
    });
  }

  const namespace = config.backends.find((b) => b.id === backendId)?.ref.namespace ?? backendId.slice(0, backendId.indexOf('/'));
  const global = globalQuotaOf(config, namespace);
  if (global && capabilities.quota.global) {
    const limits = representable(global.limits, 'globalQuota', 'global', global.ref, 'limits');
    desired.globalQuota = { owner: global.ref, limits: { storage: limits.storage ?? null, messages: limits.messages ?? null } };
  }
  if (global?.throttle) {
    if (capabilities.throttling) desired.globalQuota = { ...desired.globalQuota, owner: global.ref, throttle: global.throttle };
    else notApplicable('globalQuota', 'global', global.ref, 'throttle', global.throttle);
  }

  for (const user of config.users) {
    if (!user.backendIds.includes(backendId)) continue;
    const key = user.address;
    const na = (field: string, value: unknown) => notApplicable('user', key, user.ref, field, value);
    const password = passwords.get(objectKey(user.ref));

    // With levels, the user level is owned whole when declared (an unset limit inherits). Without
    // them, the user carries the effective limits, and a limit no level declares is left alone.
    let quota: Partial<QuotaLimits> = {};
    if (capabilities.quota.domainDefault && capabilities.quota.global) {
      if (user.quota) quota = { ...user.quota };
    } else {
      const effective = effectiveQuota(
        user.quota,
        capabilities.quota.domainDefault ? null : (domains.get(user.domain)?.defaultQuota ?? null),
        capabilities.quota.global ? null : (global?.limits ?? null),
      );
      if (effective.storage !== null) quota.storage = effective.storage;
      if (effective.messages !== null) quota.messages = effective.messages;
    }

    const desiredUser: DesiredUser = {
      address: user.address,
      owner: user.ref,
      domain: user.domain,
      password: password?.secret ?? null,
      passwordFingerprint: password?.fingerprint ?? null,
      ...(!password && user.password.optional ? { passwordUnmanaged: true } : {}),
      quota: representable(quota, 'user', key, user.ref, 'quota'),
      ...(capabilities.ownedUserSettings ? { settings: capabilities.ownedUserSettings } : {}),
    };
    if (user.throttle) {
      if (capabilities.throttling) desiredUser.throttle = user.throttle;
      else na('throttle', user.throttle);
    }
    if (user.displayName !== null) {
      if (capabilities.displayName) desiredUser.displayName = user.displayName;
      else na('displayName', user.displayName);
    }
    if (user.disabled !== null) {
      if (capabilities.disableUser) desiredUser.disabled = user.disabled;
      else if (user.disabled) na('disabled', true);
    }
    if (user.extraAddresses !== null) {
      if (capabilities.extraAddresses) desiredUser.extraAddresses = user.extraAddresses;
      else if (user.extraAddresses.length > 0) na('extraAddresses', user.extraAddresses);
    }
    if (user.forwarding !== null) {
      if (capabilities.forwarding) {
        desiredUser.forwards = user.forwarding.to;
        desiredUser.keepCopy = capabilities.keepCopy && user.forwarding.keepCopy;
        if (user.forwarding.keepCopy && !capabilities.keepCopy) na('forwarding.keepCopy', true);
      } else if (user.forwarding.to.length > 0) {
        na('forwarding', user.forwarding.to);
      }
    }
    desired.users.set(key, desiredUser);
  }

  for (const alias of config.aliases) {
    if (!alias.backendIds.includes(backendId)) continue;
    if (!capabilities.groups) {
      notApplicable('group', alias.address, alias.ref, 'members', alias.members, true);
      continue;
    }
    if (capabilities.aliasMembers === 'one-user' && !(alias.members.length === 1 && desired.users.has(alias.members[0]!))) {
      desired.notApplicable.push({
        resource: 'group',
        key: alias.address,
        owner: alias.ref,
        field: 'members',
        value: alias.members,
        reason: alias.members.length === 1
          ? `${backendType} keeps an alias only as an address of a user it serves; ${alias.members[0]} is not one`
          : `${backendType} keeps only aliases with one member, as an address of that user`,
        wholeObject: true,
      });
      continue;
    }
    desired.groups.set(alias.address, { address: alias.address, members: alias.members, owner: alias.ref, domain: alias.domain });
  }

  for (const deletion of config.deletions ?? []) {
    if (!deletion.backendIds.includes(backendId)) continue;
    // What the backend cannot hold was never put there.
    if ((deletion.resource === 'domain' && !capabilities.domains) || (deletion.resource === 'group' && !capabilities.groups)) continue;
    desired.deletions.push(deletion);
  }
  return desired;
}

/** The declared domain-profile fields the backend can hold (storage rounded to its unit); the others reported. */
function domainProfile(domain: DomainDecl, capabilities: Capabilities, na: (field: string, value: unknown) => void): Partial<DesiredDomain> {
  const declared = {
    ...(domain.displayName !== null ? { displayName: domain.displayName } : {}),
    ...(domain.disabled !== null ? { disabled: domain.disabled } : {}),
    ...(domain.totalStorage !== null ? { totalStorage: roundLimit(domain.totalStorage, capabilities.quota.storageUnit) } : {}),
    ...(domain.maxUserStorage !== null ? { maxUserStorage: roundLimit(domain.maxUserStorage, capabilities.quota.storageUnit) } : {}),
  };
  const supported: readonly string[] = domainProfileFields(capabilities);
  const held: Partial<DesiredDomain> = {};
  for (const [field, value] of Object.entries(declared)) {
    if (supported.includes(field)) Object.assign(held, { [field]: value });
    else if (field !== 'disabled' || value === true) na(field, value);
  }
  return held;
}

function roundLimit(limit: Limit, unit: number): Limit {
  return typeof limit === 'number' ? roundStorage(limit, unit) : limit;
}
