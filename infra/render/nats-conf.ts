/**
 * Renders nats-server's configuration for one node of a JetStream cluster.
 *
 * Pure: the same options give the same text. No secret is ever written into the file:
 * client and route credentials are references to environment variables (`$NATS_USER`), which
 * nats-server resolves from its own environment at start-up.
 */
import { z } from 'zod';

const nodeName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" only (1-64)');
const port = z.number().int().min(1).max(65535);
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, "_")');
const credentialsEnv = z.object({ user: envName, password: envName });
const routeUrl = z.string().regex(/^nats:\/\/[A-Za-z0-9.-]+:\d+$/, 'nats://host:port');

export const natsNodeOptionsSchema = z.object({
  serverName: nodeName,
  clusterName: nodeName,
  host: z.string().min(1).default('0.0.0.0'),
  clientPort: port.default(4222),
  clusterPort: port.default(6222),
  /** HTTP monitoring (healthz, varz, jsz): unauthenticated in nats-server, so bound inside the container. */
  monitorHost: z.string().min(1).default('127.0.0.1'),
  monitorPort: port.default(8222),
  /**
   * Cluster routes, authenticated both ways: this node accepts a route only with the route credentials
   * (`authorization` in the cluster block), and dials its peers with URLs carrying them. Those URLs are
   * secrets, so the file only names the environment variable holding them (`routesEnv`, a list such as
   * `["nats://user:pass@peer:6222"]`: see formatRoutesValue). Omitted: a single node, no cluster.
   */
  cluster: z.object({ routesEnv: envName, authEnv: credentialsEnv }).optional(),
  storeDir: z.string().min(1),
  /** Names of environment variables holding the client user and password; omit for no client auth. */
  authEnv: credentialsEnv.optional(),
  maxPayloadBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  jetstreamMaxMemoryBytes: z.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
  jetstreamMaxFileBytes: z.number().int().min(1024 * 1024).default(2 * 1024 * 1024 * 1024),
});

export type NatsNodeOptions = z.input<typeof natsNodeOptionsSchema>;

function fail(error: z.ZodError): never {
  const issue = error.issues[0];
  const path = issue?.path.join('.') ?? '?';
  throw new Error(`nats config: invalid ${path}: ${issue?.message ?? 'invalid value'}`);
}

/**
 * The value of the routes environment variable: the peers' route URLs with the route credentials in them.
 * `user` and `password` may be the secrets themselves or expressions resolved later (Terraform's
 * `${var.…}`); generated credentials are letters and digits, so they need no URL escaping.
 */
export function formatRoutesValue(routes: readonly string[], user: string, password: string): string {
  const parsed = z.array(routeUrl).min(1, 'at least one route').safeParse(routes);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`nats config: invalid routes${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`);
  }
  return JSON.stringify(parsed.data.map((r) => r.replace('nats://', `nats://${user}:${password}@`)));
}

/** Route pings: a route whose peer has not answered ROUTE_PINGS_MAX pings, ROUTE_PING_INTERVAL apart, is dropped (4-6 s). */
export const ROUTE_PING_INTERVAL = '2s';
export const ROUTE_PINGS_MAX = 2;

export function renderNatsConfig(input: NatsNodeOptions): string {
  const parsed = natsNodeOptionsSchema.safeParse(input);
  if (!parsed.success) fail(parsed.error);
  const o = parsed.data;
  const lines: string[] = [
    `# Rendered by ws-fleet (infra/render/nats-conf.ts). Do not edit by hand.`,
    `server_name: ${JSON.stringify(o.serverName)}`,
    `host: ${JSON.stringify(o.host)}`,
    `port: ${o.clientPort}`,
    `http: ${JSON.stringify(`${o.monitorHost}:${o.monitorPort}`)}`,
    `max_payload: ${o.maxPayloadBytes}`,
    '',
    'jetstream {',
    `  store_dir: ${JSON.stringify(o.storeDir)}`,
    `  max_memory_store: ${o.jetstreamMaxMemoryBytes}`,
    `  max_file_store: ${o.jetstreamMaxFileBytes}`,
    '}',
  ];
  if (o.authEnv) {
    lines.push('', 'authorization {', `  user: $${o.authEnv.user}`, `  password: $${o.authEnv.password}`, '}');
  }
  if (o.cluster) {
    lines.push(
      '',
      'cluster {',
      `  name: ${JSON.stringify(o.clusterName)}`,
      `  host: ${JSON.stringify(o.host)}`,
      `  port: ${o.clusterPort}`,
      '  authorization {',
      `    user: $${o.cluster.authEnv.user}`,
      `    password: $${o.cluster.authEnv.password}`,
      '  }',
      `  routes: $${o.cluster.routesEnv}`,
      // A node cut off without a reset (a partition) keeps its routes up in the others' view until
      // their pings go unanswered; by default that is 30 s × 2, and meanwhile requests and deliveries
      // routed to it vanish (a third of direct gets chose it: 5 s replays in the chaos run).
      `  ping_interval: "${ROUTE_PING_INTERVAL}"`,
      `  ping_max: ${ROUTE_PINGS_MAX}`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
