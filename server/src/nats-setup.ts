/**
 * Connects to the NATS cluster and opens (creating when first) the KV buckets the fleet uses.
 * Creation is idempotent: whichever replica comes first creates, the others find them.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type StreamConfig } from '@nats-io/jetstream';
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
    // A NATS node cut off by a partition (no RST, packets dropped) is noticed by missing pongs only:
    // 1.5 s × 2 outstanding pings moves the replica to another node within ~3-4.5 s (it was 5 s × 2:
    // 10-15 s of stalled publishes, the chaos run's partition cost, docs/chaos.md).
    pingInterval: 1_500,
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

/**
 * Every bucket is bounded: a cap on its bytes (KV buckets refuse writes when full, they never
 * evict), on one value's size, one value per key (history 1), and an age after which unused keys
 * go. The presence bucket has no age: its keys are removed when users leave and when a replica's
 * heartbeat stops (presence.ts), and an age could drop a long-lived connection's entry.
 */
export function bucketLimits(config: Config): Record<'presence' | 'replicas' | 'cursors', Partial<KvOptions>> {
  const replicas = jetStreamReplicas(config);
  const common = { history: 1, replicas, maxValueSize: 1024 };
  return {
    // ~100 bytes per (user, replica): room for ~300k connected users.
    presence: { ...common, max_bytes: 32 * 1024 * 1024, description: 'ws-fleet: user.server -> where user sockets are' },
    replicas: { ...common, max_bytes: 1024 * 1024, ttl: 60_000, description: 'ws-fleet: replica heartbeats' },
    // ~120 bytes per user; a cursor older than the history it points into is of no use.
    cursors: { ...common, max_bytes: 64 * 1024 * 1024, ttl: config.history.maxAgeSec * 1000, description: 'ws-fleet: user -> last inbox seq delivered' },
  };
}

async function openBucket(nc: NatsConnection, kvm: Kvm, name: string, opts: Partial<KvOptions>): Promise<KV> {
  let kv: KV;
  try {
    kv = await kvm.create(name, opts);
  } catch {
    // Created meanwhile by another replica with a slightly different config: use what is there.
    kv = await kvm.open(name);
  }
  // create() binds to a bucket that exists without changing it: an older version's has no limits.
  await boundExisting(nc, name, opts);
  return kv;
}

/** Brings an existing bucket's stream to our limits (an older version's buckets had none). */
async function boundExisting(nc: NatsConnection, name: string, opts: Partial<KvOptions>): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const stream = `KV_${name}`;
  let config: StreamConfig | undefined;
  for (let attempt = 0; config === undefined; attempt++) {
    try {
      config = (await jsm.streams.info(stream)).config;
    } catch (err) {
      // Another replica is creating it right now (with these limits): wait for it, briefly.
      if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
      if (attempt >= 10) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const wanted: Partial<StreamConfig> = {
    max_bytes: opts.max_bytes ?? -1,
    max_msg_size: opts.maxValueSize ?? -1,
    max_msgs_per_subject: opts.history ?? 1,
    max_age: (opts.ttl ?? 0) * 1_000_000,
  };
  const changed = Object.entries(wanted).filter(([k, v]) => (config as unknown as Record<string, unknown>)[k] !== v);
  if (changed.length === 0) return;
  await jsm.streams.update(stream, { ...config, ...wanted });
}

export async function openBuckets(nc: NatsConnection, config: Config): Promise<{ presence: KV; replicas: KV; cursors: KV }> {
  const kvm = new Kvm(nc);
  const limits = bucketLimits(config);
  const presence = await openBucket(nc, kvm, buckets.presence, limits.presence);
  const heartbeats = await openBucket(nc, kvm, buckets.replicas, limits.replicas);
  const cursors = await openBucket(nc, kvm, buckets.cursors, limits.cursors);
  return { presence, replicas: heartbeats, cursors };
}
