/**
 * The run's timeline, shared by every VU: setup() fixes t0 and each VU derives the same phases from it,
 * so all groups connect, send and stop together whatever moment their iteration started.
 *
 *   t0 ──ramp (connects spread evenly)── + settle ── trafficStart ──duration── trafficEnd ──grace── graceEnd
 */
import { SETTLE_MS, START_DELAY_MS } from './config.js';

export function makeSchedule(cfg, now) {
  const t0 = now + START_DELAY_MS;
  const trafficStart = t0 + cfg.rampMs + SETTLE_MS;
  const trafficEnd = trafficStart + cfg.durationMs;
  return { t0, trafficStart, trafficEnd, graceEnd: trafficEnd + cfg.graceMs };
}

/** When the user with global index `gi` (of `users`) opens its first connection. */
export function connectAt(schedule, cfg, gi) {
  return schedule.t0 + Math.floor((cfg.rampMs * gi) / cfg.users);
}

/** A line scripts/k6.sh waits for in k6's output to time memory samples and scale events. */
export function scheduleLogLine(runId, s) {
  return `wsfleet-schedule run=${runId} t0=${s.t0} trafficStart=${s.trafficStart} trafficEnd=${s.trafficEnd} graceEnd=${s.graceEnd}`;
}
