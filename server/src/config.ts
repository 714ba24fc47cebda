/**
 * The server's whole configuration, parsed and validated from the environment in one place.
 * A bad or missing value stops start-up with one line naming the variable and what is wrong.
 */
import { z } from 'zod';
import { isValidToken } from './subjects.js';
import { parseNamespaces, type Namespaces } from './namespaces.js';
import { HISTORY_DEFAULTS } from './store-capacity.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const envSchema = z.object({
  SERVER_ID: z.string().refine(isValidToken, 'must be 1-64 of letters, digits, "_" or "-" (it becomes a NATS subject token)'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(1, 65535).default(8080),
  // /metrics only: a port the balancer does not route (the scraper reaches it on the fleet network).
  METRICS_HOST: z.string().min(1).optional(),
  METRICS_PORT: int(1, 65535).default(9091),
  NATS_URLS: z
    .string()
    .min(1)
    .transform((s) => s.split(',').map((u) => u.trim()).filter((u) => u !== ''))
    .refine((urls) => urls.length > 0 && urls.every((u) => /^(nats|tls):\/\/[^\s/]+:\d+$/.test(u)), 'must be a comma-separated list of nats://host:port'),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  AUTH_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)'),
  AUTH_ALLOW_DEV_USER: bool.default(false),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  // setTimeout's limit (24.8 days) bounds it: the expiry timer of a connection must fit.
  TOKEN_MAX_LIFETIME_SEC: int(60, 24 * 24 * 3600).default(24 * 3600),
  TOKEN_REFRESH_WINDOW_MS: int(1000, 600_000).default(10_000),
  // The server API (Authorization: ApiKey …); unset: no server API on this replica.
  SERVER_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  NAMESPACES: z.string().default('{}'),
  MAX_CONNECTIONS: int(1, 1_000_000).default(50_000),
  MAX_PAYLOAD_BYTES: int(64, 16 * 1024 * 1024).default(64 * 1024),
  RATE_LIMIT_PER_SEC: int(1, 100_000).default(50),
  RATE_LIMIT_BURST: int(1, 100_000).default(100),
  MAX_BUFFERED_BYTES: int(1024, 256 * 1024 * 1024).default(4 * 1024 * 1024),
  MAX_BUFFERED_BYTES_TOTAL: int(64 * 1024, 16 * 1024 ** 3).default(64 * 1024 * 1024),
  MAX_ROOMS_PER_CONNECTION: int(1, 100_000).default(128),
  MAX_CONNECTIONS_PER_USER: int(1, 100_000).default(16),
  // One bucket per user per replica for sends and publishes, WebSocket and HTTP alike.
  USER_RATE_LIMIT_PER_SEC: int(1, 100_000).optional(),
  USER_RATE_LIMIT_BURST: int(1, 100_000).optional(),
  MAX_JSON_DEPTH: int(1, 1000).default(32),
  PING_INTERVAL_MS: int(100, 600_000).default(20_000),
  HEARTBEAT_INTERVAL_MS: int(100, 60_000).default(2_000),
  REPLICA_DEAD_AFTER_MS: int(500, 120_000).default(6_000),
  REMOTE_TIMEOUT_MS: int(50, 60_000).default(2_000),
  DRAIN_WINDOW_MS: int(0, 600_000).default(5_000),
  HISTORY_MAX_AGE_SEC: int(1, 30 * 24 * 3600).default(HISTORY_DEFAULTS.maxAgeSec),
  HISTORY_MAX_MSGS_PER_USER: int(1, 1_000_000).default(10_000),
  // Per stream (WSF_INBOX, WSF_ROOMS), reserved on every JetStream node that holds a replica (store-capacity.ts).
  HISTORY_MAX_BYTES: int(1024 * 1024, 1024 ** 4).default(HISTORY_DEFAULTS.maxBytes),
  JETSTREAM_REPLICAS: z.enum(['auto', '1', '3', '5']).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Durability (issue 11): replay paging and the window in which a repeated message id is stored once.
  REPLAY_PAGE_SIZE: int(1, 100_000).default(500),
  HISTORY_DUPLICATE_WINDOW_SEC: int(1, 24 * 3600).default(120),
  // Direct messages' delivery class: durable (stored, resumable, acknowledged once stored) or volatile
  // (not stored, at most once). Rooms take theirs from their namespace (keepHistory).
  DIRECT_DELIVERY: z.enum(['durable', 'volatile']).default('durable'),
});

export type Config = Readonly<{
  serverId: string;
  host: string;
  port: number;
  metrics: { host: string; port: number };
  nats: { servers: string[]; user?: string | undefined; pass?: string | undefined };
  auth: {
    secret: Uint8Array;
    allowDevUser: boolean;
    issuer?: string | undefined;
    audience?: string | undefined;
    maxLifetimeSec: number;
    refreshWindowMs: number;
    serverApiKey?: string | undefined;
  };
  namespaces: Namespaces;
  limits: {
    maxConnections: number;
    maxPayloadBytes: number;
    ratePerSec: number;
    rateBurst: number;
    maxBufferedBytes: number;
    maxBufferedBytesTotal: number;
    maxRoomsPerConnection: number;
    maxConnectionsPerUser: number;
    userRatePerSec: number;
    userRateBurst: number;
    maxJsonDepth: number;
  };
  timing: {
    pingIntervalMs: number;
    heartbeatIntervalMs: number;
    replicaDeadAfterMs: number;
    remoteTimeoutMs: number;
    drainWindowMs: number;
  };
  history: { maxAgeSec: number; maxMsgsPerUser: number; maxBytes: number; replicas: 'auto' | 1 | 3 | 5 };
  logLevel: string;
  /** Durability (issue 11): messages per replay page; seconds a Nats-Msg-Id is remembered (capped by the history's max age). */
  durability: { replayPageSize: number; duplicateWindowSec: number };
  /** The delivery class of direct messages (DIRECT_DELIVERY). */
  directDelivery: DeliveryClass;
}>;

/** durable: stored first, resumable, in order, acknowledged once stored. volatile: not stored, at most once. */
export type DeliveryClass = 'durable' | 'volatile';

export class ConfigError extends Error {}

/**
 * SERVER_ENV_JSON: the other variables as one JSON object of strings. The Swarm service sets only this
 * one (infra/swarm/ws-service.ts): its Terraform provider sends an environment of several variables in
 * a random order, which Swarm takes for a changed task and replaces every task on each update (a scale
 * included). A variable also set on its own wins over the object's.
 */
export const SERVER_ENV_JSON = 'SERVER_ENV_JSON';

function withBundledVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const text = env[SERVER_ENV_JSON];
  if (text === undefined) return env;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`invalid configuration:\n  ${SERVER_ENV_JSON}: must be a JSON object of variable name → string (got ${JSON.stringify(text.slice(0, 80))}…)`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`invalid configuration:\n  ${SERVER_ENV_JSON}: must be a JSON object of variable name → string`);
  const bundled: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new ConfigError(`invalid configuration:\n  ${SERVER_ENV_JSON}: ${name} must be a string (got ${typeof value})`);
    bundled[name] = value;
  }
  const { [SERVER_ENV_JSON]: _bundle, ...own } = env;
  return { ...bundled, ...own };
}

/** Parses the environment; throws ConfigError with one line per bad variable. */
export function loadConfig(input: NodeJS.ProcessEnv): Config {
  const env = withBundledVariables(input);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = i.path.join('.');
      const raw = env[name];
      const shown = raw === undefined ? 'missing' : /SECRET|PASSWORD|KEY/.test(name) ? '(value hidden)' : JSON.stringify(raw);
      return `${name}: ${i.message} (got ${shown})`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if ((e.NATS_USER === undefined) !== (e.NATS_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration:\n  NATS_USER and NATS_PASSWORD must be set together');
  }
  if (e.METRICS_PORT === e.PORT) {
    throw new ConfigError(`invalid configuration:\n  METRICS_PORT: must differ from PORT (${e.PORT}): metrics are not served on the public port`);
  }
  if (e.SERVER_API_KEY !== undefined && e.SERVER_API_KEY === e.AUTH_SECRET) {
    throw new ConfigError('invalid configuration:\n  SERVER_API_KEY must differ from AUTH_SECRET');
  }
  let namespaces: Namespaces;
  try {
    namespaces = parseNamespaces(e.NAMESPACES);
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  NAMESPACES: ${(err as Error).message} (got ${JSON.stringify(e.NAMESPACES.slice(0, 200))})`);
  }
  return {
    serverId: e.SERVER_ID,
    host: e.HOST,
    port: e.PORT,
    metrics: { host: e.METRICS_HOST ?? e.HOST, port: e.METRICS_PORT },
    nats: { servers: e.NATS_URLS, user: e.NATS_USER, pass: e.NATS_PASSWORD },
    auth: {
      secret: new TextEncoder().encode(e.AUTH_SECRET),
      allowDevUser: e.AUTH_ALLOW_DEV_USER,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      maxLifetimeSec: e.TOKEN_MAX_LIFETIME_SEC,
      refreshWindowMs: e.TOKEN_REFRESH_WINDOW_MS,
      serverApiKey: e.SERVER_API_KEY,
    },
    namespaces,
    limits: {
      maxConnections: e.MAX_CONNECTIONS,
      maxPayloadBytes: e.MAX_PAYLOAD_BYTES,
      ratePerSec: e.RATE_LIMIT_PER_SEC,
      rateBurst: e.RATE_LIMIT_BURST,
      maxBufferedBytes: e.MAX_BUFFERED_BYTES,
      maxBufferedBytesTotal: e.MAX_BUFFERED_BYTES_TOTAL,
      maxRoomsPerConnection: e.MAX_ROOMS_PER_CONNECTION,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      userRatePerSec: e.USER_RATE_LIMIT_PER_SEC ?? e.RATE_LIMIT_PER_SEC,
      userRateBurst: e.USER_RATE_LIMIT_BURST ?? e.RATE_LIMIT_BURST,
      maxJsonDepth: e.MAX_JSON_DEPTH,
    },
    timing: {
      pingIntervalMs: e.PING_INTERVAL_MS,
      heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
      replicaDeadAfterMs: e.REPLICA_DEAD_AFTER_MS,
      remoteTimeoutMs: e.REMOTE_TIMEOUT_MS,
      drainWindowMs: e.DRAIN_WINDOW_MS,
    },
    history: {
      maxAgeSec: e.HISTORY_MAX_AGE_SEC,
      maxMsgsPerUser: e.HISTORY_MAX_MSGS_PER_USER,
      maxBytes: e.HISTORY_MAX_BYTES,
      replicas: e.JETSTREAM_REPLICAS === 'auto' ? 'auto' : (Number(e.JETSTREAM_REPLICAS) as 1 | 3 | 5),
    },
    logLevel: e.LOG_LEVEL,
    durability: { replayPageSize: e.REPLAY_PAGE_SIZE, duplicateWindowSec: e.HISTORY_DUPLICATE_WINDOW_SEC },
    directDelivery: e.DIRECT_DELIVERY,
  };
}
