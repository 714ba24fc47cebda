/**
 * The server's environment contract, built in this one place: the deployment's replicas (both engines),
 * the test kit's replica processes (tests/support/replica.ts) and the bench's (bench/lib/fleet.ts) take
 * their variables from `serverEnvironment`. server/src/config.ts parses and validates the same names at
 * start. In a deployment the secrets arrive as Terraform expressions (sensitive variables), never as values.
 */
import type { Namespaces, Settings } from './settings.js';
import type { SecretReferences } from './secret-variables.js';
import { terraformLiteral } from './render/terraform-literal.js';

export interface ServerEnvInput {
  readonly serverId: string;
  readonly port: number;
  /** Address to listen on (default 0.0.0.0, every address of the container). */
  readonly host?: string;
  readonly natsUrls: readonly string[];
  readonly natsUser?: string;
  readonly natsPassword?: string;
  readonly authSecret: string;
  readonly serverApiKey?: string;
  /** Room namespaces and their permissions (NAMESPACES, JSON). */
  readonly namespaces?: Namespaces;
  readonly tokenMaxLifetimeSec?: number;
  /** Prometheus /metrics: reachable on the fleet network (or with docker exec), never routed by the balancer. */
  readonly metricsPort?: number;
  readonly drainWindowMs?: number;
  readonly maxConnections?: number;
  readonly logLevel?: string;
  /** Direct messages' delivery class (DIRECT_DELIVERY). */
  readonly directDelivery?: 'durable' | 'volatile';
  /** Cap of the history streams (HISTORY_MAX_BYTES); a deployment keeps the server's default. */
  readonly historyMaxBytes?: number;
}

/**
 * What a deployment always sets for its replicas (everything but the per-replica id and the fixed port);
 * the credentials are Terraform expressions (sensitive variables).
 */
export type ReplicaEnvSettings = Required<Omit<ServerEnvInput, 'serverId' | 'port' | 'host' | 'historyMaxBytes'>>;

/** The ReplicaEnvSettings fields of a construct's props. */
export function pickReplicaEnv(p: ReplicaEnvSettings): ReplicaEnvSettings {
  return {
    natsUrls: p.natsUrls, natsUser: p.natsUser, natsPassword: p.natsPassword, authSecret: p.authSecret, serverApiKey: p.serverApiKey,
    namespaces: p.namespaces, tokenMaxLifetimeSec: p.tokenMaxLifetimeSec, metricsPort: p.metricsPort, drainWindowMs: p.drainWindowMs,
    maxConnections: p.maxConnections, logLevel: p.logLevel, directDelivery: p.directDelivery,
  };
}

/** A deployment's ReplicaEnvSettings: its settings, its secrets' Terraform references and its NATS client URLs (both engines' stacks). */
export function replicaEnvFromSettings(s: Settings, secrets: SecretReferences, natsUrls: readonly string[]): ReplicaEnvSettings {
  return {
    natsUrls, natsUser: secrets.natsUser, natsPassword: secrets.natsPassword, authSecret: secrets.authSecret, serverApiKey: secrets.serverApiKey,
    namespaces: s.namespaces, tokenMaxLifetimeSec: s.tokenMaxLifetimeSec, metricsPort: s.metricsPort, drainWindowMs: s.drainWindowMs,
    maxConnections: s.maxConnections, logLevel: s.logLevel, directDelivery: s.directDelivery,
  };
}

/** Variable name → value, in a stable order; a field left out is left to the server's default. */
export function serverEnvironment(i: ServerEnvInput): Record<string, string> {
  const env: Record<string, string> = {
    SERVER_ID: i.serverId,
    PORT: String(i.port),
    HOST: i.host ?? '0.0.0.0',
    NATS_URLS: i.natsUrls.join(','),
  };
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined) env[name] = String(value);
  };
  set('NATS_USER', i.natsUser);
  set('NATS_PASSWORD', i.natsPassword);
  env['AUTH_SECRET'] = i.authSecret;
  set('SERVER_API_KEY', i.serverApiKey);
  set('NAMESPACES', i.namespaces === undefined ? undefined : JSON.stringify(i.namespaces));
  set('TOKEN_MAX_LIFETIME_SEC', i.tokenMaxLifetimeSec);
  set('METRICS_PORT', i.metricsPort);
  set('DRAIN_WINDOW_MS', i.drainWindowMs);
  set('MAX_CONNECTIONS', i.maxConnections);
  set('LOG_LEVEL', i.logLevel);
  set('DIRECT_DELIVERY', i.directDelivery);
  set('HISTORY_MAX_BYTES', i.historyMaxBytes);
  return env;
}

/** The same for a Terraform resource: NAMESPACES escaped so Terraform keeps its JSON literal. */
export function terraformServerEnvironment(i: ServerEnvInput): Record<string, string> {
  const env = serverEnvironment(i);
  if (env['NAMESPACES'] !== undefined) env['NAMESPACES'] = terraformLiteral(env['NAMESPACES']);
  return env;
}

/** The same as Docker's `KEY=value` list. */
export function terraformServerEnvironmentList(i: ServerEnvInput): string[] {
  return Object.entries(terraformServerEnvironment(i)).map(([k, v]) => `${k}=${v}`);
}
