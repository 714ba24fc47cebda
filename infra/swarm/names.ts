/**
 * Swarm object names. Services keep the names the docker engine gives its containers (infra/names.ts),
 * so the same DNS names (`<prefix>-nats-<n>`, `<prefix>-ws`) reach the same components on both engines.
 */
import { createHash } from 'node:crypto';
import { balancerContainerName, natsContainerName, wsServiceAlias } from '../names.js';

export const natsServiceName = natsContainerName;
/** The replicated ws service; with endpoint mode dnsrr its name (and `tasks.<name>`) resolves to every task. */
export const wsServiceName = wsServiceAlias;
export const balancerServiceName = balancerContainerName;

/** `<prefix>-ws-{{.Task.Slot}}`: Swarm expands the template per task, so each replica's SERVER_ID is unique. */
export const wsTaskName = (prefix: string): string => `${wsServiceName(prefix)}-{{.Task.Slot}}`;

/**
 * A docker_config name carrying a hash of its content: Swarm configs are immutable, so a changed file
 * is a new config (created before the old one is removed) and the service that mounts it rolls.
 */
export function contentNamedConfig(base: string, content: string): string {
  return `${base}-${createHash('sha256').update(content).digest('hex').slice(0, 12)}`;
}
