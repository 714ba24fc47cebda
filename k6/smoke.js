/**
 * smoke (under 1 min): 50 users connect through the balancer, send direct messages to random other
 * users of their group and publish to their group's rooms; every message must arrive, exactly once.
 *
 *   npm run k6:smoke            (scripts/k6.sh reads the balancer URL and the secret from the deploy)
 * Parameters: WSF_* variables, see k6/lib/config.js and docs/k6.md.
 */
import { loadConfig } from './lib/config.js';
import { buildOptions, runGroup, setupRun } from './lib/run.js';
import { summaryOutputs } from './lib/summary.js';

const cfg = loadConfig(__ENV, {
  script: 'smoke',
  users: '50',
  usersPerVu: '10',
  rate: '100',
  duration: '30s',
  ramp: '5s',
  grace: '5s',
  roomSize: '5',
  roomShare: '0.2',
  payloadBytes: '64',
  p99Ms: '500',
  reconnectMaxMs: '10000',
  connectTimeout: '10s',
});

export const options = buildOptions(cfg, {
  // Nothing may go missing, twice, or to an absent user: every user is connected before the first send.
  messages_undelivered: ['count==0'],
  messages_duplicated: ['count==0'],
  messages_missed_offline: ['count==0'],
  ws_closes_unexpected: ['count==0'],
  server_errors: ['count==0'],
});

export function setup() {
  return setupRun(cfg);
}

export default function (data) {
  runGroup(cfg, data, __VU);
}

export function handleSummary(data) {
  return summaryOutputs(data, cfg);
}
