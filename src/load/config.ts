// Schema-valid objects → a Config, checking what a schema cannot: duplicates across files,
// references between objects, addresses declared twice, aliases that loop. Pure.
import {
  describeObject,
  objectKey,
  type AliasDecl,
  type BackendDecl,
  type Config,
  type DomainDecl,
  type GlobalQuotaDecl,
  type ObjectRef,
  type QuotaLimits,
  type SecretRef,
  type SourceLocation,
  type UserDecl,
  backendCaBundle,
  secretRefsInOptions,
} from '../model/config.ts';
import { backendUrlProblem, domainOf, normalizeAddress, normalizeDomain } from '../model/names.ts';
import { QuantityError, parseMessages, parsePeriod, parseStorage } from '../model/quantity.ts';
import type { Throttle, ThrottleLimits } from '../model/throttle.ts';
import { BACKEND_OPTIONS, DOMAIN_BACKEND_OPTIONS, tlsConflicts } from '../model/schema.ts';
import type {
  Alias,
  MailBackend,
  MailDomain,
  MailObject,
  MailUser,
  QuotaPolicy,
  QuotaSpec,
  SecretKeySelector,
} from '../model/schema.ts';
import type { SourceDocument } from './documents.ts';
import { formatFieldPath, formatPosition, type ConfigError, type FieldPath } from './errors.ts';

/** A schema-valid object and the document it came from. */
export interface LoadedObject {
  object: MailObject;
  document: SourceDocument;
  /** Path of the object inside its document (non-empty for items of a `kind: List`). */
  base: FieldPath;
}

export const DEFAULT_NAMESPACE = 'default';

interface Located<T> {
  value: T;
  ref: ObjectRef;
  at: (path: FieldPath, key?: boolean) => ConfigError['position'];
}

export function buildConfig(loaded: LoadedObject[], skippedDocuments: number): { config?: Config; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const byKey = new Map<string, Located<MailObject>>();

  for (const item of loaded) {
    const { object, document, base } = item;
    const namespace = object.metadata.namespace ?? DEFAULT_NAMESPACE;
    const at = (path: FieldPath, key = false) => document.locate([...base, ...path], { key });
    const ref: ObjectRef = {
      kind: object.kind,
      namespace,
      name: object.metadata.name,
      ...(object.metadata.generation !== undefined ? { generation: object.metadata.generation } : {}),
      source: at([]),
    };
    const key = objectKey(ref);
    const earlier = byKey.get(key);
    if (earlier) {
      errors.push({
        position: at(['metadata', 'name']),
        object: describeObject(ref),
        field: 'metadata.name',
        message: `is declared twice; the first is at ${formatPosition(earlier.ref.source)}`,
      });
      continue;
    }
    byKey.set(key, { value: object, ref, at });
  }

  const report = (item: Located<unknown>, path: FieldPath, message: string, key = false) =>
    errors.push({ position: item.at(path, key), object: describeObject(item.ref), field: formatFieldPath(path), message });
  const reportMissing = (item: Located<unknown>, path: FieldPath, message: string) =>
    errors.push({ position: item.at(path), object: describeObject(item.ref), field: formatFieldPath(path), message, missingReference: true });

  // One collator for every comparison: the order of localeCompare, without its cost per call.
  const collator = new Intl.Collator();
  const ofKind = <T extends MailObject>(kind: T['kind']) =>
    [...byKey]
      .filter((entry): entry is [string, Located<T>] => entry[1].value.kind === kind)
      .sort((a, b) => collator.compare(a[0], b[0]))
      .map(([, item]) => item);

  // --- MailBackend
  const backends = new Map<string, BackendDecl>();
  for (const item of ofKind<MailBackend>('MailBackend')) {
    const spec = item.value.spec;
    const secret = (selector: SecretKeySelector | undefined, field: string): SecretRef | undefined =>
      selector && { ...selector, namespace: item.ref.namespace, source: item.at(['spec', 'credentials', field]) };
    const password = secret(spec.credentials?.passwordSecretRef, 'passwordSecretRef');
    const token = secret(spec.credentials?.tokenSecretRef, 'tokenSecretRef');
    const options = ((spec as Record<string, unknown>)[spec.type] as Record<string, unknown> | undefined) ?? {};
    const optionSecrets = Object.fromEntries(
      secretRefsInOptions(options).map(({ path, selector }) => [path.join('.'), { ...selector, namespace: item.ref.namespace, source: item.at(['spec', spec.type, ...path]) }]),
    );
    const id = `${item.ref.namespace}/${item.ref.name}`;
    const urlProblem = backendUrlProblem(spec.url);
    if (urlProblem) report(item, ['spec', 'url'], urlProblem);
    backends.set(id, {
      ref: item.ref,
      id,
      name: item.ref.name,
      type: spec.type,
      url: spec.url.replace(/\/+$/, ''),
      credentials: {
        ...(spec.credentials?.username !== undefined ? { username: spec.credentials.username } : {}),
        ...(password ? { password } : {}),
        ...(token ? { token } : {}),
        ...(Object.keys(optionSecrets).length > 0 ? { optionSecrets } : {}),
      },
      limits: {
        concurrency: spec.limits?.concurrency ?? 8,
        requestsPerSecond: spec.limits?.requestsPerSecond ?? 100,
        timeoutSeconds: spec.limits?.timeoutSeconds ?? 30,
        retries: spec.limits?.retries ?? 3,
        taskTimeoutSeconds: spec.limits?.taskTimeoutSeconds ?? 600,
      },
      insecureSkipTLSVerify: spec.insecureSkipTLSVerify ?? false,
      ...backendCaBundle(spec, item.ref.namespace, item.at),
      options,
    });
    // The CRD's TLS rules, for files.
    for (const { field, message } of tlsConflicts(spec)) report(item, ['spec', field], message, true);
    // iRedAdmin-Pro's API logs in with a domain or global admin's address and password (iredadmin.md).
    if (spec.type === 'iredadmin' && !(spec.credentials?.username?.includes('@') && spec.credentials.passwordSecretRef)) {
      report(item, ['spec', 'credentials'], 'an iRedAdmin-Pro backend logs in as an admin: set credentials.username (the admin’s email address) and credentials.passwordSecretRef');
    }
    // Open-Xchange provisions contexts as the master admin and users as each context's admin (openxchange.md).
    if (spec.type === 'openxchange' && !(spec.credentials?.username && spec.credentials.passwordSecretRef && options['contextAdmin'])) {
      report(item, ['spec'], 'an Open-Xchange backend needs the master admin (credentials.username and credentials.passwordSecretRef) and the context admin (openxchange.contextAdmin.passwordSecretRef)');
    }
    // The CRD's rule, for files: a settings block only for the backend's own type.
    for (const type of Object.keys(BACKEND_OPTIONS)) {
      if (type !== spec.type && (spec as Record<string, unknown>)[type] !== undefined) {
        report(item, ['spec', type], `holds settings of a ${type} backend, but this MailBackend is of type ${spec.type}`, true);
      }
    }
  }

  const resolveBackendRefs = (item: Located<unknown>, refs: Array<{ name: string }> | undefined, path: FieldPath): string[] => {
    const ids: string[] = [];
    (refs ?? []).forEach((r, i) => {
      const id = `${item.ref.namespace}/${r.name}`;
      if (!backends.has(id)) {
        reportMissing(item, [...path, i, 'name'], `refers to MailBackend "${r.name}", which is not declared in namespace "${item.ref.namespace}"`);
      } else if (ids.includes(id)) {
        report(item, [...path, i, 'name'], `lists MailBackend "${r.name}" twice`);
      } else {
        ids.push(id);
      }
    });
    return ids;
  };

  // --- QuotaPolicy
  const policies = new Map<string, QuotaLimits>();
  const throttles = new Map<string, Throttle>();
  const globalQuotas: GlobalQuotaDecl[] = [];
  for (const item of ofKind<QuotaPolicy>('QuotaPolicy')) {
    const limits = parseLimits(item, ['spec'], item.value.spec, report);
    const throttle = item.value.spec.throttle ? parseThrottle(item, item.value.spec.throttle, report) : null;
    policies.set(`${item.ref.namespace}/${item.ref.name}`, limits);
    if (throttle) throttles.set(`${item.ref.namespace}/${item.ref.name}`, throttle);
    if (item.value.spec.globalDefault) {
      const earlier = globalQuotas.find((g) => g.ref.namespace === item.ref.namespace);
      if (earlier) {
        report(item, ['spec', 'globalDefault'], `only one QuotaPolicy per namespace may be the global default; ${describeObject(earlier.ref)} already is (${formatPosition(earlier.ref.source)})`);
      } else {
        globalQuotas.push({ ref: item.ref, limits, throttle });
      }
    }
  }
  /** The throttle of the policy a quota names (a quota given inline has none). */
  const resolveThrottle = (item: Located<unknown>, spec: QuotaSpec | undefined): Throttle | null =>
    spec?.policyRef ? (throttles.get(`${item.ref.namespace}/${spec.policyRef.name}`) ?? null) : null;

  const resolveQuota = (item: Located<unknown>, spec: QuotaSpec | undefined, path: FieldPath): QuotaLimits | null => {
    if (!spec) return null;
    if (spec.policyRef) {
      if (spec.storage !== undefined || spec.messages !== undefined) {
        report(item, [...path, 'policyRef'], 'set either policyRef or storage/messages, not both');
      }
      const policy = policies.get(`${item.ref.namespace}/${spec.policyRef.name}`);
      if (!policy) {
        reportMissing(item, [...path, 'policyRef', 'name'], `refers to QuotaPolicy "${spec.policyRef.name}", which is not declared in namespace "${item.ref.namespace}"`);
        return null;
      }
      return policy;
    }
    return parseLimits(item, path, spec, report);
  };

  // --- MailDomain
  const domains = new Map<string, DomainDecl & { located: Located<MailDomain> }>();
  const aliasDomainOwner = new Map<string, DomainDecl & { located: Located<MailDomain> }>();
  for (const item of ofKind<MailDomain>('MailDomain')) {
    const spec = item.value.spec;
    const domain = normalizeDomain(spec.domain);
    const earlier = domains.get(domain);
    if (earlier) {
      report(item, ['spec', 'domain'], `domain ${domain} is already declared by ${describeObject(earlier.ref)} (${formatPosition(earlier.ref.source)})`);
      continue;
    }
    const decl = {
      ref: item.ref,
      domain,
      backendIds: resolveBackendRefs(item, spec.backendRefs, ['spec', 'backendRefs']),
      aliasDomains: spec.aliasDomains ? ([] as string[]) : null,
      defaultQuota: resolveQuota(item, spec.defaultQuota, ['spec', 'defaultQuota']),
      prune: {
        enabled: spec.prune?.enabled ?? false,
        maxUserDeletionPercent: spec.prune?.maxUserDeletionPercent ?? 25,
      },
      displayName: spec.displayName ?? null,
      disabled: spec.disabled ?? null,
      totalStorage: parseOne(item, ['spec', 'totalStorage'], spec.totalStorage, parseStorage, report),
      maxUserStorage: parseOne(item, ['spec', 'maxUserStorage'], spec.maxUserStorage, parseStorage, report),
      throttle: resolveThrottle(item, spec.defaultQuota),
      ...domainBackendSettings(item, spec, backends, report),
      located: item,
    };
    domains.set(domain, decl);
  }
  // Alias domains, once every primary domain is known.
  for (const decl of domains.values()) {
    const item = decl.located;
    (item.value.spec.aliasDomains ?? []).forEach((raw, i) => {
      const alias = normalizeDomain(raw);
      const path = ['spec', 'aliasDomains', i];
      const owner = aliasDomainOwner.get(alias);
      if (alias === decl.domain) report(item, path, `${alias} cannot be an alias of itself`);
      else if (domains.has(alias)) report(item, path, `${alias} is declared as a MailDomain of its own (${formatPosition(domains.get(alias)!.ref.source)}); a domain is either primary or an alias`);
      else if (owner === decl) report(item, path, `${alias} is listed twice`);
      else if (owner) report(item, path, `${alias} is already an alias domain of ${owner.domain} (${formatPosition(owner.ref.source)})`);
      else {
        aliasDomainOwner.set(alias, decl);
        decl.aliasDomains!.push(alias);
      }
    });
    decl.aliasDomains?.sort();
  }

  /** The MailDomain an address belongs to, reporting why when there is none. */
  const domainFor = (item: Located<unknown>, address: string, path: FieldPath, role: string) => {
    const domain = domainOf(address);
    const decl = domains.get(domain);
    if (decl) {
      if (decl.ref.namespace !== item.ref.namespace) {
        report(item, path, `${role} is in domain ${domain}, which is declared in namespace "${decl.ref.namespace}"; objects must be in the same namespace as their MailDomain`);
        return undefined;
      }
      return decl;
    }
    const owner = aliasDomainOwner.get(domain);
    if (owner) {
      report(item, path, `${role} is in ${domain}, an alias domain of ${owner.domain}; use an address in ${owner.domain}`);
    } else {
      reportMissing(item, path, `${role} is in domain ${domain}, which no MailDomain declares`);
    }
    return undefined;
  };

  const narrow = (item: Located<unknown>, refs: Array<{ name: string }> | undefined, domain: DomainDecl): string[] => {
    if (!refs) return domain.backendIds;
    const ids = resolveBackendRefs(item, refs, ['spec', 'backendRefs']);
    ids.forEach((id, i) => {
      if (!domain.backendIds.includes(id)) {
        report(item, ['spec', 'backendRefs', i, 'name'], `MailBackend "${id.split('/')[1]}" does not serve domain ${domain.domain}; a user or alias may only narrow its domain's backendRefs`);
      }
    });
    return ids.filter((id) => domain.backendIds.includes(id));
  };

  // Every address is declared once: as a user, an extra address, or an alias.
  const claimed = new Map<string, { item: Located<unknown>; what: string }>();
  const claim = (item: Located<unknown>, address: string, path: FieldPath, what: string): boolean => {
    const earlier = claimed.get(address);
    if (earlier) {
      report(item, path, `${address} is already declared as ${earlier.what} of ${describeObject(earlier.item.ref)} (${formatPosition(earlier.item.at([]))})`);
      return false;
    }
    claimed.set(address, { item, what });
    return true;
  };

  // Addresses are compared, and stored by the servers, in lower case: say so once when that changes one.
  const notes: string[] = [];
  let upperCase: { count: number; first: string } | undefined;
  const lowered = (item: Located<unknown>, raw: string, path: FieldPath): string => {
    const address = normalizeAddress(raw);
    if (address !== raw.trim()) {
      upperCase ??= { count: 0, first: `${raw.trim()}, ${formatPosition(item.at(path))}` };
      upperCase.count += 1;
    }
    return address;
  };

  // --- MailUser
  const users: UserDecl[] = [];
  for (const item of ofKind<MailUser>('MailUser')) {
    const spec = item.value.spec;
    const address = lowered(item, spec.address, ['spec', 'address']);
    const domain = domainFor(item, address, ['spec', 'address'], 'the address');
    if (!claim(item, address, ['spec', 'address'], 'the address')) continue;
    const extraAddresses: string[] | null = spec.extraAddresses ? [] : null;
    (spec.extraAddresses ?? []).forEach((raw, i) => {
      const path = ['spec', 'extraAddresses', i];
      const extra = lowered(item, raw, path);
      if (extra === address) return report(item, path, 'is the user’s own address');
      const extraDomain = domainOf(extra);
      const servedBy = domains.get(extraDomain) ?? aliasDomainOwner.get(extraDomain);
      if (!servedBy) return reportMissing(item, path, `${extra} is in domain ${extraDomain}, which no MailDomain declares (an extra address must be in a managed domain)`);
      if (claim(item, extra, path, 'an extra address')) extraAddresses!.push(extra);
    });
    let forwarding: UserDecl['forwarding'] = null;
    if (spec.forwarding) {
      const to: string[] = [];
      spec.forwarding.to.forEach((raw, i) => {
        const path = ['spec', 'forwarding', 'to', i];
        const target = lowered(item, raw, path);
        if (target === address) report(item, path, 'forwards to the user’s own address; set keepCopy: true instead');
        else if (to.includes(target)) report(item, path, `${target} is listed twice`);
        else to.push(target);
      });
      forwarding = { to: to.sort(), keepCopy: spec.forwarding.keepCopy ?? false };
    }
    if (!domain) continue;
    const backendIds = narrow(item, spec.backendRefs, domain);
    for (const extra of extraAddresses ?? []) {
      const servedBy = domains.get(domainOf(extra)) ?? aliasDomainOwner.get(domainOf(extra))!;
      const missing = backendIds.filter((id) => !servedBy.backendIds.includes(id));
      if (missing.length > 0) {
        report(item, ['spec', 'extraAddresses', spec.extraAddresses!.findIndex((a) => normalizeAddress(a) === extra)],
          `${extra} is in domain ${servedBy.domain}, which is not served by ${missing.map((id) => id.split('/')[1]).join(', ')}`);
      }
    }
    const { optional, ...selector } = spec.passwordSecretRef;
    const password = withLazySource({ ...selector, namespace: item.ref.namespace, ...(optional ? { optional: true } : {}) }, () =>
      item.at(['spec', 'passwordSecretRef']),
    );
    users.push({
      ref: item.ref,
      address,
      domain: domain.domain,
      displayName: spec.displayName ?? null,
      password,
      extraAddresses: extraAddresses?.sort() ?? null,
      forwarding,
      disabled: spec.disabled ?? null,
      quota: resolveQuota(item, spec.quota, ['spec', 'quota']),
      throttle: resolveThrottle(item, spec.quota),
      backendIds,
    });
  }

  // --- Alias
  const aliases: AliasDecl[] = [];
  for (const item of ofKind<Alias>('Alias')) {
    const spec = item.value.spec;
    const address = lowered(item, spec.address, ['spec', 'address']);
    const domain = domainFor(item, address, ['spec', 'address'], 'the alias address');
    if (!claim(item, address, ['spec', 'address'], 'the alias')) continue;
    const members: string[] = [];
    spec.members.forEach((raw, i) => {
      const member = lowered(item, raw, ['spec', 'members', i]);
      if (member === address) report(item, ['spec', 'members', i], 'is the alias itself');
      else if (members.includes(member)) report(item, ['spec', 'members', i], `${member} is listed twice`);
      else members.push(member);
    });
    if (!domain) continue;
    aliases.push({
      ref: item.ref,
      address,
      domain: domain.domain,
      members: members.sort(),
      backendIds: narrow(item, spec.backendRefs, domain),
    });
  }

  // Valid, but probably a mistake (a member left behind by an address change): an address in a
  // managed domain that no user, extra address or alias declares. A warning, since an alias may
  // point at a user mailops does not manage.
  const warnings: ConfigError[] = [];
  const declaredAddress = (address: string): boolean => {
    const domain = domainOf(address);
    const primary = aliasDomainOwner.get(domain);
    return claimed.has(address) || (primary !== undefined && claimed.has(`${address.slice(0, -domain.length)}${primary.domain}`));
  };
  const managed = (address: string) => domains.has(domainOf(address)) || aliasDomainOwner.has(domainOf(address));
  const checkTargets = (item: Located<unknown> | undefined, raws: readonly string[] | undefined, path: FieldPath, what: string) => {
    if (!item) return;
    (raws ?? []).forEach((raw, i) => {
      const address = normalizeAddress(raw);
      if (!managed(address) || declaredAddress(address)) return;
      warnings.push({
        position: item.at([...path, i]),
        object: describeObject(item.ref),
        field: formatFieldPath([...path, i]),
        message: `${what} ${address} is in managed domain ${domainOf(address)}, but no MailUser, extra address or Alias declares it (renamed or removed?)`,
      });
    });
  };
  for (const item of ofKind<Alias>('Alias')) checkTargets(item, item.value.spec.members, ['spec', 'members'], 'member');
  for (const item of ofKind<MailUser>('MailUser')) checkTargets(item, item.value.spec.forwarding?.to, ['spec', 'forwarding', 'to'], 'forwarding target');
  if (upperCase) {
    const count = upperCase.count === 1 ? 'An address was' : `${upperCase.count} addresses were`;
    notes.push(`${count} written with upper-case letters; mailops plans ${upperCase.count === 1 ? 'it' : 'them'} in lower case, as the servers store addresses (first: ${upperCase.first}).`);
  }

  for (const loop of findLoops(users, aliases)) {
    const start = claimed.get(loop[0]!);
    if (start) report(start.item, ['spec'], `mail would loop: ${loop.join(' → ')}`);
  }

  if (errors.length > 0) return { errors };
  return {
    errors,
    config: {
      backends: [...backends.values()],
      domains: [...domains.values()].map(({ located: _located, ...decl }) => decl),
      users,
      aliases,
      globalQuotas,
      quotaPolicies: ofKind<QuotaPolicy>('QuotaPolicy').map((item) => item.ref),
      skippedDocuments,
      warnings,
      notes,
    },
  };
}

type Report = (item: Located<unknown>, path: FieldPath, message: string) => void;

/** One quantity, or null when absent or invalid (reported at its path). */
function parseOne<T>(item: Located<unknown>, path: FieldPath, raw: number | string | undefined, parser: (value: number | string) => T, report: Report): T | null {
  if (raw === undefined) return null;
  try {
    return parser(raw);
  } catch (error) {
    if (!(error instanceof QuantityError)) throw error;
    report(item, path, error.message);
    return null;
  }
}

function parseLimits(
  item: Located<unknown>,
  path: FieldPath,
  spec: { storage?: number | string; messages?: number | string },
  report: Report,
): QuotaLimits {
  return {
    storage: parseOne(item, [...path, 'storage'], spec.storage, parseStorage, report),
    messages: parseOne(item, [...path, 'messages'], spec.messages, parseMessages, report),
  };
}

type ThrottleSpec = NonNullable<QuotaPolicy['spec']['throttle']>;

function parseThrottle(item: Located<unknown>, spec: ThrottleSpec, report: Report): Throttle {
  const direction = (name: 'inbound' | 'outbound'): ThrottleLimits | null => {
    const given = spec[name];
    if (!given) return null;
    const path = ['spec', 'throttle', name];
    // `unlimited` is no limit, as a limit left out is.
    const limit = (field: 'maxMessageSize' | 'maxMessages' | 'maxTotalSize', parser: typeof parseStorage) => {
      const value = parseOne(item, [...path, field], given[field], parser, report);
      return value === 'unlimited' ? null : value;
    };
    const limits: ThrottleLimits = {
      period: parseOne(item, [...path, 'period'], given.period, parsePeriod, report) ?? 1,
      maxMessageSize: limit('maxMessageSize', parseStorage),
      maxMessages: limit('maxMessages', parseMessages),
      maxTotalSize: limit('maxTotalSize', parseStorage),
    };
    // The CRD's rule, for files (iRedAdmin-Pro refuses a throttle without a limit: MISS_THROTTLE_SETTING).
    if (given.maxMessageSize === undefined && given.maxMessages === undefined && given.maxTotalSize === undefined) {
      report(item, path, 'set at least one of maxMessageSize, maxMessages, maxTotalSize');
    }
    // A direction whose every limit is `unlimited` throttles nothing.
    return limits.maxMessageSize === null && limits.maxMessages === null && limits.maxTotalSize === null ? null : limits;
  };
  return { inbound: direction('inbound'), outbound: direction('outbound') };
}

/**
 * Mail routes: an alias delivers to its members, an extra address to its user, a user to its
 * forwarding targets. A cycle among them would bounce mail forever (and James refuses to store it).
 * Returns each cycle once, starting at its smallest address.
 */
function findLoops(users: UserDecl[], aliases: AliasDecl[]): string[][] {
  const edges = new Map<string, string[]>();
  const add = (from: string, to: string) => {
    const targets = edges.get(from);
    if (targets) targets.push(to);
    else edges.set(from, [to]);
  };
  for (const alias of aliases) for (const member of alias.members) add(alias.address, member);
  for (const user of users) {
    for (const extra of user.extraAddresses ?? []) add(extra, user.address);
    for (const target of user.forwarding?.to ?? []) add(user.address, target);
  }
  const loops = searchLoops(edges, edges.keys());
  // Which cycles a search meets depends on where it starts; a configuration with loops (rare) is
  // searched again from its addresses in order, so that the same loops are reported every time.
  return loops.length === 0 ? loops : searchLoops(edges, [...edges.keys()].sort());
}

function searchLoops(edges: ReadonlyMap<string, string[]>, roots: Iterable<string>): string[][] {
  const loops = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  // Depth-first, with an explicit stack: a long chain of aliases must not exhaust the call stack.
  for (const root of roots) {
    if (state.has(root)) continue;
    const path: string[] = [root];
    const next: number[] = [0];
    state.set(root, 'open');
    while (path.length > 0) {
      const node = path.at(-1)!;
      const targets = edges.get(node) ?? [];
      const index = next[next.length - 1]!;
      if (index >= targets.length) {
        state.set(node, 'done');
        path.pop();
        next.pop();
        continue;
      }
      next[next.length - 1] = index + 1;
      const target = targets[index]!;
      if (state.get(target) === 'open') {
        const cycle = path.slice(path.indexOf(target));
        const smallest = [...cycle].sort()[0]!;
        const start = cycle.indexOf(smallest);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        loops.set(rotated.join('→'), [...rotated, smallest]);
      } else if (!state.has(target)) {
        state.set(target, 'open');
        path.push(target);
        next.push(0);
      }
    }
  }
  return [...loops.values()];
}

/** A domain's settings blocks for backend types (`spec.openxchange`), each only where the domain has a backend of that type. */
function domainBackendSettings(
  item: Located<MailDomain>,
  spec: MailDomain['spec'],
  backends: ReadonlyMap<string, BackendDecl>,
  report: (item: Located<unknown>, path: FieldPath, message: string, key?: boolean) => void,
): { backendSettings?: Record<string, Record<string, unknown>> } {
  const settings: Record<string, Record<string, unknown>> = {};
  for (const type of Object.keys(DOMAIN_BACKEND_OPTIONS)) {
    const block = (spec as Record<string, unknown>)[type] as Record<string, unknown> | undefined;
    if (block === undefined) continue;
    const served = spec.backendRefs.some((r) => backends.get(`${item.ref.namespace}/${r.name}`)?.type === type);
    if (!served) report(item, ['spec', type], `holds settings for ${type} backends, but none of its backendRefs is one`, true);
    settings[type] = block;
  }
  return Object.keys(settings).length > 0 ? { backendSettings: settings } : {};
}

/**
 * A SecretRef whose position in the manifest is found when something reports it: finding a field's
 * position may read the document's text again (src/load/documents.ts), which 100,000 users should
 * not pay for when every secret resolves.
 */
function withLazySource(ref: Omit<SecretRef, 'source'>, find: () => SourceLocation): SecretRef {
  let found: SourceLocation | undefined;
  return Object.defineProperty(ref, 'source', {
    enumerable: true,
    configurable: true,
    get: () => (found ??= find()),
    // A review of a base copy relocates positions to the files' names in the repository.
    set: (position: SourceLocation) => {
      found = position;
    },
  }) as SecretRef;
}
