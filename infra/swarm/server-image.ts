/**
 * The server image on Swarm: the docker engine lets the provider build it on the one host; on a swarm
 * the deploy command builds it on the manager before the apply (every node must hold it, or pull it from
 * the registry), under the same name and content-hash tag the docker engine uses.
 */
import { serverImageRepository } from '../names.js';

export function serverImageTag(prefix: string, contextHash: string): string {
  return `${serverImageRepository(prefix)}:${contextHash.slice(0, 12)}`;
}
