/**
 * What smoke, soak and scale share: the scenario (one iteration per VU, hard time bound), the common
 * thresholds, setup (run id, timeline, a reachability check of the balancer) and the VU body.
 */
import http from 'k6/http';
import { k6Thresholds, thresholdsFor } from '../../load/scenarios.js';
import { maxDurationMs, publicParams } from './config.js';
import { Group } from './group.js';
import { makeSchedule, scheduleLogLine } from './schedule.js';

export const BREAKDOWN = 'count>=0';
const BREAKDOWNS = [
  'messages_lost{kind:direct}',
  'messages_lost{kind:room}',
  'messages_duplicated{seq:new}',
  'messages_duplicated{seq:none}',
  'messages_redelivered{kind:direct}',
  'messages_redelivered{kind:room}',
  'messages_undelivered{reason:recipient_offline}',
  'messages_undelivered{reason:error}',
  'messages_undelivered{reason:no_ack}',
  'ws_closes_unexpected{code:1012}',
  'ws_closes_unexpected{code:1006}',
];

/** The scenario's thresholds (load/scenarios.js, shared with the project's runner) as k6 options. */
export function buildOptions(cfg) {
  /** @type {Record<string, string[]>} */
  const thresholds = k6Thresholds(thresholdsFor(cfg.params));
  // Breakdowns: k6 only reports a tagged sub-metric that has a threshold, so these carry one that
  // always holds (BREAKDOWN); the summary shows them under their metric, not as thresholds.
  for (const sub of BREAKDOWNS) if (thresholds[sub] === undefined) thresholds[sub] = [BREAKDOWN];
  return {
    scenarios: {
      [cfg.script]: {
        executor: 'per-vu-iterations',
        vus: cfg.vus,
        iterations: 1,
        maxDuration: `${maxDurationMs(cfg)}ms`,
        gracefulStop: '10s',
      },
    },
    thresholds,
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
    setupTimeout: '30s',
    teardownTimeout: '10s',
  };
}

function randomId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0')}`;
}

/** setup(): fails fast when the balancer does not answer, fixes the run id and the timeline. */
export function setupRun(cfg) {
  const health = cfg.wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, '/healthz');
  const res = http.get(health, { timeout: '5s', tags: { name: 'balancer-healthz' } });
  if (res.status !== 200) {
    throw new Error(`the balancer does not answer: GET ${health} → ${res.status === 0 ? res.error : `HTTP ${res.status}`}; is the fleet deployed (npm run up)?`);
  }
  const runId = randomId();
  const schedule = makeSchedule(cfg, Date.now());
  console.log(scheduleLogLine(runId, schedule));
  return { runId, schedule, params: publicParams(cfg) };
}

/** The VU body: drive this VU's group of users until the run's timeline ends. */
export function runGroup(cfg, setupData, vu) {
  new Group(cfg, setupData, vu).start();
}
