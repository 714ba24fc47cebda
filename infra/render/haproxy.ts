/**
 * Adapter from the deployment's settings to loadbalancer/'s renderer: HAProxy inside the balancer
 * container listens on fixed ports (Docker publishes them on the bind address) and finds the replicas
 * by asking Docker's DNS for their shared network alias, with one server slot per allowed replica.
 * Nothing here depends on the replica count, so scaling never changes (or replaces) the balancer.
 */
import { renderHaproxyConfig } from '../../loadbalancer/src/index.js';
import type { Settings } from '../settings.js';
import { MAX_REPLICAS } from '../settings.js';
import { wsServiceAlias } from '../names.js';
import { WS_PORT } from '../constructs/ws-pool.js';

/** Ports HAProxy binds inside its container. */
export const BALANCER_FRONTEND_PORT = 8080;
export const BALANCER_STATS_PORT = 8404;
const STATS_PATH = '/stats';
const HEALTH_PATH = '/healthz';
/** The balancer container's environment variables holding the stats credentials (HAProxy expands them). */
export const STATS_CREDENTIAL_ENV = { user: 'LB_STATS_USER', password: 'LB_STATS_PASSWORD' } as const;

export interface BalancerConfig {
  readonly config: string;
  readonly frontendPort: number;
  readonly statsPort: number;
  readonly statsPath: string;
  /** Answers 200 on the stats port while HAProxy runs (the container healthcheck's target). */
  readonly healthPath: string;
}

export function renderBalancerConfig(settings: Settings): BalancerConfig {
  const config = renderHaproxyConfig({
    mode: settings.lbMode,
    frontend: { address: '0.0.0.0', port: BALANCER_FRONTEND_PORT },
    stats: {
      address: '0.0.0.0',
      port: BALANCER_STATS_PORT,
      path: STATS_PATH,
      healthPath: HEALTH_PATH,
      auth: { userEnv: STATS_CREDENTIAL_ENV.user, passwordEnv: STATS_CREDENTIAL_ENV.password },
    },
    rateLimit: { connectionsPerSourcePer10s: settings.lbConnRatePerSourcePer10s },
    backend: { kind: 'dns', serviceName: wsServiceAlias(settings.prefix), port: WS_PORT, slots: MAX_REPLICAS },
    // The dynamic-cookie key only makes sticky cookie values unguessable; it authenticates nothing
    // (a client may land on any replica anyway), so a per-deployment, non-secret value is enough and
    // keeps every secret out of the synthesized configuration.
    sticky: { dynamicCookieKey: `${settings.prefix}-sticky-routing` },
  });
  return {
    config,
    frontendPort: BALANCER_FRONTEND_PORT,
    statsPort: BALANCER_STATS_PORT,
    statsPath: STATS_PATH,
    healthPath: HEALTH_PATH,
  };
}
