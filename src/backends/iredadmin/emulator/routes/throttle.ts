// /api/throttle/{global|<domain>|<mail>}/{inbound|outbound}: iRedAPD throttle settings. A POST needs `period` and at
// least one limit; limits it leaves out are 0. A setting with period 0, or with no limit left (0 everywhere
// globally, -1 everywhere for a domain or user), is removed (libs/iredapd/throttle.add_throttle). Facts: iredadmin.md.

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import type { RouteContext } from '../context.ts';
import { isIRedMailAddress, isIRedMailDomain } from '../params.ts';
import { throttleKey, type ThrottleKind, type ThrottleRecord } from '../store.ts';

const LIMITS = ['msg_size', 'max_msgs', 'max_quota'] as const;

export function throttleRoutes(context: RouteContext): Route<RouteHandler>[] {
  const { store, reply } = context;

  /** `@.`, `@example.com` or `user@example.com`, with iRedAPD's priority for it. */
  const accountOf = (call: RouteCall): { account: string; priority: number } => {
    const target = call.param('account').toLowerCase();
    if (target === 'global') return { account: '@.', priority: 0 };
    if (isIRedMailAddress(target)) return { account: target, priority: 100 };
    if (isIRedMailDomain(target)) return { account: `@${target}`, priority: 10 };
    return reply.refuse('INVALID_ACCOUNT');
  };

  const read = (call: RouteCall) => {
    const { account } = accountOf(call);
    const setting = store.throttles.get(throttleKey(account, call.param('kind') as ThrottleKind));
    return reply.ok(setting ? { ...setting } : {});
  };

  const write = (call: RouteCall) => {
    const { account, priority } = accountOf(call);
    const kind = call.param('kind') as ThrottleKind;
    const params = context.params(call);
    if (!params.has('period')) reply.refuse('MISS_PERIOD');
    if (!LIMITS.some((limit) => params.has(limit))) reply.refuse('MISS_THROTTLE_SETTING');
    const setting: ThrottleRecord = {
      account,
      kind,
      priority,
      period: params.integer('period', 'INVALID_THROTTLE_SETTING') ?? 0,
      msg_size: params.integer('msg_size', 'INVALID_THROTTLE_SETTING', { min: -1 }) ?? 0,
      max_msgs: params.integer('max_msgs', 'INVALID_THROTTLE_SETTING', { min: -1 }) ?? 0,
      max_quota: params.integer('max_quota', 'INVALID_THROTTLE_SETTING', { min: -1 }) ?? 0,
    };
    const noLimit = account === '@.' ? 0 : -1;
    const key = throttleKey(account, kind);
    if (setting.period === 0 || LIMITS.every((limit) => setting[limit] === noLimit || (account === '@.' && setting[limit] < 0))) {
      store.throttles.delete(key);
    } else {
      store.throttles.set(key, setting);
    }
    return reply.ok();
  };

  return routeTable<RouteHandler>([
    ['GET', '/api/throttle/:account/:kind(inbound|outbound)', read],
    ['POST', '/api/throttle/:account/:kind(inbound|outbound)', write],
  ]);
}
