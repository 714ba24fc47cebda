/**
 * ws-fleet's HAProxy configuration: typed settings in, haproxy.cfg out.
 *
 *   import { renderHaproxyConfig } from '../loadbalancer/src/index.js';
 *   const cfg = renderHaproxyConfig({ mode: 'sticky', frontend: { address: '0.0.0.0', port: 8080 },
 *     stats: { address: '0.0.0.0', port: 8404 }, backend: { kind: 'dns', serviceName: 'ws' } });
 */
export { renderHaproxyConfig, HAPROXY_NAMES } from './render.js';
export {
  parseLoadBalancerSettings,
  requiredOpenFiles,
  loadBalancerSettingsSchema,
  LoadBalancerSettingsError,
  LB_MODES,
  DEFAULT_LB_MODE,
  DOCKER_DNS,
  type LbMode,
  type LoadBalancerSettings,
  type LoadBalancerSettingsInput,
  type DnsBackend,
  type StaticBackend,
  type StaticServer,
} from './settings.js';
export { MODE_GUIDE, renderModeComparison, type ModeGuide } from './modes.js';
export { CONNECTION_LOG_FORMAT, CONNECTION_LOG_FIELDS, parseConnectionLogLine, type ConnectionLogLine } from './log-format.js';
export { parseHaproxySections, findSection, type HaproxySection } from './sections.js';
export { formatDuration, parseDurationMs } from './duration.js';
