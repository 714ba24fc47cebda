/**
 * Connects to the NATS cluster and opens (creating when first) the KV buckets the fleet uses.
 * Creation is idempotent: whichever replica comes first creates, the others find them.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import type { Config } from './config.js';
import { buckets } from './subjects.js';

export async function connectNats(config: Config): Promise<NatsConnection> {
  return connect({
    servers: config.nats.servers,
    ...(config.nats.user === undefined ? {} : { user: config.nats.user, pass: config.nats.pass }),
    name: config.serverId,
    noEcho: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    waitOnFirstConnect: true,
    pingInterval: 5_000,
    maxPingOut: 2,
    // nats.js otherwise builds an Error (with a stack trace) in advance for every request and
    // timer, in case it fails: ~15 % of a replica's CPU at 1k messages/s (docs/benchmarks.md).
    noAsyncTraces: true,
  });
}

/** JetStream replicas for our buckets: as many as the cluster has nodes (3), or 1 on a single node. */
export function jetStreamReplicas(config: Config): number {
  if (config.history.replicas !== 'auto') return config.history.replicas;
  return config.nats.servers.length >= 3 ? 3 : 1;
}

async function openBucket(kvm: Kvm, name: string, opts: Partial<KvOptions>): Promise<KV> {
  try {
    return await kvm.create(name, opts);
  } catch {
    // Created meanwhile by another replica with a slightly different config: use what is there.
    return kvm.open(name);
  }
}

export async function openBuckets(nc: NatsConnection, config: Config): Promise<{ presence: KV; replicas: KV; cursors: KV }> {
  const kvm = new Kvm(nc);
  const replicas = jetStreamReplicas(config);
  const presence = await openBucket(kvm, buckets.presence, { history: 1, replicas, description: 'ws-fleet: user.server -> where user sockets are' });
  const heartbeats = await openBucket(kvm, buckets.replicas, { history: 1, replicas, ttl: 60_000, description: 'ws-fleet: replica heartbeats' });
  const cursors = await openBucket(kvm, buckets.cursors, { history: 1, replicas, ttl: config.history.maxAgeSec * 1000, description: 'ws-fleet: user -> last inbox seq delivered' });
  return { presence, replicas: heartbeats, cursors };
}
