/**
 * The run's timeline, shared by every VU: setup() fixes t0 and each VU derives the same phases from it,
 * so all groups connect, send and stop together whatever moment their iteration started. The timeline
 * itself is defined in load/scenarios.js (the project's runner uses the same one).
 */
export { connectAt, makeSchedule } from '../../load/scenarios.js';

/** A line scripts/k6.sh waits for in k6's output to time memory samples and scale events. */
export function scheduleLogLine(runId, s) {
  return `wsfleet-schedule run=${runId} t0=${s.t0} trafficStart=${s.trafficStart} trafficEnd=${s.trafficEnd} graceEnd=${s.graceEnd}`;
}
