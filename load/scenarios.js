// @ts-check
/**
 * The load scenarios, their parameters and their thresholds: the one module both the k6 scripts
 * (k6/*.js, run by k6's own JavaScript runtime) and the project's runner (load/*.ts, run by Node)
 * import. Plain ES module with JSDoc types and no imports, so it runs unchanged in either runtime.
 *
 * Parameters come from WSFLEET_* names (the k6 scripts read them from __ENV, the runner maps its command
 * line options onto the same names), are validated here, and every error names the variable and the
 * bad value. Thresholds are data ({ metric, stat, op, value }); `k6Thresholds` turns them into k6's
 * threshold strings and `evaluateThresholds` checks them against a summary of the same shape as k6's
 * (metrics[name].values[stat]).
 */
import { parseDurationText } from '../loadbalancer/src/duration-grammar.js';

/** @typedef {'smoke' | 'soak' | 'scale' | 'chaos'} ScenarioName */

/**
 * @typedef {object} Params
 * @property {ScenarioName} scenario
 * @property {number} users            connections, one user each
 * @property {number} groupSize        users per group: every message stays inside its group
 * @property {number} rate             messages per second in total
 * @property {number} durationMs       traffic time
 * @property {number} rampMs           connects spread over this
 * @property {number} graceMs          after traffic: longest wait for in-flight messages
 * @property {number} roomSize         members per room
 * @property {number} roomShare        share of sends that are room publishes (0..1)
 * @property {number} payloadBytes     padding added to every message
 * @property {number} p99Ms            bound of the p99 end-to-end latency threshold
 * @property {number} ackP99Ms         bound of the p99 send → ack threshold (chaos)
 * @property {number} replayP99Ms      bound of the p99 reconnect → replay done threshold (chaos)
 * @property {number} reconnectMaxMs   bound of the slowest reconnect after a server-side close
 * @property {number} connectTimeoutMs an attempt that has not opened by then fails
 * @property {number} memoryMaxGrowth  replica memory growth bound (fraction) for the memory check
 * @property {boolean} memoryCheck     whether the replicas' memory growth is checked
 * @property {string} scalePlan        "<time>=<replicas>,..." from the start of traffic
 * @property {number | undefined} initialReplicas  scale to this before the run
 */

/**
 * @typedef {object} Threshold
 * @property {string} metric   metric name (k6's names: messages_lost, e2e_latency, ...)
 * @property {string} stat     count | rate | max | med | p(95) | p(99) | value
 * @property {'<' | '<=' | '==' | '>' | '>='} op
 * @property {number} value
 * @property {string} why      one line: what the threshold protects
 * @property {boolean} k6      false: only the runner measures this metric (k6 has no such metric)
 */

export class ConfigError extends Error {}

const MAX_USERS = 50000;
const MAX_RATE = 20000;
const MAX_DURATION_MS = 24 * 3600 * 1000;

/** Settle time between the last connect and the first message, and the delay before the first connect. */
export const SETTLE_MS = 2000;
export const START_DELAY_MS = 2000;

/**
 * Each scenario's defaults, as strings in the grammar of their WSFLEET_* variables.
 * @type {Record<ScenarioName, Record<string, string>>}
 */
export const SCENARIO_DEFAULTS = {
  // < 1 min: every user connected before the first send, so every message must arrive exactly once.
  smoke: {
    WSFLEET_USERS: '50', WSFLEET_USERS_PER_VU: '10', WSFLEET_RATE: '100', WSFLEET_DURATION: '30s', WSFLEET_RAMP: '5s', WSFLEET_GRACE: '5s',
    WSFLEET_ROOM_SIZE: '5', WSFLEET_ROOM_SHARE: '0.2', WSFLEET_PAYLOAD_BYTES: '64', WSFLEET_P99_MS: '500',
    WSFLEET_MEMORY_CHECK: 'false', WSFLEET_SCALE_PLAN: '',
  },
  // Constant connections, steady traffic; memory checked.
  soak: {
    WSFLEET_USERS: '2000', WSFLEET_USERS_PER_VU: '20', WSFLEET_RATE: '500', WSFLEET_DURATION: '30m', WSFLEET_RAMP: '60s', WSFLEET_GRACE: '15s',
    WSFLEET_ROOM_SIZE: '10', WSFLEET_ROOM_SHARE: '0.1', WSFLEET_PAYLOAD_BYTES: '64', WSFLEET_P99_MS: '500',
    WSFLEET_MEMORY_CHECK: 'true', WSFLEET_SCALE_PLAN: '',
  },
  // Soak traffic while the fleet is scaled 3 → 5 → 2.
  scale: {
    WSFLEET_USERS: '2000', WSFLEET_USERS_PER_VU: '20', WSFLEET_RATE: '500', WSFLEET_DURATION: '6m', WSFLEET_RAMP: '60s', WSFLEET_GRACE: '15s',
    WSFLEET_ROOM_SIZE: '10', WSFLEET_ROOM_SHARE: '0.1', WSFLEET_PAYLOAD_BYTES: '64', WSFLEET_P99_MS: '500',
    WSFLEET_MEMORY_CHECK: 'false', WSFLEET_SCALE_PLAN: '60s=5,180s=2', WSFLEET_INITIAL_REPLICAS: '3',
  },
  // Soak traffic through faults (load/chaos.ts): sized so the whole run fits 6 minutes on 2 cores.
  chaos: {
    WSFLEET_USERS: '300', WSFLEET_USERS_PER_VU: '20', WSFLEET_RATE: '100', WSFLEET_DURATION: '270s', WSFLEET_RAMP: '15s', WSFLEET_GRACE: '20s',
    WSFLEET_ROOM_SIZE: '10', WSFLEET_ROOM_SHARE: '0.1', WSFLEET_PAYLOAD_BYTES: '64', WSFLEET_P99_MS: '500',
    WSFLEET_MEMORY_CHECK: 'true', WSFLEET_SCALE_PLAN: '', WSFLEET_INITIAL_REPLICAS: '3',
  },
};

/** Defaults every scenario shares. */
const COMMON_DEFAULTS = {
  WSFLEET_ACK_P99_MS: '3000',
  WSFLEET_REPLAY_P99_MS: '1000',
  WSFLEET_RECONNECT_MAX_MS: '10000',
  WSFLEET_CONNECT_TIMEOUT: '10s',
  WSFLEET_MEMORY_MAX_GROWTH: '0.10',
};

/** @param {string} name */
export function isScenario(name) {
  return name === 'smoke' || name === 'soak' || name === 'scale' || name === 'chaos';
}

/**
 * "30m" | "90s" | "500ms" | "1h" | "12" (seconds) → milliseconds.
 * @param {string} name @param {string} raw
 */
export function parseDurationMs(name, raw) {
  // The project's one duration grammar; here a bare number is seconds.
  const ms = parseDurationText(raw, { defaultUnit: 's', units: ['ms', 's', 'm', 'h'] });
  if (ms === undefined) throw new ConfigError(`${name}=${JSON.stringify(raw)}: not a duration (use e.g. 500ms, 90s, 30m, 1h, or seconds)`);
  return Math.round(ms);
}

/**
 * @param {Record<string, string | undefined>} env @param {Record<string, string>} defaults @param {string} name
 * @returns {string}
 */
function raw(env, defaults, name) {
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  return defaults[name] ?? '';
}

/** @param {string} name @param {string} v @param {number} min @param {number} max */
function int(name, v, min, max) {
  const n = Number(v);
  if (v === '' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}=${JSON.stringify(v)}: must be a whole number from ${min} to ${max}`);
  return n;
}

/** @param {string} name @param {string} v @param {number} min @param {number} max */
function num(name, v, min, max) {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name}=${JSON.stringify(v)}: must be a number from ${min} to ${max}`);
  return n;
}

/** @param {string} name @param {string} v @param {number} minMs @param {number} maxMs */
function duration(name, v, minMs, maxMs) {
  const ms = parseDurationMs(name, v);
  if (ms < minMs || ms > maxMs) throw new ConfigError(`${name}=${JSON.stringify(v)}: must be from ${minMs} ms to ${maxMs} ms`);
  return ms;
}

/** @param {string} name @param {string} v */
function bool(name, v) {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`${name}=${JSON.stringify(v)}: must be true or false`);
}

/**
 * A scale plan "60s=5,180s=2": times from the start of traffic, replica counts, in time order.
 * @param {string} plan
 * @returns {{ atMs: number, replicas: number }[]}
 */
export function parseScalePlan(plan) {
  if (plan.trim() === '') return [];
  /** @type {{ atMs: number, replicas: number }[]} */
  const steps = [];
  for (const item of plan.split(',')) {
    const m = /^\s*([0-9.]+(?:ms|s|m|h)?)=([1-9][0-9]*)\s*$/.exec(item);
    if (m === null || m[1] === undefined || m[2] === undefined) throw new ConfigError(`WSFLEET_SCALE_PLAN item ${JSON.stringify(item)}: must be <time>=<replicas>, e.g. 60s=5`);
    const step = { atMs: parseDurationMs('WSFLEET_SCALE_PLAN', m[1]), replicas: int('WSFLEET_SCALE_PLAN', m[2], 1, 64) };
    const prev = steps[steps.length - 1];
    if (prev !== undefined && step.atMs <= prev.atMs) throw new ConfigError(`WSFLEET_SCALE_PLAN=${JSON.stringify(plan)}: times must increase`);
    steps.push(step);
  }
  return steps;
}

/**
 * The run's parameters for `scenario`: the scenario's defaults overridden by `env` (WSFLEET_* names).
 * @param {string} scenario
 * @param {Record<string, string | undefined>} env
 * @returns {Params}
 */
export function loadParams(scenario, env) {
  if (!isScenario(scenario)) throw new ConfigError(`scenario ${JSON.stringify(scenario)}: must be smoke, soak, scale or chaos`);
  const name = /** @type {ScenarioName} */ (scenario);
  /** @type {Record<string, string>} */
  const d = { ...COMMON_DEFAULTS, ...SCENARIO_DEFAULTS[name] };
  /** @param {string} k */
  const r = (k) => raw(env, d, k);
  const initial = r('WSFLEET_INITIAL_REPLICAS');
  /** @type {Params} */
  const p = {
    scenario: name,
    users: int('WSFLEET_USERS', r('WSFLEET_USERS'), 2, MAX_USERS),
    groupSize: int('WSFLEET_USERS_PER_VU', r('WSFLEET_USERS_PER_VU'), 2, 1000),
    rate: num('WSFLEET_RATE', r('WSFLEET_RATE'), 0.1, MAX_RATE),
    durationMs: duration('WSFLEET_DURATION', r('WSFLEET_DURATION'), 1000, MAX_DURATION_MS),
    rampMs: duration('WSFLEET_RAMP', r('WSFLEET_RAMP'), 0, 600000),
    graceMs: duration('WSFLEET_GRACE', r('WSFLEET_GRACE'), 1000, 300000),
    roomSize: int('WSFLEET_ROOM_SIZE', r('WSFLEET_ROOM_SIZE'), 1, 1000),
    roomShare: num('WSFLEET_ROOM_SHARE', r('WSFLEET_ROOM_SHARE'), 0, 1),
    payloadBytes: int('WSFLEET_PAYLOAD_BYTES', r('WSFLEET_PAYLOAD_BYTES'), 0, 60000),
    p99Ms: num('WSFLEET_P99_MS', r('WSFLEET_P99_MS'), 1, 600000),
    ackP99Ms: num('WSFLEET_ACK_P99_MS', r('WSFLEET_ACK_P99_MS'), 1, 600000),
    replayP99Ms: num('WSFLEET_REPLAY_P99_MS', r('WSFLEET_REPLAY_P99_MS'), 1, 600000),
    reconnectMaxMs: num('WSFLEET_RECONNECT_MAX_MS', r('WSFLEET_RECONNECT_MAX_MS'), 100, 600000),
    connectTimeoutMs: duration('WSFLEET_CONNECT_TIMEOUT', r('WSFLEET_CONNECT_TIMEOUT'), 1000, 60000),
    memoryMaxGrowth: num('WSFLEET_MEMORY_MAX_GROWTH', r('WSFLEET_MEMORY_MAX_GROWTH'), 0.001, 10),
    memoryCheck: bool('WSFLEET_MEMORY_CHECK', r('WSFLEET_MEMORY_CHECK')),
    scalePlan: r('WSFLEET_SCALE_PLAN'),
    initialReplicas: initial === '' ? undefined : int('WSFLEET_INITIAL_REPLICAS', initial, 1, 64),
  };
  if (p.groupSize > p.users) p.groupSize = p.users;
  const groups = Math.ceil(p.users / p.groupSize);
  if (p.users - (groups - 1) * p.groupSize < 2) {
    throw new ConfigError(`WSFLEET_USERS=${p.users} with WSFLEET_USERS_PER_VU=${p.groupSize} leaves a group of one user; pick values so every group has at least 2`);
  }
  if (name === 'smoke' && p.scalePlan !== '') throw new ConfigError('smoke takes no scale plan (WSFLEET_SCALE_PLAN)');
  parseScalePlan(p.scalePlan);
  return p;
}

/**
 * The balancer's WebSocket URL. Only 127.0.0.1 is a valid target: the k6 scripts and the runner load
 * the local fleet's balancer and nothing else.
 */
/**
 * @param {string | undefined} raw
 * @returns {string}
 */
export function balancerWsUrl(raw) {
  if (raw === undefined || raw === '') {
    throw new ConfigError('WSFLEET_BALANCER_URL is not set: run through scripts/k6.sh or npm run load (they read the deploy outputs), or set it to e.g. http://127.0.0.1:8080');
  }
  const m = /^(https?|wss?):\/\/([^/:?#]+)(?::(\d{1,5}))?(\/[^?#]*)?$/.exec(raw.trim());
  if (m === null) throw new ConfigError(`WSFLEET_BALANCER_URL=${JSON.stringify(raw)}: must look like http://127.0.0.1:8080`);
  const [, scheme, host, port, path] = m;
  if (scheme === undefined || host === undefined) throw new ConfigError(`WSFLEET_BALANCER_URL=${JSON.stringify(raw)}: must look like http://127.0.0.1:8080`);
  if (host !== '127.0.0.1') {
    throw new ConfigError(`WSFLEET_BALANCER_URL=${JSON.stringify(raw)}: host must be 127.0.0.1 (the local fleet's balancer; no other target is allowed)`);
  }
  const wsScheme = scheme === 'https' || scheme === 'wss' ? 'wss' : 'ws';
  const basePath = path === undefined || path === '/' ? '' : path.replace(/\/$/, '');
  const wsPath = basePath.endsWith('/ws') ? basePath : `${basePath}/ws`;
  return `${wsScheme}://${host}${port === undefined ? '' : `:${port}`}${wsPath}`;
}

/** @param {Params} p */
export function groupCount(p) {
  return Math.ceil(p.users / p.groupSize);
}

/**
 * The run's timeline from the moment `now` it is fixed:
 *   t0 ──ramp (connects spread evenly)── + settle ── trafficStart ──duration── trafficEnd ──grace── graceEnd
 * @param {Params} p @param {number} now
 */
export function makeSchedule(p, now) {
  const t0 = now + START_DELAY_MS;
  const trafficStart = t0 + p.rampMs + SETTLE_MS;
  const trafficEnd = trafficStart + p.durationMs;
  return { t0, trafficStart, trafficEnd, graceEnd: trafficEnd + p.graceMs };
}

/**
 * When the user with global index `gi` opens its first connection.
 * @param {{ t0: number }} schedule @param {Params} p @param {number} gi
 */
export function connectAt(schedule, p, gi) {
  return schedule.t0 + Math.floor((p.rampMs * gi) / p.users);
}

/** The hard bound of a run: every phase plus a margin; k6 and the runner stop the run at this point. @param {Params} p */
export function maxDurationMs(p) {
  return START_DELAY_MS + p.rampMs + SETTLE_MS + p.durationMs + p.graceMs + 30000;
}

/**
 * The thresholds of `scenario` with these parameters.
 * @param {Params} p
 * @returns {Threshold[]}
 */
export function thresholdsFor(p) {
  /** @type {Threshold[]} */
  const t = [
    { metric: 'messages_lost', stat: 'count', op: '==', value: 0, why: 'every acknowledged message reaches every expected recipient', k6: true },
    { metric: 'messages_acked', stat: 'count', op: '>', value: 0, why: 'an empty run does not pass', k6: true },
    { metric: 'messages_received', stat: 'count', op: '>', value: 0, why: 'an empty run does not pass', k6: true },
    { metric: 'ws_reconnect_incomplete', stat: 'count', op: '==', value: 0, why: 'no socket is left down at the end', k6: true },
  ];
  if (p.scenario === 'chaos') {
    t.push(
      { metric: 'messages_duplicated', stat: 'count', op: '==', value: 0, why: 'no message arrives twice through any fault', k6: true },
      { metric: 'ack_latency', stat: 'p(99)', op: '<=', value: p.ackP99Ms, why: 'sends are acknowledged within the bound through every fault', k6: false },
      { metric: 'replay_time', stat: 'p(99)', op: '<=', value: p.replayP99Ms, why: 'after a reconnect the missed messages are replayed within the bound', k6: false },
      { metric: 'acks_not_stored', stat: 'count', op: '==', value: 0, why: 'no ack with stored:false while a quorum of NATS nodes is up (3 nodes, at most one down at a time)', k6: false },
      { metric: 'ws_connect_failed_outside_chaos', stat: 'count', op: '==', value: 0, why: 'no connect failure outside the chaos windows', k6: false },
    );
  } else {
    t.push(
      { metric: 'ws_connect_failed', stat: 'rate', op: '<', value: 0.001, why: 'fewer than 0.1 % of connection attempts fail', k6: true },
      { metric: 'e2e_latency', stat: 'p(99)', op: '<', value: p.p99Ms, why: 'p99 send → receipt latency bound (docs/k6.md: the p99 bound)', k6: true },
      { metric: 'ws_reconnect_time', stat: 'max', op: '<', value: p.reconnectMaxMs, why: 'every dropped socket is back within the bound', k6: true },
    );
  }
  if (p.scenario === 'smoke') {
    t.push(
      { metric: 'messages_undelivered', stat: 'count', op: '==', value: 0, why: 'every user is connected before the first send', k6: true },
      { metric: 'messages_duplicated', stat: 'count', op: '==', value: 0, why: 'exactly once', k6: true },
      { metric: 'messages_missed_offline', stat: 'count', op: '==', value: 0, why: 'nobody is offline in a smoke run', k6: true },
      { metric: 'ws_closes_unexpected', stat: 'count', op: '==', value: 0, why: 'no socket is closed by the server', k6: true },
      { metric: 'server_errors', stat: 'count', op: '==', value: 0, why: 'no error frame', k6: true },
    );
  }
  if (p.memoryCheck) {
    t.push({ metric: 'replica_memory_growth', stat: 'max', op: '<', value: p.memoryMaxGrowth, why: 'replica memory flat: resident memory growth after warm-up stays under the bound', k6: false });
  }
  return t;
}

/**
 * k6's `thresholds` option for the thresholds k6 can measure.
 * @param {Threshold[]} list
 * @returns {Record<string, string[]>}
 */
export function k6Thresholds(list) {
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const t of list) {
    if (!t.k6) continue;
    (out[t.metric] = out[t.metric] ?? []).push(`${t.stat}${t.op}${t.value}`);
  }
  return out;
}

/** "messages_lost count==0" @param {Threshold} t */
export function thresholdLabel(t) {
  return `${t.metric} ${t.stat}${t.op}${t.value}`;
}

/**
 * Checks thresholds against metrics of k6's summary shape. A metric without the statistic fails
 * (a run that measured nothing proves nothing), except a count, which is 0 when never incremented.
 * @param {Threshold[]} list
 * @param {Record<string, { values: Record<string, number | undefined> } | undefined>} metrics
 * @returns {{ threshold: Threshold, label: string, actual: number | undefined, ok: boolean }[]}
 */
export function evaluateThresholds(list, metrics) {
  return list.map((t) => {
    const m = metrics[t.metric];
    let actual = m === undefined ? undefined : m.values[t.stat];
    if (actual === undefined && t.stat === 'count') actual = 0;
    const ok = actual !== undefined && compare(actual, t.op, t.value);
    return { threshold: t, label: thresholdLabel(t), actual, ok };
  });
}

/** @param {number} a @param {Threshold['op']} op @param {number} b */
function compare(a, op, b) {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '==': return a === b;
    case '>': return a > b;
    case '>=': return a >= b;
    default: return false;
  }
}
