// What one or more backends report → one set of objects to declare, in model terms. Pure.
//
// The rule is the ownership rule read backwards: a field is declared with the value the server has
// when every backend that serves the object and can hold the field agrees on it; an empty or unset
// value is left out (not managed: what the server has is kept). Where backends disagree, the field
// is left out too and the disagreement is listed — never a value chosen silently. Values are
// compared as each backend would store them: 1500M is what a backend that stores MiB keeps as
// 1431Mi, so the two agree and the finer value is declared.
//
// Works from BackendState (plan/state.ts) and Capabilities only, so every backend that observes
// (a new one included) exports without code of its own here.
import { effectiveQuota, type QuotaLimits } from '../model/config.ts';
import { domainOf, isDomainName, isMailAddress } from '../model/names.ts';
import { formatMessages, formatStorage, UNLIMITED, type Limit } from '../model/quantity.ts';
import { roundStorage, type Capabilities } from '../plan/capabilities.ts';
import type { BackendState, UserState } from '../plan/state.ts';

/** What one backend reported, as the export reads it. */
export interface BackendReport {
  id: string;
  /** The MailBackend's name, as a person knows it. */
  name: string;
  capabilities: Capabilities;
  state: BackendState;
}

export interface ExportedDomain {
  domain: string;
  /** Backend ids, in the order of the reports. */
  backends: string[];
  aliasDomains?: string[];
  /** Owned whole when present; a limit left out is unset there. */
  defaultQuota?: Partial<QuotaLimits>;
  displayName?: string;
  disabled?: boolean;
  totalStorage?: Limit;
  maxUserStorage?: Limit;
}

export interface ExportedUser {
  address: string;
  domain: string;
  backends: string[];
  displayName?: string;
  disabled?: boolean;
  extraAddresses?: string[];
  forwarding?: { to: string[]; keepCopy: boolean };
  /** The user's own limits; a limit left out inherits. */
  quota?: Partial<QuotaLimits>;
}

export interface ExportedAlias {
  address: string;
  domain: string;
  backends: string[];
  members: string[];
}

export interface ExportedGlobalQuota {
  backends: string[];
  limits: Partial<QuotaLimits>;
}

export type ExportedResource = 'domain' | 'user' | 'alias' | 'globalQuota';

/** A field the backends disagree on (or that could not be declared without changing one): left out, listed. */
export interface Disagreement {
  resource: ExportedResource;
  key: string;
  field: string;
  /** What each backend has, as a person reads it. */
  values: Array<{ backend: string; value: string }>;
  /** What the export did about it. */
  outcome: string;
}

export interface ExportModel {
  domains: ExportedDomain[];
  users: ExportedUser[];
  aliases: ExportedAlias[];
  globalQuota: ExportedGlobalQuota | null;
  disagreements: Disagreement[];
  /** What was found but cannot be declared, in words. */
  skipped: string[];
}

export interface MergeOptions {
  /** Export only these domains; null: every domain the backends hold. */
  domains: ReadonlySet<string> | null;
  /** Export the server-wide default quota (not when only some domains are exported: it is no domain's). */
  globalQuota: boolean;
  /**
   * Fields to leave out, with why: `<resource>:<key>:<field>` (found by planning the export: declaring
   * the value would change a backend). An alias left off a backend: `alias:<address>:backend:<id>`.
   */
  leaveOut: ReadonlyMap<string, string>;
}

export function leaveOutKey(resource: ExportedResource, key: string, field: string): string {
  return `${resource}:${key}:${field}`;
}

/** A value as one backend holds it, with how finely it stores storage limits. */
interface Held<T> {
  report: BackendReport;
  value: T;
}

export function mergeReports(reports: readonly BackendReport[], options: MergeOptions): ExportModel {
  const model: ExportModel = { domains: [], users: [], aliases: [], globalQuota: null, disagreements: [], skipped: [] };
  const wanted = (domain: string) => options.domains === null || options.domains.has(domain);
  const disagree = (resource: ExportedResource, key: string, field: string, values: Array<Held<string>>, outcome: string) =>
    model.disagreements.push({ resource, key, field, values: values.map((v) => ({ backend: v.report.name, value: v.value })), outcome });
  /** The reason to leave a field out, if planning found one; listed with what each backend has. */
  const leftOut = (resource: ExportedResource, key: string, field: string, values: () => Array<Held<string>>): boolean => {
    const reason = options.leaveOut.get(leaveOutKey(resource, key, field));
    if (reason !== undefined) disagree(resource, key, field, values(), reason);
    return reason !== undefined;
  };

  // --- which domains: every domain a backend has, and every domain its users and aliases live in
  const domainNames = new Set<string>();
  const aliasDomainOf = new Map<string, string>();
  for (const { state, capabilities } of reports) {
    for (const domain of state.domains.values()) {
      domainNames.add(domain.name);
      if (capabilities.aliasDomains) for (const alias of domain.aliasDomains) aliasDomainOf.set(alias, domain.name);
    }
    for (const address of [...state.users.keys(), ...state.groups.keys()]) domainNames.add(domainOf(address));
  }
  const holdsObjects = (domain: string) =>
    reports.some(({ state }) => [...state.users.keys(), ...state.groups.keys()].some((address) => domainOf(address) === domain));
  const exported = new Set<string>();
  for (const domain of [...domainNames].sort()) {
    if (!wanted(domain)) continue;
    if (!isDomainName(domain)) {
      model.skipped.push(`domain ${JSON.stringify(domain)}: not a domain name mailops accepts`);
      continue;
    }
    // An alias domain is declared with the domain it belongs to, unless it holds mailboxes of its own.
    const primary = aliasDomainOf.get(domain);
    if (primary !== undefined && !holdsObjects(domain) && (options.domains === null || options.domains.has(primary))) continue;
    exported.add(domain);
  }
  /** Addresses a manifest may use as extra addresses: in an exported domain or one of its alias domains. */
  const declarable = (address: string) => exported.has(domainOf(address)) || exported.has(aliasDomainOf.get(domainOf(address)) ?? '');

  // --- aliases first: on a backend that keeps an alias as one more address of its only member
  // (MailStore), that address is the alias, not an extra address of the user.
  const aliasHolders = new Map<string, Map<string, string[]>>(); // address → backend id → members
  for (const report of reports) {
    for (const group of report.state.groups.values()) {
      if (!exported.has(domainOf(group.address))) continue;
      if (!isMailAddress(group.address)) {
        model.skipped.push(`alias ${JSON.stringify(group.address)} on ${report.name}: not a mail address mailops accepts`);
        continue;
      }
      const holders = aliasHolders.get(group.address) ?? new Map<string, string[]>();
      holders.set(report.id, [...group.members].sort());
      aliasHolders.set(group.address, holders);
    }
  }
  const extraAddressesSeen = new Map<string, Map<string, string[]>>(); // backend id → user → extra addresses
  for (const report of reports) {
    const views = new Map<string, string[]>();
    for (const user of report.state.users.values()) views.set(user.address, [...user.extraAddresses]);
    extraAddressesSeen.set(report.id, views);
    if (report.capabilities.aliasMembers !== 'one-user') continue;
    for (const [address, holders] of aliasHolders) {
      const members = [...holders.values()][0]!;
      if (holders.has(report.id) || members.length !== 1) continue;
      const extra = views.get(members[0]!);
      if (!extra?.includes(address)) continue;
      holders.set(report.id, members);
      views.set(members[0]!, extra.filter((a) => a !== address));
    }
  }

  // --- domains
  const byId = new Map(reports.map((r) => [r.id, r]));
  const domainDefaults = new Map<string, Partial<QuotaLimits>>();
  for (const domain of exported) {
    const serving = reports.filter(({ id, state, capabilities }) =>
      capabilities.domains
        ? state.domains.has(domain)
        : [...state.users.keys(), ...state.groups.keys()].some((a) => domainOf(a) === domain) ||
          [...aliasHolders].some(([a, holders]) => domainOf(a) === domain && holders.has(id)),
    );
    if (serving.length === 0) continue;
    const entry: ExportedDomain = { domain, backends: serving.map((r) => r.id) };
    const withDomain = serving.filter((r) => r.capabilities.domains && r.state.domains.has(domain));
    const observed = (r: BackendReport) => r.state.domains.get(domain)!;

    const aliasDomainValues = withDomain.filter((r) => r.capabilities.aliasDomains).map((r) => ({ report: r, value: [...observed(r).aliasDomains].sort() }));
    const aliasDomains = pickList('domain', domain, 'aliasDomains', aliasDomainValues);
    // Alias domains that are exported on their own (they hold mailboxes) cannot be declared as aliases too.
    if (aliasDomains && aliasDomains.length > 0 && aliasDomains.some((a) => exported.has(a))) {
      disagree('domain', domain, 'aliasDomains', asText(aliasDomainValues, showList), 'left out: an alias domain that holds mailboxes of its own is exported as a MailDomain');
    } else if (aliasDomains && aliasDomains.length > 0) {
      entry.aliasDomains = aliasDomains;
    }

    // The domain's default quota, where a backend has the level (or copies it into new accounts).
    const defaultHolders = withDomain.filter((r) => r.capabilities.quota.domainDefault || r.capabilities.quota.domainDefaultCopied);
    const defaults = pickLimits('domain', domain, 'defaultQuota', defaultHolders, (r) => {
      const limits = observed(r).defaultQuota;
      // A default only copied into new accounts: "unlimited" and "none" give a new account the same.
      return !r.capabilities.quota.domainDefault && limits.storage === UNLIMITED ? { ...limits, storage: null } : limits;
    });
    if (defaults && (defaults.storage != null || defaults.messages != null)) {
      entry.defaultQuota = withoutNulls(defaults);
      domainDefaults.set(domain, entry.defaultQuota);
    }

    // The domain profile, where a backend has one.
    const profiled = withDomain.filter((r) => r.capabilities.domainProfile);
    const displayName = pickScalar('domain', domain, 'displayName', profiled.map((r) => ({ report: r, value: observed(r).displayName ?? null })), show);
    if (displayName) entry.displayName = displayName;
    const disabled = pickScalar('domain', domain, 'disabled', profiled.map((r) => ({ report: r, value: observed(r).disabled ?? false })), show);
    if (disabled) entry.disabled = true;
    for (const field of ['totalStorage', 'maxUserStorage'] as const) {
      const value = pickLimit('domain', domain, field, profiled.map((r) => ({ report: r, value: observed(r)[field] ?? null })), 'storage');
      // A ceiling of "unlimited" is what a domain has when nobody set one: not worth owning.
      if (value !== undefined && value !== null && value !== UNLIMITED) entry[field] = value;
    }
    model.domains.push(entry);
  }

  // --- the server-wide default
  let globalLimits: Partial<QuotaLimits> = {};
  if (options.globalQuota) {
    const holders = reports.filter((r) => r.capabilities.quota.global);
    const limits = pickLimits('globalQuota', 'global', 'limits', holders, (r) => r.state.globalQuota);
    if (limits && (limits.storage != null || limits.messages != null)) {
      globalLimits = withoutNulls(limits);
      model.globalQuota = { backends: holders.map((r) => r.id), limits: globalLimits };
    }
  }

  // --- users
  const userAddresses = new Set<string>();
  for (const { state } of reports) for (const address of state.users.keys()) if (exported.has(domainOf(address))) userAddresses.add(address);
  for (const address of [...userAddresses].sort()) {
    if (!isMailAddress(address)) {
      model.skipped.push(`user ${JSON.stringify(address)}: not a mail address mailops accepts`);
      continue;
    }
    const holding = reports.filter((r) => r.state.users.has(address));
    const have = (r: BackendReport): UserState => r.state.users.get(address)!;
    const entry: ExportedUser = { address, domain: domainOf(address), backends: holding.map((r) => r.id) };
    const can = (test: (c: Capabilities) => boolean | undefined) => holding.filter((r) => test(r.capabilities));

    const displayName = pickScalar('user', address, 'displayName', can((c) => c.displayName).map((r) => ({ report: r, value: have(r).displayName })), show);
    if (displayName) entry.displayName = displayName;
    const disabled = pickScalar('user', address, 'disabled', can((c) => c.disableUser).map((r) => ({ report: r, value: have(r).disabled })), show);
    if (disabled) entry.disabled = true;

    const extraHolders = can((c) => c.extraAddresses).map((r) => ({ report: r, value: [...extraAddressesSeen.get(r.id)!.get(address)!].sort() }));
    const extra = pickList('user', address, 'extraAddresses', extraHolders);
    if (extra && extra.length > 0) {
      const outside = extra.filter((a) => !declarable(a));
      if (outside.length > 0) {
        disagree('user', address, 'extraAddresses', asText(extraHolders, showList), `left out: ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} in no exported domain (a declared extra address must be)`);
      } else {
        entry.extraAddresses = extra;
      }
    }

    const forwarders = can((c) => c.forwarding);
    const forwards = pickList('user', address, 'forwarding', forwarders.map((r) => ({ report: r, value: [...have(r).forwards].sort() })));
    if (forwards && forwards.length > 0) {
      const keepCopy = pickScalar('user', address, 'forwarding.keepCopy', forwarders.filter((r) => r.capabilities.keepCopy).map((r) => ({ report: r, value: have(r).keepCopy })), show);
      if (keepCopy !== undefined) entry.forwarding = { to: forwards, keepCopy: keepCopy ?? false };
    }

    const quota = userQuota(entry, holding, domainDefaults.get(entry.domain) ?? null, globalLimits);
    if (quota) entry.quota = quota;
    model.users.push(entry);
  }

  // --- aliases
  for (const [address, holders] of [...aliasHolders].sort(([a], [b]) => a.localeCompare(b))) {
    const variants = new Map<string, string[]>(); // members → backend ids
    for (const [id, members] of holders) {
      if (options.leaveOut.has(leaveOutKey('alias', address, `backend:${id}`))) continue;
      const key = members.join(',');
      variants.set(key, [...(variants.get(key) ?? []), id]);
    }
    const ordered = [...variants].map(([members, ids]) => ({ members: members.split(','), ids: reports.filter((r) => ids.includes(r.id)).map((r) => r.id) }));
    ordered.sort((a, b) => reports.findIndex((r) => r.id === a.ids[0]) - reports.findIndex((r) => r.id === b.ids[0]));
    for (const [id] of holders) {
      const reason = options.leaveOut.get(leaveOutKey('alias', address, `backend:${id}`));
      if (reason) disagree('alias', address, 'backendRefs', [{ report: byId.get(id)!, value: holders.get(id)!.join(' ') }], reason);
    }
    const first = ordered[0];
    if (!first) continue;
    if (ordered.length > 1) {
      const values = ordered.flatMap((v) => v.ids.map((id) => ({ report: byId.get(id)!, value: v.members.join(' ') })));
      const others = ordered.slice(1).flatMap((v) => v.ids.map((id) => byId.get(id)!.name));
      disagree('alias', address, 'members', values, `declared for ${first.ids.map((id) => byId.get(id)!.name).join(', ')} only; left alone (not managed) on ${others.join(', ')}`);
    }
    model.aliases.push({ address, domain: domainOf(address), backends: first.ids, members: first.members });
  }
  return model;

  // ------------------------------------------------------------------ helpers (they record disagreements)

  function pickScalar<T extends string | boolean | null>(resource: ExportedResource, key: string, field: string, values: Array<Held<T>>, format: (v: T) => string): T | undefined {
    if (values.length === 0) return undefined;
    if (leftOut(resource, key, field, () => asText(values, format))) return undefined;
    const first = values[0]!.value;
    if (values.every((v) => v.value === first)) return first;
    disagree(resource, key, field, asText(values, format), 'left out (not managed): the backends disagree');
    return undefined;
  }

  function pickList(resource: ExportedResource, key: string, field: string, values: Array<Held<string[]>>): string[] | undefined {
    if (values.length === 0) return undefined;
    if (leftOut(resource, key, field, () => asText(values, showList))) return undefined;
    const first = values[0]!.value.join(',');
    if (values.every((v) => v.value.join(',') === first)) return values[0]!.value;
    disagree(resource, key, field, asText(values, showList), 'left out (not managed): the backends disagree');
    return undefined;
  }

  /** One limit, compared as each backend stores it; the finest value wins when they all agree. undefined: left out. */
  function pickLimit(resource: ExportedResource, key: string, field: string, values: Array<Held<Limit | null>>, kind: 'storage' | 'messages'): Limit | null | undefined {
    if (values.length === 0) return undefined;
    const format = kind === 'storage' ? formatStorage : formatMessages;
    if (leftOut(resource, key, field, () => asText(values, format))) return undefined;
    const finest = [...values].sort((a, b) => unitOf(a.report, kind) - unitOf(b.report, kind))[0]!.value;
    if (values.every((v) => stores(v.report, kind, finest) === v.value)) return finest;
    disagree(resource, key, field, asText(values, format), 'left out (not managed): the backends disagree');
    return undefined;
  }

  /**
   * A level of limits owned whole (a domain default, the global default): both limits, or nothing
   * when a backend that has the level disagrees on either (a level declared in part would unset the other).
   */
  function pickLimits(resource: ExportedResource, key: string, field: string, holders: BackendReport[], read: (r: BackendReport) => QuotaLimits): QuotaLimits | undefined {
    if (holders.length === 0) return undefined;
    const storage = pickLimit(resource, key, `${field}.storage`, holders.filter((r) => r.capabilities.quota.storage).map((r) => ({ report: r, value: read(r).storage })), 'storage');
    const messages = pickLimit(resource, key, `${field}.messages`, holders.filter((r) => r.capabilities.quota.messages).map((r) => ({ report: r, value: read(r).messages })), 'messages');
    if (leftOut(resource, key, field, () => holders.map((r) => ({ report: r, value: showLimits(read(r)) })))) return undefined;
    const storageKnown = storage !== undefined || !holders.some((r) => r.capabilities.quota.storage);
    const messagesKnown = messages !== undefined || !holders.some((r) => r.capabilities.quota.messages);
    if (!storageKnown || !messagesKnown) return undefined;
    return { storage: storage ?? null, messages: messages ?? null };
  }

  /**
   * The user's own limits. A backend with quota levels reports them; one without reports the
   * effective limit, which the declaration gives it as own ?? domain default ?? global default.
   */
  function userQuota(user: ExportedUser, holding: BackendReport[], domainDefault: Partial<QuotaLimits> | null, global: Partial<QuotaLimits>): Partial<QuotaLimits> | undefined {
    const key = user.address;
    const limits = (['storage', 'messages'] as const).map((limit) => {
      const able = holding.filter((r) => r.capabilities.quota[limit]);
      const levelled = able.filter((r) => r.capabilities.quota.domainDefault && r.capabilities.quota.global);
      const flat = able.filter((r) => !(r.capabilities.quota.domainDefault && r.capabilities.quota.global));
      const field = `quota.${limit}`;
      const format = limit === 'storage' ? formatStorage : formatMessages;
      const values = () => able.map((r) => ({ report: r, value: `${format(r.state.users.get(key)!.quota[limit])}${levelled.includes(r) ? '' : ' (effective)'}` }));
      if (able.length === 0) return { limit, value: null, known: true };
      if (leftOut('user', key, field, values)) return { limit, value: undefined, known: false };
      /** What a backend without levels gets for a declared own limit. */
      const effective = (own: Limit | null, r: BackendReport) => {
        const eff = effectiveQuota({ storage: null, messages: null, [limit]: own }, r.capabilities.quota.domainDefault ? null : { storage: null, messages: null, ...domainDefault }, r.capabilities.quota.global ? null : { storage: null, messages: null, ...global })[limit];
        return eff === null ? null : stores(r, limit, eff);
      };
      let own: Limit | null;
      if (levelled.length > 0) {
        const picked = agreeing(levelled.map((r) => ({ report: r, value: r.state.users.get(key)!.quota[limit] })), limit);
        if (picked === undefined) return disagreeOn(limit, values());
        own = picked;
      } else {
        const picked = agreeing(flat.map((r) => ({ report: r, value: r.state.users.get(key)!.quota[limit] })), limit);
        if (picked === undefined) return disagreeOn(limit, values());
        // Inherit when the defaults give the same; leave an unlimited user alone where nothing is inherited.
        if (flat.every((r) => effective(null, r) === r.state.users.get(key)!.quota[limit])) own = null;
        else if (picked === UNLIMITED && flat.every((r) => effective(null, r) === null)) own = null;
        else own = picked;
      }
      // A backend without levels gets own ?? defaults: it must come out as what it has.
      const unmanagedThere = flat.every((r) => effective(own, r) === null);
      if (!unmanagedThere && !flat.every((r) => effective(own, r) === r.state.users.get(key)!.quota[limit])) return disagreeOn(limit, values());
      return { limit, value: own, known: true };
    });
    // The user level is owned whole where there are levels: declared in part, it would unset the rest.
    if (limits.some((l) => !l.known)) return undefined;
    const own = Object.fromEntries(limits.filter((l) => l.value !== null && l.value !== undefined).map((l) => [l.limit, l.value])) as Partial<QuotaLimits>;
    return Object.keys(own).length > 0 ? own : undefined;

    function disagreeOn(limit: 'storage' | 'messages', values: Array<Held<string>>) {
      disagree('user', key, `quota.${limit}`, values, 'left out (not managed): the backends disagree');
      return { limit, value: undefined, known: false };
    }
  }
}

function agreeing(values: Array<Held<Limit | null>>, kind: 'storage' | 'messages'): Limit | null | undefined {
  if (values.length === 0) return null;
  const finest = [...values].sort((a, b) => unitOf(a.report, kind) - unitOf(b.report, kind))[0]!.value;
  return values.every((v) => stores(v.report, kind, finest) === v.value) ? finest : undefined;
}

function unitOf(report: BackendReport, kind: 'storage' | 'messages'): number {
  return kind === 'storage' ? report.capabilities.quota.storageUnit : 1;
}

/** A limit as the backend would store it (storage rounded up to its unit). */
function stores(report: BackendReport, kind: 'storage' | 'messages', value: Limit | null): Limit | null {
  return typeof value === 'number' && kind === 'storage' ? roundStorage(value, report.capabilities.quota.storageUnit) : value;
}

function withoutNulls(limits: QuotaLimits): Partial<QuotaLimits> {
  return { ...(limits.storage !== null ? { storage: limits.storage } : {}), ...(limits.messages !== null ? { messages: limits.messages } : {}) };
}

function asText<T>(values: Array<Held<T>>, format: (v: T) => string): Array<Held<string>> {
  return values.map((v) => ({ report: v.report, value: format(v.value) }));
}

function show(value: string | boolean | null): string {
  return value === null ? '(unset)' : typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function showList(value: string[]): string {
  return value.length === 0 ? '(none)' : value.join(' ');
}

function showLimits(limits: QuotaLimits): string {
  return `storage ${formatStorage(limits.storage)}, messages ${formatMessages(limits.messages)}`;
}
