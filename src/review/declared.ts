// What each object declares, as flat fields a reviewer reads (`quota.storage: 2Gi`), and the
// difference between two configurations object by object: the desired-state diff of an offline
// plan. Values are the loaded, normalised ones (addresses in lower case, quantities parsed, a
// QuotaPolicy resolved into the quotas that name it), so a change of spelling is no change. No
// secret value is here: a password is a reference to a secret, compared by name and key. Pure.
import { objectKey, type Config, type ObjectRef, type QuotaLimits } from '../model/config.ts';
import { formatMessages, formatStorage, type Limit } from '../model/quantity.ts';
import { formatThrottleLimits, THROTTLE_DIRECTIONS, type Throttle } from '../model/throttle.ts';
import type { FieldChange } from '../plan/plan.ts';

/** A declared value: text, a set of texts, or unset (not managed). */
export type DeclaredValue = string | string[] | null;

export interface DeclaredObject {
  ref: ObjectRef;
  /** The mail domain the object belongs to (null: a backend or a policy). */
  domain: string | null;
  fields: Record<string, DeclaredValue>;
}

export type ObjectStatus = 'added' | 'changed' | 'removed';

export interface ObjectDiff {
  key: string;
  status: ObjectStatus;
  /** Where it is written now (or was, at the base, when removed). */
  ref: ObjectRef;
  domain: string | null;
  fields: FieldChange[];
}

export function declaredObjects(config: Config): Map<string, DeclaredObject> {
  const objects = new Map<string, DeclaredObject>();
  const add = (ref: ObjectRef, domain: string | null, fields: Record<string, DeclaredValue>) => objects.set(objectKey(ref), { ref, domain, fields });
  const names = (ids: readonly string[]) => ids.map((id) => id.slice(id.indexOf('/') + 1)).sort();
  const secret = (ref: { name: string; key: string; optional?: boolean } | undefined) => (ref ? `${ref.name}/${ref.key}${ref.optional ? ' (optional)' : ''}` : null);

  for (const b of config.backends) {
    add(b.ref, null, {
      type: b.type,
      url: b.url,
      'credentials.username': b.credentials.username ?? null,
      'credentials.passwordSecretRef': secret(b.credentials.password),
      'credentials.tokenSecretRef': secret(b.credentials.token),
      ...Object.fromEntries(Object.entries(b.limits).map(([k, v]) => [`limits.${k}`, String(v)])),
      insecureSkipTLSVerify: String(b.insecureSkipTLSVerify),
      caFile: b.caBundle && 'file' in b.caBundle ? b.caBundle.file : null,
      caBundleSecretRef: b.caBundle && 'secret' in b.caBundle ? secret(b.caBundle.secret) : null,
      ...Object.fromEntries(Object.entries(b.options).map(([k, v]) => [`${b.type}.${k}`, JSON.stringify(v)])),
    });
  }
  for (const d of config.domains) {
    add(d.ref, d.domain, {
      domain: d.domain,
      backendRefs: names(d.backendIds),
      aliasDomains: d.aliasDomains,
      ...limits('defaultQuota', d.defaultQuota),
      'prune.enabled': String(d.prune.enabled),
      'prune.maxUserDeletionPercent': String(d.prune.maxUserDeletionPercent),
      displayName: d.displayName,
      disabled: d.disabled === null ? null : String(d.disabled),
      totalStorage: storage(d.totalStorage),
      maxUserStorage: storage(d.maxUserStorage),
      ...throttle(d.throttle),
    });
  }
  for (const u of config.users) {
    add(u.ref, u.domain, {
      address: u.address,
      displayName: u.displayName,
      passwordSecretRef: secret(u.password),
      extraAddresses: u.extraAddresses,
      'forwarding.to': u.forwarding?.to ?? null,
      'forwarding.keepCopy': u.forwarding ? String(u.forwarding.keepCopy) : null,
      disabled: u.disabled === null ? null : String(u.disabled),
      ...limits('quota', u.quota),
      ...throttle(u.throttle),
      backendRefs: names(u.backendIds),
    });
  }
  for (const a of config.aliases) add(a.ref, a.domain, { address: a.address, members: [...a.members].sort(), backendRefs: names(a.backendIds) });
  for (const ref of config.quotaPolicies) {
    const global = config.globalQuotas.find((g) => objectKey(g.ref) === objectKey(ref)) ?? null;
    // A policy that is not the global default reaches users and domains through their references:
    // its limits show there, resolved.
    add(ref, null, global ? { globalDefault: 'true', ...limits('', global.limits), ...throttle(global.throttle) } : { globalDefault: 'false' });
  }
  return objects;
}

/** Object by object, what changed between `base` and `work`, in the order of the working tree (removed ones last). */
export function diffDeclared(base: Config, work: Config): ObjectDiff[] {
  const before = declaredObjects(base);
  const after = declaredObjects(work);
  const diffs: ObjectDiff[] = [];
  for (const [key, now] of after) {
    const then = before.get(key);
    const fields = fieldChanges(then?.fields ?? {}, now.fields, then === undefined);
    if (!then) diffs.push({ key, status: 'added', ref: now.ref, domain: now.domain, fields });
    else if (fields.length > 0) diffs.push({ key, status: 'changed', ref: now.ref, domain: now.domain ?? then.domain, fields });
  }
  for (const [key, then] of before) {
    if (!after.has(key)) diffs.push({ key, status: 'removed', ref: then.ref, domain: then.domain, fields: [] });
  }
  return diffs;
}

function fieldChanges(before: Record<string, DeclaredValue>, after: Record<string, DeclaredValue>, created: boolean): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of new Set([...Object.keys(after), ...Object.keys(before)])) {
    const was = before[field] ?? null;
    const now = after[field] ?? null;
    if (created && now === null) continue;
    if (Array.isArray(was) || Array.isArray(now)) {
      const had = new Set(was ?? []);
      const has = new Set(now ?? []);
      const added = [...has].filter((x) => !had.has(x));
      const removed = [...had].filter((x) => !has.has(x));
      // From unset to [] (or back) is a change of ownership even with no element added or removed.
      if (added.length === 0 && removed.length === 0 && (was === null) === (now === null)) continue;
      changes.push({ field, before: was, after: now, added, removed });
    } else if (was !== now) {
      changes.push({ field, before: was, after: now });
    }
  }
  return changes;
}

function limits(prefix: string, limits: QuotaLimits | null): Record<string, DeclaredValue> {
  const at = (name: string) => (prefix ? `${prefix}.${name}` : name);
  return { [at('storage')]: storage(limits?.storage ?? null), [at('messages')]: limits?.messages == null ? null : formatMessages(limits.messages) };
}

function storage(limit: Limit | null): DeclaredValue {
  return limit === null ? null : formatStorage(limit);
}

function throttle(value: Throttle | null): Record<string, DeclaredValue> {
  return Object.fromEntries(THROTTLE_DIRECTIONS.map((d) => [`throttle.${d}`, value ? formatThrottleLimits(value[d]) : null]));
}

