/**
 * The balancer's settings: one typed, validated shape from which haproxy.cfg is rendered.
 *
 * Every field except `backend` has a default. Parsing rejects unknown keys (a typo such as `timeouts.tunel`
 * is an error, not a silently ignored setting) and every error names the field and the value it got.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_HAPROXY_DURATION_MS, parseDurationMs } from './duration.js';

export const LB_MODES = ['roundrobin', 'leastconn', 'sticky'] as const;
export type LbMode = (typeof LB_MODES)[number];
/**
 * The mode when none is given: here and for a deployment (infra/settings.ts takes it from here).
 * Round-robin spreads consecutive connections over the replicas, which is what a fresh fleet and its
 * tests expect; pick leastconn for long-lived sockets after scaling (MODE_GUIDE says when).
 */
export const DEFAULT_LB_MODE: LbMode = 'roundrobin';

/** Docker's embedded DNS server, reachable from every container on a user-defined network. */
export const DOCKER_DNS = '127.0.0.11:53';

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$/;
/** HAProxy proxy/server names: letters, digits, '-', '_', '.', ':' (we leave ':' out: it reads as host:port). */
const HAPROXY_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const COOKIE_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** A URL path HAProxy can match literally and log without quoting trouble. */
const PATH_RE = /^\/[A-Za-z0-9._~\-/]*$/;

/** A duration: milliseconds as a number, or HAProxy's "<digits><us|ms|s|m|h|d>" string. Output: ms. */
function duration(minMs: number, maxMs = MAX_HAPROXY_DURATION_MS) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDurationMs(value);
    if (ms === undefined) {
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: 'is not a duration (use milliseconds as a number, or digits with a unit us|ms|s|m|h|d, e.g. "30s" or "1h")',
      });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.issues.push({ code: 'custom', input: value, message: `must be between ${minMs} ms and ${maxMs} ms` });
      return z.NEVER;
    }
    return ms;
  });
}

const port = z.number().int().min(1).max(65_535);
const bindAddress = z
  .string()
  .refine((a) => isIP(a) !== 0, 'must be an IPv4 or IPv6 address to bind (e.g. "127.0.0.1", "0.0.0.0" or "::")');
const serverHost = z
  .string()
  .refine((h) => isIP(h) !== 0 || HOSTNAME_RE.test(h), 'must be an IP address or a DNS name');
const urlPath = z.string().regex(PATH_RE, 'must be a path starting with "/" made of URL-safe characters');
/** The name of an environment variable of the HAProxy process (the config refers to it as "${NAME}"). */
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'must be an environment variable name (A-Z, 0-9, "_")');

const frontendSchema = z.strictObject({
  /** Address HAProxy binds for clients. In a container this is "0.0.0.0"; Docker publishes it on 127.0.0.1. */
  address: bindAddress.default('127.0.0.1'),
  port: port.default(8080),
});

const statsSchema = z.strictObject({
  /** The stats page and the Prometheus exporter listen here, apart from client traffic. */
  address: bindAddress.default('127.0.0.1'),
  port: port.default(8404),
  /** HTML stats page (append ";csv" for CSV). */
  path: urlPath.default('/stats'),
  /** HAProxy's built-in Prometheus exporter. */
  metricsPath: urlPath.default('/metrics'),
  /** Answers 200 while HAProxy runs (a container healthcheck target). */
  healthPath: urlPath.default('/healthz'),
  refresh: duration(1000, 3_600_000).default(5000),
  /**
   * Basic auth for the stats page and the exporter (the health path stays open for the container's
   * healthcheck). The credentials are never in the config: it names two environment variables of the
   * HAProxy process, which HAProxy expands at start ("${NAME}" in double quotes). Omitted: no auth
   * (only for a stats port nobody else can reach, as in tests).
   */
  auth: z.strictObject({ userEnv: envName, passwordEnv: envName }).optional(),
});

const rateLimitSchema = z.strictObject({
  /**
   * New connections one source address may open per 10 s on the WebSocket frontend; past it, requests
   * on new connections are answered 429 with Retry-After (open sockets are not touched). 0 = no limit.
   * Behind Docker's userland proxy every client on the host shares one source address: size it for that.
   */
  connectionsPerSourcePer10s: z.number().int().min(0).max(10_000_000).default(0),
  /** Source addresses the table tracks at once (the oldest entries go first when it is full). */
  trackedSources: z.number().int().min(1000).max(10_000_000).default(100_000),
});

const resolverSchema = z.strictObject({
  /** DNS servers as "ip:port". Docker's embedded DNS by default. */
  nameservers: z
    .array(
      z.string().refine((s) => {
        const m = /^(.+):(\d{1,5})$/.exec(s);
        if (m === null) return false;
        const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
        const p = Number(m[2]);
        return isIP(host) !== 0 && p >= 1 && p <= 65_535;
      }, 'must be "ip:port", e.g. "127.0.0.11:53"'),
    )
    .min(1, 'must list at least one nameserver')
    .default([DOCKER_DNS]),
  /** How often HAProxy re-resolves the service name ("timeout resolve"). */
  resolveInterval: duration(100, 60_000).default(1000),
  /** How long a name that disappeared from DNS keeps its slot ("hold obsolete"); its checks fail meanwhile. */
  holdObsolete: duration(0, 3_600_000).default(5000),
  /** How long a valid answer is reused before asking again ("hold valid"). */
  holdValid: duration(100, 3_600_000).default(1000),
});

const dnsBackendSchema = z.strictObject({
  kind: z.literal('dns'),
  /** The replicas' network alias: Docker's DNS answers it with one A record per running replica. */
  serviceName: z.string().regex(HOSTNAME_RE, 'must be a DNS name (the replicas\' network alias)'),
  port: port.default(8080),
  /** Server slots in the template: the most replicas HAProxy can route to at once. */
  slots: z.number().int().min(1).max(1024).default(32),
  /** Prefix of the slot names in logs and stats: "<prefix>1" .. "<prefix><slots>". */
  serverPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'must be letters, digits, "_" or "-"').default('ws'),
  resolver: resolverSchema.prefault({}),
});

const staticServerSchema = z.strictObject({
  name: z.string().regex(HAPROXY_NAME_RE, 'must be 1-64 of letters, digits, "_", "." or "-"'),
  host: serverHost,
  port,
});

const staticBackendSchema = z.strictObject({
  kind: z.literal('static'),
  servers: z
    .array(staticServerSchema)
    .min(1, 'must list at least one server')
    .max(1024, 'must list at most 1024 servers')
    .refine((servers) => new Set(servers.map((s) => s.name)).size === servers.length, 'server names must be unique'),
});

const timeoutsSchema = z.strictObject({
  /**
   * Time to establish the TCP connection to a replica. Replicas sit on the same network, where a
   * connect takes well under a millisecond; a longer wait means the replica's address is gone (a
   * container just removed), and the retry on another replica should not wait 5 s for it.
   */
  connect: duration(100, 120_000).default(2000),
  /** Client inactivity before the upgrade (and for plain HTTP requests). */
  client: duration(1000).default(30_000),
  /** Replica inactivity before the upgrade (and for plain HTTP responses). */
  server: duration(1000).default(30_000),
  /** Idle WebSocket (tunnel) lifetime. Must exceed the server's ping interval; the server's pings keep live sockets open. */
  tunnel: duration(1000).default(3_600_000),
  /** Half-closed client side: how long to wait for the client's FIN after ours. */
  clientFin: duration(100).default(30_000),
  /** Half-closed server side. */
  serverFin: duration(100).default(30_000),
  /** Time for a client to send complete request headers (slowloris guard). */
  httpRequest: duration(100, 600_000).default(10_000),
  /** Idle keep-alive between two plain HTTP requests on one connection. */
  httpKeepAlive: duration(100, 600_000).default(10_000),
  /** Time a request may wait in the queue when every replica is at its maxconn. */
  queue: duration(0, 600_000).default(5000),
  /** Health-check response time limit. */
  check: duration(100, 60_000).default(1000),
});

const healthCheckSchema = z.strictObject({
  /** Readiness endpoint: 200 = route new connections here, anything else (503 while draining) = don't. */
  path: urlPath.default('/readyz'),
  /** Check interval while the replica is up. */
  interval: duration(100, 60_000).default(1000),
  /** Interval while a state change is in progress (after a first failure or success). */
  fastInterval: duration(100, 60_000).default(500),
  /** Interval while the replica is down. */
  downInterval: duration(100, 60_000).default(1000),
  /**
   * Consecutive failures to mark a replica down. 3, not 2: a replica that is slow for a moment
   * (CPU-starved under a connect storm) stays in rotation; a draining one (503 at once) is still
   * out within interval + 2 × fastInterval = 2 s.
   */
  fall: z.number().int().min(1).max(10).default(3),
  /** Consecutive successes to mark a replica up. */
  rise: z.number().int().min(1).max(10).default(2),
});

const maxConnectionsSchema = z.strictObject({
  /**
   * Process-wide concurrent connections. "auto" (default): HAProxy derives it from the file-descriptor
   * limit it runs under (about ulimit -n / 2: ~524k under Docker's usual 1048576, capped by 3.x's
   * fd-hard-limit). A number is fixed, and HAProxy then refuses to start unless it can raise its
   * file-descriptor limit to requiredOpenFiles() (the container's nofile ulimit must allow it).
   */
  global: z
    .union([z.literal('auto'), z.number().int().min(100).max(4_000_000)], { error: 'must be "auto" or a whole number from 100 to 4000000' })
    .default('auto'),
  /** Concurrent client connections on the WebSocket frontend. Defaults to `global`. */
  frontend: z.number().int().min(1).max(4_000_000).optional(),
  /** Concurrent connections to one replica; past it requests queue (timeouts.queue) and then get 503. */
  perServer: z.number().int().min(1).max(1_000_000).default(30_000),
});

const stickySchema = z.strictObject({
  /** Cookie HAProxy inserts on the first response (the 101 of the upgrade) naming the replica. */
  cookieName: z.string().regex(COOKIE_NAME_RE, 'must be 1-64 of letters, digits, "_" or "-"').default('WSFLEET_SRV'),
  /**
   * Key for HAProxy's dynamic cookies (DNS-discovered replicas have no fixed name, so the cookie value is a
   * hash of the replica's address and this key). Pass a per-deployment random value; the default is public.
   */
  dynamicCookieKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,128}$/, 'must be 8-128 of letters, digits, "_" or "-"')
    .default('ws-fleet-dynamic-cookie'),
});

export const loadBalancerSettingsSchema = z
  .strictObject({
    mode: z.enum(LB_MODES, { error: `must be one of ${LB_MODES.join(', ')}` }).default(DEFAULT_LB_MODE),
    frontend: frontendSchema.prefault({}),
    stats: statsSchema.prefault({}),
    backend: z.discriminatedUnion('kind', [dnsBackendSchema, staticBackendSchema], {
      error: 'must be {kind:"dns", serviceName, ...} or {kind:"static", servers:[...]}',
    }),
    timeouts: timeoutsSchema.prefault({}),
    healthCheck: healthCheckSchema.prefault({}),
    maxConnections: maxConnectionsSchema.prefault({}),
    sticky: stickySchema.prefault({}),
    rateLimit: rateLimitSchema.prefault({}),
    /**
     * How many times a failed connect or an upgrade answered 503 is retried, each time on another
     * replica. Set it to at least the number of replicas that may drain at once (a 5 -> 2 scale-down
     * drains 3): a client's upgrade then finds a live replica instead of an error.
     */
    retries: z.number().int().min(0).max(20).default(3),
    /** Optional Unix socket for HAProxy's runtime API (level admin), e.g. "/var/run/haproxy/admin.sock". */
    adminSocket: z.string().regex(/^\/[A-Za-z0-9._/-]+$/, 'must be an absolute path').optional(),
    /** Optional cap on how long an old process keeps serving tunnels after a reload ("hard-stop-after"). */
    hardStopAfter: duration(1000).optional(),
  })
  .superRefine((s, ctx) => {
    if (s.frontend.address === s.stats.address && s.frontend.port === s.stats.port) {
      ctx.addIssue({ code: 'custom', path: ['stats', 'port'], input: s.stats.port, message: 'must differ from frontend.port on the same address' });
    }
    const globalMax = s.maxConnections.global;
    if (globalMax !== 'auto' && s.maxConnections.frontend !== undefined && s.maxConnections.frontend > globalMax) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxConnections', 'frontend'],
        input: s.maxConnections.frontend,
        message: `must not exceed maxConnections.global (${String(globalMax)})`,
      });
    }
    if (s.timeouts.check > s.healthCheck.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['timeouts', 'check'],
        input: s.timeouts.check,
        message: `must not exceed healthCheck.interval (${s.healthCheck.interval} ms)`,
      });
    }
  });

/** What callers pass: partial, with durations as numbers (ms) or strings ("30s"). */
export type LoadBalancerSettingsInput = z.input<typeof loadBalancerSettingsSchema>;
/** Parsed settings: every default filled in, every duration in milliseconds. */
export type LoadBalancerSettings = z.output<typeof loadBalancerSettingsSchema>;
export type DnsBackend = z.output<typeof dnsBackendSchema>;
export type StaticBackend = z.output<typeof staticBackendSchema>;
export type StaticServer = z.output<typeof staticServerSchema>;

/** Thrown for invalid settings; `issues` holds one "field: what is wrong (got value)" line per problem. */
export class LoadBalancerSettingsError extends Error {
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid load balancer settings:\n  ${issues.join('\n  ')}`);
    this.name = 'LoadBalancerSettingsError';
    this.issues = issues;
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function show(field: string, value: unknown): string {
  if (value === undefined) return 'missing';
  if (/key|secret|password/i.test(field)) return '(value hidden)';
  const json = JSON.stringify(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/**
 * File descriptors HAProxy needs for a fixed maxConnections.global (2 per proxied connection plus
 * headroom for listeners, health checks and DNS); undefined for "auto", which adapts to the limit.
 * Give the balancer container at least this nofile ulimit.
 */
export function requiredOpenFiles(settings: LoadBalancerSettings): number | undefined {
  const global = settings.maxConnections.global;
  return global === 'auto' ? undefined : 2 * global + 1024;
}

/** Validates settings and fills defaults; throws LoadBalancerSettingsError naming each bad field and value. */
export function parseLoadBalancerSettings(input: unknown): LoadBalancerSettings {
  const result = loadBalancerSettingsSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = issue.path.length === 0 ? '(settings)' : issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return `${field === '(settings)' ? '' : `${field}.`}${issue.keys.join(', ')}: unknown setting`;
    }
    const got = 'input' in issue && issue.input !== undefined ? issue.input : valueAt(input, issue.path);
    const message = issue.message.startsWith('Invalid input: expected') ? issue.message.replace(/^Invalid input: /, '') : issue.message;
    return `${field}: ${message} (got ${show(field, got)})`;
  });
  throw new LoadBalancerSettingsError(lines);
}
