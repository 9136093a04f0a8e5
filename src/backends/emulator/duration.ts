// Durations written the way mail servers and our CLI take them: "500ms", "30s", "2m", "1h".
// The units and the "number, then an optional unit" grammar follow Apache James's DurationParser, so one parser
// serves `--latency 20ms` on the command line and `GET /tasks/{id}/await?timeout=30s` in the James emulator.

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  ms: 1, msec: 1, msecs: 1,
  s: 1_000, sec: 1_000, secs: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
  // Java's ChronoUnit estimates: a year is 365.2425 days, a month a twelfth of that.
  month: 2_629_746_000, months: 2_629_746_000,
  y: 31_556_952_000, year: 31_556_952_000, years: 31_556_952_000,
};

/**
 * Parses "20ms", "1s", " 30 seconds ", or a bare number in `defaultUnit`, into milliseconds.
 * Throws a RangeError whose message a person can act on.
 */
export function parseDuration(text: string, defaultUnit: 'ms' | 's' = 'ms'): number {
  const match = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) {
    throw new RangeError(`invalid duration "${text}": expected a whole number with an optional unit, such as 500ms or 30s`);
  }
  const unit = (match[2] ?? '').toLowerCase() || defaultUnit;
  const factor = MS_PER_UNIT[unit];
  if (factor === undefined) {
    throw new RangeError(`invalid duration "${text}": unknown unit "${unit}" (use ms, s, m, h, d, w, month or y)`);
  }
  return Number(match[1]) * factor;
}
