// /quota: global, domain and user limits, and the per-domain bulk read (GlobalQuotaRoutes, DomainQuotaRoutes,
// UserQuotaRoutes, 3.8.1). Limits are `null` when unset and -1 when unlimited.

import type { EmulatorRequest } from '../../../emulator/server.ts';
import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { bodyText, empty, halt, invalidArguments, invalidJson, json, readJsonObject } from '../answers.ts';
import { decodeAgain, domainOf, parseDomain, parsedOr, usernameParam } from '../names.ts';
import { limitsOf, usageOf, type JamesStore, type QuotaLimits, type QuotaValue } from '../store.ts';

type QuotaField = 'count' | 'size';

function invalidQuota(details: string | null = null): never {
  return halt(400, 'InvalidArgument', 'Invalid quota. Need to be an integer value greater or equal to -1', details);
}

/** Quotas.quotaCount / quotaSize: a bare number, -1 for unlimited. */
function parseQuotaNumber(text: string): number {
  if (!/^[+-]?\d+$/.test(text)) invalidQuota(`For input string: "${text}"`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) invalidQuota(`For input string: "${text}"`);
  if (value < -1) invalidQuota();
  return value;
}

/**
 * QuotaDTO: `{"count": n|null, "size": n|null}`; an absent field is unset too. Jackson coerces as on 3.8.1:
 * 1.5 is taken as 1 and "12" as 12.
 */
function parseQuotaObject(request: EmulatorRequest): QuotaLimits {
  const object = readJsonObject(request, ['count', 'size']);
  const field = (value: unknown): QuotaValue => {
    if (value === undefined || value === null) return null;
    const number = typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof number !== 'number') invalidJson(`Cannot deserialize value of type \`long\` from ${JSON.stringify(value)}`);
    const whole = Math.trunc(number);
    if (!Number.isSafeInteger(whole) || whole < -1) invalidQuota('Quota limit should be positive');
    return whole;
  };
  return { count: field(object['count']), size: field(object['size']) };
}

const ratio = (used: number, limit: QuotaValue): number => (limit === null || limit === -1 ? 0 : used / limit);
/** Jackson writes a ratio it cannot compute (a zero limit: NaN or Infinity) as a string (seen on 3.8.1). */
const ratioAsJson = (value: number): number | string => (Number.isFinite(value) ? value : String(value));
const orNull = (limits: QuotaLimits | undefined): QuotaLimits | null =>
  limits === undefined || (limits.count === null && limits.size === null) ? null : { ...limits };

/** ParametersExtractor: positive numbers, limit not zero. */
function numberParam(call: RouteCall, name: string, integer: boolean): number | undefined {
  const raw = call.query.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || Number.isNaN(value) || (integer && !Number.isInteger(value))) {
    halt(400, 'InvalidArgument', `Can not parse ${name}`, `For input string: "${raw}"`);
  }
  if (value < 0) halt(400, 'InvalidArgument', `${name} can not be negative`);
  return value;
}

export function quotaRoutes(store: JamesStore): Route<RouteHandler>[] {
  const domainLimits = (call: RouteCall): QuotaLimits => {
    const domain = parsedOr(() => parseDomain(call.param('domain')), (reason) => halt(400, 'InvalidArgument', 'Invalid domain', reason));
    if (!store.domains.has(domain)) halt(404, 'notFound', 'Domain not found');
    return limitsOf(store.domainQuotas, domain);
  };
  const userOf = (call: RouteCall): string => {
    const username = usernameParam(decodeAgain(call.param('user'))).name;
    if (!store.users.has(username)) halt(404, 'notFound', 'User not found');
    return username;
  };

  /** UserQuotaService.getQuota: an unset scope is null; computed takes user, then domain, then global, per field. */
  const userDetail = (username: string) => {
    const global = store.globalQuota;
    const domain = store.domainQuotas.get(domainOf(username));
    const user = store.userQuotas.get(username);
    const computed: QuotaLimits = {
      count: user?.count ?? domain?.count ?? global.count,
      size: user?.size ?? domain?.size ?? global.size,
    };
    const used = usageOf(store, username);
    const sizeRatio = ratio(used.size, computed.size);
    const countRatio = ratio(used.count, computed.count);
    const maxRatio = Math.max(sizeRatio, countRatio);
    return {
      global: orNull(global),
      domain: orNull(domain),
      user: orNull(user),
      computed,
      occupation: {
        size: used.size,
        count: used.count,
        ratio: { size: ratioAsJson(sizeRatio), count: ratioAsJson(countRatio), max: ratioAsJson(maxRatio) },
      },
    };
  };

  /** GET /quota/users?domain=&minOccupationRatio=&maxOccupationRatio=&limit=&offset=, by username. */
  const searchUsers: RouteHandler = (call) => {
    const min = numberParam(call, 'minOccupationRatio', false);
    const max = numberParam(call, 'maxOccupationRatio', false);
    const limit = numberParam(call, 'limit', true);
    if (limit === 0) halt(400, 'InvalidArgument', 'limit can not be equal to zero');
    const offset = numberParam(call, 'offset', true) ?? 0;
    const rawDomain = call.query.get('domain');
    const domain = rawDomain === null ? undefined : parsedOr(() => parseDomain(rawDomain), invalidArguments);
    const usernames = domain === undefined ? store.users.keys() : store.usersByDomain.get(domain);
    const matching = [...usernames]
      .sort()
      .map((username) => ({ detail: userDetail(username), username }))
      .filter(({ detail }) => (min === undefined || Number(detail.occupation.ratio.max) >= min)
        && (max === undefined || Number(detail.occupation.ratio.max) <= max));
    return json(matching.slice(offset, limit === undefined ? undefined : offset + limit));
  };

  type Scope = (call: RouteCall) => QuotaLimits;
  /** The routes of one scope's limits: the whole object and each field. */
  const scopeRoutes = (base: string, scope: Scope, show: RouteHandler, showField: RouteHandler): [string, string, RouteHandler][] => [
    ['GET', base, show],
    // PUT of the whole object: both fields are replaced, a missing one is unset.
    ['PUT', base, (call) => {
      Object.assign(scope(call), parseQuotaObject(call.request));
      return empty();
    }],
    ['GET', `${base}/:field(count|size)`, showField],
    ['PUT', `${base}/:field(count|size)`, (call) => {
      const limits = scope(call);
      limits[call.param('field') as QuotaField] = parseQuotaNumber(bodyText(call.request));
      return empty();
    }],
    ['DELETE', `${base}/:field(count|size)`, (call) => {
      scope(call)[call.param('field') as QuotaField] = null;
      return empty();
    }],
  ];
  /** 204 when unset. */
  const ownField = (scope: Scope): RouteHandler => (call) => {
    const value = scope(call)[call.param('field') as QuotaField];
    return value === null ? empty() : json(value);
  };

  return routeTable<RouteHandler>([
    ['GET', '/quota/users', searchUsers],
    ...scopeRoutes('/quota', () => store.globalQuota, () => json({ ...store.globalQuota }), ownField(() => store.globalQuota)),
    ...scopeRoutes('/quota/domains/:domain', domainLimits, (call) => {
      const domain = domainLimits(call);
      const global = store.globalQuota;
      return json({
        global: { ...global },
        domain: { ...domain },
        computed: { count: domain.count ?? global.count, size: domain.size ?? global.size },
      });
    }, ownField(domainLimits)),
    // A user's field is the resolved one (user, else domain, else global), as on 3.8.1.
    ...scopeRoutes('/quota/users/:user', (call) => limitsOf(store.userQuotas, userOf(call)), (call) => json(userDetail(userOf(call))),
      (call) => {
        const value = userDetail(userOf(call)).computed[call.param('field') as QuotaField];
        return value === null ? empty() : json(value);
      }),
  ]);
}
