/**
 * renderHaproxyConfig: settings in, haproxy.cfg text out. Pure: no I/O, same input → same output.
 *
 * The output is valid on HAProxy 2.6 (Debian bookworm's, used by the offline image stand-in) and on the
 * official 3.2 image: it sticks to directives present in both and deprecated in neither.
 */
import { formatDuration } from './duration.js';
import { CONNECTION_LOG_FORMAT } from './log-format.js';
import {
  parseLoadBalancerSettings,
  type DnsBackend,
  type LoadBalancerSettings,
  type LoadBalancerSettingsInput,
  type StaticBackend,
} from './settings.js';

/** Section names in the rendered file (stable: the stats page, metrics and logs show them). */
export const HAPROXY_NAMES = {
  frontend: 'ws_in',
  backend: 'ws_replicas',
  stats: 'stats',
  resolvers: 'dns',
  statsUsers: 'stats_users',
} as const;

const t = formatDuration;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function globalSection(s: LoadBalancerSettings): string[] {
  return [
    'global',
    '    # Logs go to the container\'s stdout, one JSON line per connection (format in the frontend).',
    '    log stdout format raw local0',
    ...(s.maxConnections.global === 'auto'
      ? ['    # No maxconn: HAProxy derives it from its file-descriptor limit (about ulimit -n / 2).']
      : [
          '    # HAProxy must raise its file-descriptor limit to about 2 per connection or it will not start.',
          `    maxconn ${s.maxConnections.global}`,
        ]),
    ...(s.adminSocket === undefined ? [] : [`    stats socket ${s.adminSocket} mode 600 level admin`]),
    ...(s.hardStopAfter === undefined ? [] : [`    hard-stop-after ${t(s.hardStopAfter)}`]),
  ];
}

function defaultsSection(s: LoadBalancerSettings): string[] {
  const to = s.timeouts;
  return [
    'defaults',
    '    mode http',
    '    log global',
    '    option dontlognull',
    `    timeout connect ${t(to.connect)}`,
    `    timeout client ${t(to.client)}`,
    `    timeout server ${t(to.server)}`,
    '    # After the 101 upgrade only the tunnel timeout applies: an idle WebSocket lives this long.',
    '    # The replicas ping every client well within it, so only dead peers hit it.',
    `    timeout tunnel ${t(to.tunnel)}`,
    `    timeout client-fin ${t(to.clientFin)}`,
    `    timeout server-fin ${t(to.serverFin)}`,
    `    timeout http-request ${t(to.httpRequest)}`,
    `    timeout http-keep-alive ${t(to.httpKeepAlive)}`,
    `    timeout queue ${t(to.queue)}`,
    `    timeout check ${t(to.check)}`,
  ];
}

function resolversSection(b: DnsBackend): string[] {
  const r = b.resolver;
  return [
    `resolvers ${HAPROXY_NAMES.resolvers}`,
    ...r.nameservers.map((ns, i) => `    nameserver ns${i + 1} ${ns}`),
    '    resolve_retries 3',
    '    # Ask again every resolveInterval: a new replica is in the template within about a second.',
    `    timeout resolve ${t(r.resolveInterval)}`,
    '    timeout retry 1s',
    `    hold valid ${t(r.holdValid)}`,
    '    # A replica gone from DNS keeps its slot this long (its health checks fail meanwhile).',
    `    hold obsolete ${t(r.holdObsolete)}`,
    `    hold nx ${t(r.holdObsolete)}`,
    '    # DNS trouble (timeouts, refusals) keeps the last known replicas instead of dropping them.',
    '    hold other 30s',
    '    hold refused 30s',
    '    hold timeout 30s',
    '    # Large enough for dozens of A records in one UDP answer (EDNS0).',
    '    accepted_payload_size 8192',
  ];
}

/** The stats page's users: one, whose name and password HAProxy reads from its environment at start. */
function statsUsersSection(s: LoadBalancerSettings): string[] {
  const auth = s.stats.auth;
  if (auth === undefined) return [];
  return [
    `userlist ${HAPROXY_NAMES.statsUsers}`,
    '    # Expanded by HAProxy from its own environment: no credential is ever written into this file.',
    `    user "\${${auth.userEnv}}" insecure-password "\${${auth.passwordEnv}}"`,
  ];
}

function statsSection(s: LoadBalancerSettings): string[] {
  const st = s.stats;
  return [
    `frontend ${HAPROXY_NAMES.stats}`,
    `    bind ${hostPort(st.address, st.port)}`,
    '    no log',
    '    maxconn 200',
    '    # The health path answers before any rule: the container healthcheck needs no credentials.',
    `    monitor-uri ${st.healthPath}`,
    ...(st.auth === undefined
      ? []
      : [
          '    # The stats page and the Prometheus exporter need the generated credentials (basic auth).',
          `    http-request auth realm ws-fleet-stats unless { http_auth(${HAPROXY_NAMES.statsUsers}) }`,
        ]),
    `    http-request use-service prometheus-exporter if { path ${st.metricsPath} }`,
    '    stats enable',
    `    stats uri ${st.path}`,
    `    stats refresh ${t(st.refresh)}`,
    '    stats show-legends',
  ];
}

function frontendMaxconn(s: LoadBalancerSettings): string[] {
  const max = s.maxConnections.frontend ?? s.maxConnections.global;
  // Unset, a frontend takes the process-wide maxconn (the derived one under "auto").
  return max === 'auto' ? [] : [`    maxconn ${max}`];
}

/** The JSON body of the balancer's own 429 (the replicas' error shape). */
const RATE_LIMITED_BODY = '{"error":"rate_limited","message":"too many new connections from this address; retry later"}';

function rateLimitLines(s: LoadBalancerSettings): string[] {
  const limit = s.rateLimit.connectionsPerSourcePer10s;
  if (limit === 0) return [];
  return [
    `    # At most ${limit} new connections per source address per 10 s; past it, requests on new connections`,
    '    # get 429 with Retry-After. Tracked per connection, so open sockets are never touched.',
    `    stick-table type ip size ${s.rateLimit.trackedSources} expire 30s store conn_rate(10s)`,
    '    tcp-request connection track-sc0 src',
    `    http-request deny deny_status 429 content-type application/json string '${RATE_LIMITED_BODY}' hdr Retry-After 10 if { sc_conn_rate(0) gt ${limit} }`,
  ];
}

function frontendSection(s: LoadBalancerSettings): string[] {
  return [
    `frontend ${HAPROXY_NAMES.frontend}`,
    `    bind ${hostPort(s.frontend.address, s.frontend.port)}`,
    ...frontendMaxconn(s),
    ...rateLimitLines(s),
    '    # HAProxy appends the peer it sees to X-Forwarded-For; the replicas take the LAST entry (a client',
    '    # may send its own header, whose entries come first). Upgrade/Connection headers pass untouched:',
    '    # HAProxy switches the stream to a tunnel on the 101 and forwards frames as they are.',
    '    option forwardfor',
    `    log-format '${CONNECTION_LOG_FORMAT}'`,
    `    default_backend ${HAPROXY_NAMES.backend}`,
  ];
}

/**
 * Sticky = cookie insertion, not consistent hashing, because:
 *  - the key must exist on the first request: user ids live inside the JWT (Authorization header,
 *    ?token= or Sec-WebSocket-Protocol), which HAProxy cannot verify; hashing the raw token moves a
 *    user whenever the token is refreshed, and hashing the source address piles every client behind
 *    one NAT (or every test client on 127.0.0.1) onto one replica;
 *  - a cookie pins the exact replica, and scaling up moves nobody, whereas adding a server to a
 *    consistent-hash ring moves ~1/N of the clients;
 *  - browsers store Set-Cookie from the 101 upgrade response and send it on the next upgrade;
 *  - when the replica is down or draining (health check failing), HAProxy ignores the cookie,
 *    places the client by leastconn and issues a fresh cookie; option redispatch covers a replica
 *    that died before its checks noticed. The client sees no error either way.
 * `indirect` strips the cookie before it reaches the replica; `nocache` keeps shared caches from
 * storing a response that carries it. DNS-discovered replicas have no fixed names, so their cookie
 * value is HAProxy's dynamic cookie: a hash of the replica's address and the deployment's key.
 */
function stickyLines(s: LoadBalancerSettings): string[] {
  if (s.mode !== 'sticky') return [];
  const dynamic = s.backend.kind === 'dns';
  return [
    '    # Sticky: the 101 upgrade response carries a cookie naming the replica; a client that sends it',
    '    # back returns there while that replica is up and ready, and is placed by leastconn otherwise.',
    `    cookie ${s.sticky.cookieName} insert indirect nocache httponly${dynamic ? ' dynamic' : ''}`,
    ...(dynamic ? [`    dynamic-cookie-key ${s.sticky.dynamicCookieKey}`] : []),
  ];
}

function balanceLine(s: LoadBalancerSettings): string {
  // Sticky places a client's first connection (and any whose replica is gone) by leastconn.
  return `    balance ${s.mode === 'roundrobin' ? 'roundrobin' : 'leastconn'}`;
}

function serverLines(s: LoadBalancerSettings): string[] {
  const b = s.backend;
  if (b.kind === 'dns') return dnsServerLines(b);
  return staticServerLines(s, b);
}

function dnsServerLines(b: DnsBackend): string[] {
  return [
    `    # Up to ${b.slots} replicas, found by asking DNS for "${b.serviceName}" (Docker answers the network alias`,
    '    # with one A record per running replica). Empty slots wait in maintenance without an address;',
    `    # replicas past ${b.slots} are not routed to until a slot frees up or the template grows.`,
    `    server-template ${b.serverPrefix} 1-${b.slots} ${b.serviceName}:${b.port} resolvers ${HAPROXY_NAMES.resolvers} init-addr none resolve-prefer ipv4`,
  ];
}

function staticServerLines(s: LoadBalancerSettings, b: StaticBackend): string[] {
  const cookie = (name: string): string => (s.mode === 'sticky' ? ` cookie ${name}` : '');
  return b.servers.map((srv) => `    server ${srv.name} ${hostPort(srv.host, srv.port)}${cookie(srv.name)}`);
}

function backendSection(s: LoadBalancerSettings): string[] {
  const hc = s.healthCheck;
  return [
    `backend ${HAPROXY_NAMES.backend}`,
    balanceLine(s),
    ...stickyLines(s),
    '    # Retries go to another replica (redispatch on every retry): a connection refused by a replica',
    '    # that just died (or the one a sticky cookie names) lands elsewhere without an error.',
    '    option redispatch 1',
    `    retries ${s.retries}`,
    '    # Layer-7 retry: an upgrade answered 503 (a replica that began draining before its health check',
    '    # noticed, or one at MAX_CONNECTIONS) is replayed on another replica. Only GET/HEAD are replayed:',
    '    # a POST /send answered 503 may already have delivered to some connections.',
    '    retry-on conn-failure empty-response 503',
    '    http-request disable-l7-retry unless METH_GET',
    '    # Readiness: a replica answering anything but 200 (503 while it drains) gets no new connections',
    `    # within about interval + (fall - 1) * fastinter. Its open tunnels are left alone: no`,
    '    # "on-marked-down shutdown-sessions", so draining replicas close their own sockets (1012).',
    `    option httpchk GET ${hc.path}`,
    '    http-check expect status 200',
    '    # Passive checks at layer 4 only: a connect that fails (a removed container) takes the replica out at',
    '    # once, so the next retry does not pick it again before the active checks notice. The status code of',
    '    # an answer to a client never does: a client can provoke any status, and must not be able to take a',
    '    # replica out. The active check brings it back (rise) when /readyz answers 200 again.',
    `    default-server check inter ${t(hc.interval)} fastinter ${t(hc.fastInterval)} downinter ${t(hc.downInterval)} fall ${hc.fall} rise ${hc.rise} observe layer4 error-limit 1 on-error mark-down maxconn ${s.maxConnections.perServer}`,
    ...serverLines(s),
  ];
}

function header(s: LoadBalancerSettings): string[] {
  const b = s.backend;
  const backend = b.kind === 'dns' ? `dns "${b.serviceName}" (${b.slots} slots)` : `static (${b.servers.length} servers)`;
  return [
    '# haproxy.cfg rendered by ws-fleet loadbalancer/src (renderHaproxyConfig). Do not edit:',
    '# change the settings and render again. Valid on HAProxy 2.6 and 3.2.',
    `# mode: ${s.mode}; backend: ${backend}`,
  ];
}

/**
 * Renders haproxy.cfg. Accepts raw settings (validated here; throws LoadBalancerSettingsError naming the
 * bad field and value) or settings already returned by parseLoadBalancerSettings.
 */
export function renderHaproxyConfig(input: LoadBalancerSettingsInput): string {
  const s = parseLoadBalancerSettings(input);
  const sections: string[][] = [header(s), globalSection(s), defaultsSection(s)];
  if (s.backend.kind === 'dns') sections.push(resolversSection(s.backend));
  if (s.stats.auth !== undefined) sections.push(statsUsersSection(s));
  sections.push(statsSection(s), frontendSection(s), backendSection(s));
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}
