/**
 * scale: soak traffic while the fleet is scaled 3 → 5 → 2 by the infra's own `scripts/scale.sh`.
 * k6 cannot run commands: scripts/k6.sh runs this script in the background and calls the scale
 * command on the run's timeline (default plan "60s=5,180s=2" from the start of traffic; it first
 * brings the fleet to 3 replicas). Every socket a drained replica closes (1012) must be back within
 * WSFLEET_RECONNECT_MAX_MS (10 s), none may stay down, and no acknowledged message may be lost.
 *
 *   npm run k6:scale                         (6 min of traffic, 2000 connections, 500 msg/s)
 *   npm run k6:scale -- --users 500 --rate 100 --duration 4m --scale-plan "40s=5,120s=2"
 */
import { loadConfig } from './lib/config.js';
import { buildOptions, runGroup, setupRun } from './lib/run.js';
import { summaryOutputs } from './lib/summary.js';

const cfg = loadConfig(__ENV, 'scale');

export const options = buildOptions(cfg);

export function setup() {
  return setupRun(cfg);
}

export default function (data) {
  runGroup(cfg, data, __VU);
}

export function handleSummary(data) {
  return summaryOutputs(data, cfg);
}
