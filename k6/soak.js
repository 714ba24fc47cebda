/**
 * soak: constant connections with steady traffic (default 30 min, 2000 connections, 500 messages/s in
 * total); a socket the server closes (drain 1012, slow consumer 1013, ...) reconnects and resumes.
 * scripts/k6.sh adds the replicas' memory check (growth after warm-up < 10%) and optional scale events.
 *
 *   npm run k6:soak -- --duration 3m --users 500 --rate 100
 */
import { loadConfig } from './lib/config.js';
import { buildOptions, runGroup, setupRun } from './lib/run.js';
import { summaryOutputs } from './lib/summary.js';

const cfg = loadConfig(__ENV, {
  script: 'soak',
  users: '2000',
  usersPerVu: '20',
  rate: '500',
  duration: '30m',
  ramp: '60s',
  grace: '15s',
  roomSize: '10',
  roomShare: '0.1',
  payloadBytes: '64',
  p99Ms: '500',
  reconnectMaxMs: '10000',
  connectTimeout: '10s',
});

export const options = buildOptions(cfg, {});

export function setup() {
  return setupRun(cfg);
}

export default function (data) {
  runGroup(cfg, data, __VU);
}

export function handleSummary(data) {
  return summaryOutputs(data, cfg);
}
