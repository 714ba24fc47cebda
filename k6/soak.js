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

const cfg = loadConfig(__ENV, 'soak');

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
