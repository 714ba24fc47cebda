/**
 * smoke (under 1 min): 50 users connect through the balancer, send direct messages to random other
 * users of their group and publish to their group's rooms; every message must arrive, exactly once.
 *
 *   npm run k6:smoke            (scripts/k6.sh reads the balancer URL and the secret from the deploy)
 * Parameters: WSFLEET_* variables, see k6/lib/config.js and docs/k6.md.
 */
import { loadConfig } from './lib/config.js';
import { buildOptions, runGroup, setupRun } from './lib/run.js';
import { summaryOutputs } from './lib/summary.js';

const cfg = loadConfig(__ENV, 'smoke');

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
