// Throttling: how much mail may pass in one direction within a period (iRedAdmin-Pro's iRedAPD
// throttle settings, iredadmin.md). A QuotaPolicy declares it; it applies server-wide, per domain or
// per user, wherever the policy applies. Resolved values: seconds, bytes, counts; null = no limit
// (a limit left out and one written `unlimited` are the same thing).
import { formatMessages, formatPeriod, formatStorage } from './quantity.ts';

export interface ThrottleLimits {
  /** Seconds the limits count over. */
  period: number;
  /** The largest single message, in bytes. */
  maxMessageSize: number | null;
  maxMessages: number | null;
  /** All messages of the period together, in bytes. */
  maxTotalSize: number | null;
}

/** Both directions; null = no throttling in that direction at this level. */
export interface Throttle {
  inbound: ThrottleLimits | null;
  outbound: ThrottleLimits | null;
}

export const THROTTLE_DIRECTIONS = ['inbound', 'outbound'] as const;
export type ThrottleDirection = (typeof THROTTLE_DIRECTIONS)[number];

export const NO_THROTTLE: Throttle = Object.freeze({ inbound: null, outbound: null });

export function sameThrottleLimits(a: ThrottleLimits | null, b: ThrottleLimits | null): boolean {
  if (a === null || b === null) return a === b;
  return a.period === b.period && a.maxMessageSize === b.maxMessageSize && a.maxMessages === b.maxMessages && a.maxTotalSize === b.maxTotalSize;
}

/** `every 1h: 100 messages, 10Mi each, 1Gi in total`, or `(none)`. */
export function formatThrottleLimits(limits: ThrottleLimits | null): string {
  if (limits === null) return '(none)';
  const parts = [
    ...(limits.maxMessages !== null ? [`${formatMessages(limits.maxMessages)} messages`] : []),
    ...(limits.maxMessageSize !== null ? [`${formatStorage(limits.maxMessageSize)} each`] : []),
    ...(limits.maxTotalSize !== null ? [`${formatStorage(limits.maxTotalSize)} in total`] : []),
  ];
  return `every ${formatPeriod(limits.period)}: ${parts.length > 0 ? parts.join(', ') : 'no limit'}`;
}
