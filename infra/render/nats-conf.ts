/**
 * Renders nats-server's configuration for one node of a JetStream cluster.
 *
 * Pure: the same options give the same text. No secret is ever written into the file:
 * client credentials are references to environment variables (`$NATS_USER`), which
 * nats-server resolves from its own environment at start-up.
 */
import { z } from 'zod';

const nodeName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" only (1-64)');
const port = z.number().int().min(1).max(65535);

export const natsNodeOptionsSchema = z.object({
  serverName: nodeName,
  clusterName: nodeName,
  host: z.string().min(1).default('0.0.0.0'),
  clientPort: port.default(4222),
  clusterPort: port.default(6222),
  monitorPort: port.default(8222),
  /** Routes to every node of the cluster (this node's own route is allowed and ignored by nats-server). */
  routes: z.array(z.string().regex(/^nats:\/\/[^\s"]+:\d+$/, 'nats://host:port')).default([]),
  storeDir: z.string().min(1),
  /** Names of environment variables holding the client user and password; omit for no client auth. */
  authEnv: z.object({ user: z.string().regex(/^[A-Z_][A-Z0-9_]*$/), password: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }).optional(),
  maxPayloadBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  jetstreamMaxMemoryBytes: z.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
  jetstreamMaxFileBytes: z.number().int().min(1024 * 1024).default(2 * 1024 * 1024 * 1024),
});

export type NatsNodeOptions = z.input<typeof natsNodeOptionsSchema>;

export function renderNatsConfig(input: NatsNodeOptions): string {
  const parsed = natsNodeOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '?';
    throw new Error(`nats config: invalid ${path}: ${issue?.message ?? 'invalid value'}`);
  }
  const o = parsed.data;
  const lines: string[] = [
    `# Rendered by ws-fleet (infra/render/nats-conf.ts). Do not edit by hand.`,
    `server_name: ${JSON.stringify(o.serverName)}`,
    `host: ${JSON.stringify(o.host)}`,
    `port: ${o.clientPort}`,
    `http_port: ${o.monitorPort}`,
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
  if (o.routes.length > 0) {
    lines.push(
      '',
      'cluster {',
      `  name: ${JSON.stringify(o.clusterName)}`,
      `  host: ${JSON.stringify(o.host)}`,
      `  port: ${o.clusterPort}`,
      '  routes: [',
      ...o.routes.map((r) => `    ${JSON.stringify(r)}`),
      '  ]',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
