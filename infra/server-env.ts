/**
 * The server's environment contract as the infra renders it: one builder for both engines' replicas
 * (server/src/config.ts parses and validates the same names at start). Secrets arrive as Terraform
 * expressions (sensitive variables), never as values.
 */
import type { Namespaces } from './settings.js';
import { terraformLiteral } from './render/terraform-literal.js';

export interface ServerEnvInput {
  readonly serverId: string;
  readonly port: number;
  readonly natsUrls: readonly string[];
  readonly natsUser: string;
  readonly natsPassword: string;
  readonly authSecret: string;
  readonly serverApiKey: string;
  readonly namespaces: Namespaces;
  readonly tokenMaxLifetimeSec: number;
  readonly metricsPort: number;
  readonly drainWindowMs: number;
  readonly maxConnections: number;
  readonly logLevel: string;
}

/** Variable name → value, in a stable order. */
export function serverEnvironment(i: ServerEnvInput): Record<string, string> {
  return {
    SERVER_ID: i.serverId,
    PORT: String(i.port),
    HOST: '0.0.0.0',
    NATS_URLS: i.natsUrls.join(','),
    NATS_USER: i.natsUser,
    NATS_PASSWORD: i.natsPassword,
    AUTH_SECRET: i.authSecret,
    SERVER_API_KEY: i.serverApiKey,
    // Room namespaces and their permissions (JSON; escaped so Terraform keeps it literal).
    NAMESPACES: terraformLiteral(JSON.stringify(i.namespaces)),
    TOKEN_MAX_LIFETIME_SEC: String(i.tokenMaxLifetimeSec),
    // Prometheus /metrics: reachable on the fleet network (or with docker exec), never routed by the balancer.
    METRICS_PORT: String(i.metricsPort),
    DRAIN_WINDOW_MS: String(i.drainWindowMs),
    MAX_CONNECTIONS: String(i.maxConnections),
    LOG_LEVEL: i.logLevel,
  };
}

/** The same as Docker's `KEY=value` list. */
export function serverEnvironmentList(i: ServerEnvInput): string[] {
  return Object.entries(serverEnvironment(i)).map(([k, v]) => `${k}=${v}`);
}
