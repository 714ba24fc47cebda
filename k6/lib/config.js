/**
 * Run parameters: read from WSFLEET_* environment variables (never K6_*: those are k6's own options) and
 * validated by load/scenarios.js, the module the project's own runner shares; every error names the
 * variable and the bad value.
 *
 *   WSFLEET_BALANCER_URL    the balancer (http://127.0.0.1:8080 or ws://127.0.0.1:8080); only 127.0.0.1 is accepted
 *   WSFLEET_AUTH_SECRET     the deployment's HS256 key (AUTH_SECRET in .ws-fleet/secrets/<prefix>.env)
 *   WSFLEET_USERS           connections (one user each)
 *   WSFLEET_USERS_PER_VU    users one VU drives; messages stay inside this group (see docs/k6.md)
 *   WSFLEET_RATE            messages per second in total (direct sends + room publishes)
 *   WSFLEET_DURATION        traffic time ("30m", "90s", "500ms" or seconds)
 *   WSFLEET_RAMP            time over which the connections are opened
 *   WSFLEET_GRACE           after traffic stops: longest wait for in-flight messages before counting losses
 *   WSFLEET_ROOM_SIZE       members per room (rooms are made inside a group)
 *   WSFLEET_ROOM_SHARE      fraction of sends that are room publishes (0..1)
 *   WSFLEET_PAYLOAD_BYTES   padding added to every message's data
 *   WSFLEET_P99_MS          bound for the p(99) end-to-end latency threshold
 *   WSFLEET_RECONNECT_MAX_MS  bound for the time to reconnect a dropped socket (threshold on its max)
 *   WSFLEET_RESULTS_DIR     where handleSummary writes summary.json / summary.txt (the wrapper sets it)
 *   WSFLEET_RUN_LABEL       free text recorded with the run's parameters
 */

import { balancerWsUrl, ConfigError, loadParams, groupCount, maxDurationMs as scenarioMaxDurationMs } from '../../load/scenarios.js';

export { balancerWsUrl, ConfigError, parseDurationMs, SETTLE_MS, START_DELAY_MS } from '../../load/scenarios.js';

/**
 * Parses the run's parameters: the scenario's defaults and validation live in load/scenarios.js (shared
 * with the project's own runner); the environment overrides them.
 * @param {Record<string, string | undefined>} env
 * @param {'smoke' | 'soak' | 'scale'} script
 */
export function loadConfig(env, script) {
  const secret = env.WSFLEET_AUTH_SECRET ?? '';
  if (secret.length < 32) {
    throw new ConfigError('WSFLEET_AUTH_SECRET is missing or shorter than 32 characters: it is AUTH_SECRET from .ws-fleet/secrets/<prefix>.env (scripts/k6.sh reads it)');
  }
  const p = loadParams(script, env);
  return {
    params: p,
    script,
    wsUrl: balancerWsUrl(env.WSFLEET_BALANCER_URL),
    users: p.users,
    usersPerVu: p.groupSize,
    vus: groupCount(p),
    rate: p.rate,
    durationMs: p.durationMs,
    rampMs: p.rampMs,
    graceMs: p.graceMs,
    roomSize: p.roomSize,
    roomShare: p.roomShare,
    payloadBytes: p.payloadBytes,
    p99Ms: p.p99Ms,
    reconnectMaxMs: p.reconnectMaxMs,
    connectTimeoutMs: p.connectTimeoutMs,
    resultsDir: env.WSFLEET_RESULTS_DIR ?? '',
    label: env.WSFLEET_RUN_LABEL ?? '',
    secret,
  };
}

/** The scenario's hard bound (load/scenarios.js): k6 stops the run at this point whatever happens. */
export function maxDurationMs(cfg) {
  return scenarioMaxDurationMs(cfg.params);
}

/** What the reports record as the run's parameters (never the secret). */
export function publicParams(cfg) {
  return {
    script: cfg.script,
    label: cfg.label,
    wsUrl: cfg.wsUrl,
    users: cfg.users,
    usersPerVu: cfg.usersPerVu,
    vus: cfg.vus,
    rate: cfg.rate,
    durationMs: cfg.durationMs,
    rampMs: cfg.rampMs,
    graceMs: cfg.graceMs,
    roomSize: cfg.roomSize,
    roomShare: cfg.roomShare,
    payloadBytes: cfg.payloadBytes,
    p99Ms: cfg.p99Ms,
    reconnectMaxMs: cfg.reconnectMaxMs,
    connectTimeoutMs: cfg.connectTimeoutMs,
  };
}
