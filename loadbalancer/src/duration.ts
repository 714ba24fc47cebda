/**
 * Durations in HAProxy's time format.
 *
 * Settings accept either a number of milliseconds or a string made of digits and one of HAProxy's units
 * (us, ms, s, m, h, d; no unit means ms, as in HAProxy; no fractions). The grammar is the project's one
 * (./duration-grammar.js). They are held as milliseconds and rendered back with the largest unit that
 * represents them exactly, so "3600000" renders as "1h".
 */
import { DURATION_UNIT_MS, parseDurationText } from './duration-grammar.js';

/** HAProxy stores timeouts as signed 32-bit milliseconds: anything above is refused by its parser. */
export const MAX_HAPROXY_DURATION_MS = 2_147_483_647;

/** Milliseconds from a number of ms or a duration string; undefined when the value is not a duration. */
export function parseDurationMs(value: number | string): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 ? value : undefined;
  }
  const ms = parseDurationText(value, { defaultUnit: 'ms', fractions: false });
  // Sub-millisecond values ("500us") are legal in HAProxy but useless for every timeout we set.
  return ms !== undefined && Number.isInteger(ms) ? ms : undefined;
}

/** The shortest exact HAProxy time string for a number of milliseconds ("1h", "90s", "500ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = DURATION_UNIT_MS[unit];
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
