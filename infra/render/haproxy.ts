/**
 * Adapter from the deployment's settings to loadbalancer/'s haproxy.cfg renderer.
 * TEMPORARY placeholder until loadbalancer/src/index.ts exports renderHaproxyConfig.
 */
import type { Settings } from '../settings.js';
import { wsServiceAlias } from '../names.js';

export interface BalancerConfig {
  readonly config: string;
  readonly frontendPort: number;
  readonly statsPort: number;
  readonly statsPath: string;
}

export function renderBalancerConfig(settings: Settings): BalancerConfig {
  const config = `global\n  log stdout format raw local0\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  timeout tunnel 1h\nresolvers docker\n  nameserver dns 127.0.0.11:53\nfrontend fe\n  bind :8080\n  default_backend be\nbackend be\n  balance ${settings.lbMode === 'sticky' ? 'roundrobin' : settings.lbMode}\n  server-template ws 64 ${wsServiceAlias(settings.prefix)}:8080 check resolvers docker init-addr none\nlisten stats\n  bind :8404\n  stats enable\n  stats uri /stats\n`;
  return { config, frontendPort: 8080, statsPort: 8404, statsPath: '/stats' };
}
