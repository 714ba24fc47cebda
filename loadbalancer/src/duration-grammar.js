/**
 * The one duration grammar of the project: digits, an optional decimal fraction and an optional unit
 * (us, ms, s, m, h, d), e.g. "500ms", "90s", "1.5m", "1h". HAProxy's settings (./duration.ts) and the
 * load runner's (load/scenarios.js, which k6 imports too) read durations with it; each reader says what a
 * bare number means and which units and fractions it takes. Plain JavaScript, so k6 can import it.
 */

/** Milliseconds per unit. */
export const DURATION_UNIT_MS = Object.freeze({ us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 });

const DURATION_RE = /^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$/;

/**
 * @typedef {keyof typeof DURATION_UNIT_MS} DurationUnit
 * @typedef {{ defaultUnit: DurationUnit, units?: readonly DurationUnit[], fractions?: boolean }} DurationRules
 */

/**
 * Milliseconds for `raw` under `rules`, or undefined when it is not a duration by them (a unit outside
 * `rules.units`, a fraction when `rules.fractions` is false). Not rounded: the caller decides.
 * @param {string} raw @param {DurationRules} rules
 * @returns {number | undefined}
 */
export function parseDurationText(raw, rules) {
  const m = DURATION_RE.exec(raw.trim());
  if (m === null || m[1] === undefined) return undefined;
  if (rules.fractions === false && m[1].includes('.')) return undefined;
  const unit = /** @type {DurationUnit} */ (m[2] ?? rules.defaultUnit);
  if (rules.units !== undefined && !rules.units.includes(unit)) return undefined;
  return Number(m[1]) * DURATION_UNIT_MS[unit];
}
