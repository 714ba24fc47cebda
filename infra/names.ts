/**
 * Docker object names, derived from the deployment prefix. Scripts, tests and the k6 wrappers rely on
 * these names, so they are defined once here.
 */
export const networkName = (prefix: string): string => `${prefix}-net`;
export const natsContainerName = (prefix: string, n: number): string => `${prefix}-nats-${n}`;
export const natsVolumeName = (prefix: string, n: number): string => `${prefix}-nats-${n}-data`;
export const wsContainerName = (prefix: string, n: number): string => `${prefix}-ws-${n}`;
/** The network alias every replica carries: the DNS name the balancer resolves to find them. */
export const wsServiceAlias = (prefix: string): string => `${prefix}-ws`;
export const balancerContainerName = (prefix: string): string => `${prefix}-lb`;
export const serverImageRepository = (prefix: string): string => `${prefix}-server`;

/** Label put on every Docker object the stack creates, valued with the prefix (for audits and leftovers checks). */
export const PREFIX_LABEL = 'io.ws-fleet.prefix';
