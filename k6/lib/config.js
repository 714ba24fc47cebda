/**
 * Run parameters: read from WSF_* environment variables (never K6_*: those are k6's own options),
 * validated in this one place; every error names the variable and the bad value.
 *
 *   WSF_BALANCER_URL    the balancer (http://127.0.0.1:8080 or ws://127.0.0.1:8080); only 127.0.0.1 is accepted
 *   WSF_AUTH_SECRET     the deployment's HS256 key (AUTH_SECRET in .ws-fleet/secrets/<prefix>.env)
 *   WSF_USERS           connections (one user each)
 *   WSF_USERS_PER_VU    users one VU drives; messages stay inside this group (see docs/k6.md)
 *   WSF_RATE            messages per second in total (direct sends + room publishes)
 *   WSF_DURATION        traffic time ("30m", "90s", "500ms" or seconds)
 *   WSF_RAMP            time over which the connections are opened
 *   WSF_GRACE           after traffic stops: longest wait for in-flight messages before counting losses
 *   WSF_ROOM_SIZE       members per room (rooms are made inside a group)
 *   WSF_ROOM_SHARE      fraction of sends that are room publishes (0..1)
 *   WSF_PAYLOAD_BYTES   padding added to every message's data
 *   WSF_P99_MS          bound for the p(99) end-to-end latency threshold
 *   WSF_RECONNECT_MAX_MS  bound for the time to reconnect a dropped socket (threshold on its max)
 *   WSF_RESULTS_DIR     where handleSummary writes summary.json / summary.txt (the wrapper sets it)
 *   WSF_RUN_LABEL       free text recorded with the run's parameters
 */

const MAX_USERS = 50000;
const MAX_RATE = 20000;
const MAX_DURATION_MS = 24 * 3600 * 1000;

export class ConfigError extends Error {}

/** "30m" | "90s" | "500ms" | "1h" | "12" (seconds) → milliseconds. */
export function parseDurationMs(name, raw) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(raw).trim());
  if (m === null) throw new ConfigError(`${name}=${JSON.stringify(raw)}: not a duration (use e.g. 500ms, 90s, 30m, 1h, or seconds)`);
  const n = Number(m[1]);
  const unit = m[2] === undefined ? 's' : m[2];
  const factor = { ms: 1, s: 1000, m: 60000, h: 3600000 }[unit];
  return Math.round(n * factor);
}

function readRaw(env, name, fallback) {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env, name, fallback, min, max) {
  const raw = readRaw(env, name, fallback);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function num(env, name, fallback, min, max) {
  const raw = readRaw(env, name, fallback);
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be a number from ${min} to ${max}`);
  }
  return n;
}

function duration(env, name, fallback, minMs, maxMs) {
  const raw = readRaw(env, name, fallback);
  const ms = parseDurationMs(name, raw);
  if (ms < minMs || ms > maxMs) throw new ConfigError(`${name}=${JSON.stringify(raw)}: must be from ${minMs} ms to ${maxMs} ms`);
  return ms;
}

/**
 * The balancer's WebSocket URL. Only 127.0.0.1 is a valid target: these scripts load the local
 * fleet's balancer and nothing else.
 */
export function balancerWsUrl(raw) {
  if (raw === undefined || raw === '') {
    throw new ConfigError('WSF_BALANCER_URL is not set: run through scripts/k6.sh (it reads the deploy outputs), or set it to e.g. http://127.0.0.1:8080');
  }
  const m = /^(https?|wss?):\/\/([^/:?#]+)(?::(\d{1,5}))?(\/[^?#]*)?$/.exec(raw.trim());
  if (m === null) throw new ConfigError(`WSF_BALANCER_URL=${JSON.stringify(raw)}: must look like http://127.0.0.1:8080`);
  const [, scheme, host, port, path] = m;
  if (host !== '127.0.0.1') {
    throw new ConfigError(`WSF_BALANCER_URL=${JSON.stringify(raw)}: host must be 127.0.0.1 (the local fleet's balancer; no other target is allowed)`);
  }
  const wsScheme = scheme === 'https' || scheme === 'wss' ? 'wss' : 'ws';
  const basePath = path === undefined || path === '/' ? '' : path.replace(/\/$/, '');
  const wsPath = basePath.endsWith('/ws') ? basePath : `${basePath}/ws`;
  return `${wsScheme}://${host}${port === undefined ? '' : `:${port}`}${wsPath}`;
}

/**
 * Parses the run's parameters. `defaults` holds the script's defaults (strings, as the env would);
 * the environment overrides them.
 */
export function loadConfig(env, defaults) {
  const d = (k) => defaults[k];
  const secret = readRaw(env, 'WSF_AUTH_SECRET', '');
  if (secret.length < 32) {
    throw new ConfigError('WSF_AUTH_SECRET is missing or shorter than 32 characters: it is AUTH_SECRET from .ws-fleet/secrets/<prefix>.env (scripts/k6.sh reads it)');
  }
  const cfg = {
    script: defaults.script,
    wsUrl: balancerWsUrl(readRaw(env, 'WSF_BALANCER_URL', '')),
    users: int(env, 'WSF_USERS', d('users'), 2, MAX_USERS),
    usersPerVu: int(env, 'WSF_USERS_PER_VU', d('usersPerVu'), 2, 1000),
    rate: num(env, 'WSF_RATE', d('rate'), 0.1, MAX_RATE),
    durationMs: duration(env, 'WSF_DURATION', d('duration'), 1000, MAX_DURATION_MS),
    rampMs: duration(env, 'WSF_RAMP', d('ramp'), 0, 600000),
    graceMs: duration(env, 'WSF_GRACE', d('grace'), 1000, 300000),
    roomSize: int(env, 'WSF_ROOM_SIZE', d('roomSize'), 1, 1000),
    roomShare: num(env, 'WSF_ROOM_SHARE', d('roomShare'), 0, 1),
    payloadBytes: int(env, 'WSF_PAYLOAD_BYTES', d('payloadBytes'), 0, 60000),
    p99Ms: num(env, 'WSF_P99_MS', d('p99Ms'), 1, 600000),
    reconnectMaxMs: num(env, 'WSF_RECONNECT_MAX_MS', d('reconnectMaxMs'), 100, 600000),
    connectTimeoutMs: duration(env, 'WSF_CONNECT_TIMEOUT', d('connectTimeout'), 1000, 60000),
    resultsDir: readRaw(env, 'WSF_RESULTS_DIR', ''),
    label: readRaw(env, 'WSF_RUN_LABEL', ''),
    secret,
  };
  if (cfg.usersPerVu > cfg.users) cfg.usersPerVu = cfg.users;
  cfg.vus = Math.ceil(cfg.users / cfg.usersPerVu);
  if (cfg.users - (cfg.vus - 1) * cfg.usersPerVu < 2) {
    throw new ConfigError(`WSF_USERS=${cfg.users} with WSF_USERS_PER_VU=${cfg.usersPerVu} leaves a group of one user; pick values so every group has at least 2`);
  }
  return cfg;
}

/** Settle time between the last connect and the first message, and the scenario's safety margin. */
export const SETTLE_MS = 2000;
export const START_DELAY_MS = 2000;

/** The scenario's hard bound: every phase plus a margin; k6 stops the run at this point whatever happens. */
export function maxDurationMs(cfg) {
  return START_DELAY_MS + cfg.rampMs + SETTLE_MS + cfg.durationMs + cfg.graceMs + 30000;
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
