/**
 * Connects to the NATS cluster and creates (or finds, and brings to this version's settings) what
 * the fleet keeps there: the KV buckets (presence, heartbeats, cursors) and the two message
 * streams (WSF_INBOX, WSF_ROOMS). Creation is idempotent: whichever replica comes first creates,
 * the others find them.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Server } from '@nats-io/nats-core';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { JetStreamApiCodes, jetstreamManager, type StreamConfig, type StreamInfo } from '@nats-io/jetstream';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { isApiError } from './nats-errors.js';
import { BUCKET_MAX_BYTES } from './store-capacity.js';
import { streamEpoch } from './stream-epoch.js';
import { buckets, streams } from './subjects.js';

/**
 * How long a dial may take to get the node's INFO. nats.js waits 20 s by default: a node cut off
 * by a partition, or frozen, can still complete the TCP handshake (the kernel does it) and then
 * says nothing. A live node answers in milliseconds.
 */
export const DIAL_TIMEOUT_MS = 3_000;

/**
 * The node to dial next: the one dialled longest ago (never dialled counts as longest). nats.js on
 * its own dials its pool's first entry, which after the first connect is the node just left, so a
 * replica that left a silent node went straight back to it and waited out the dial timeout.
 */
export function leastRecentlyDialled(pool: ReadonlyArray<Server>): Server | null {
  let best: Server | null = null;
  for (const s of pool) if (best === null || s.lastConnect < best.lastConnect) best = s;
  return best;
}

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
    timeout: DIAL_TIMEOUT_MS,
    reconnectToServer: leastRecentlyDialled,
    // A NATS node cut off by a partition (no RST, packets dropped) is noticed by missing pongs only:
    // 1.5 s × 2 outstanding pings moves the replica to another node within ~3-4.5 s (it was 5 s × 2:
    // 10-15 s of stalled publishes, the chaos run's partition cost, docs/chaos.md). Anything waiting
    // on NATS makes nats-liveness.ts probe sooner.
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
 * heartbeat stops (presence.ts, on fleet-membership.ts's word), and an age could drop a long-lived connection's entry.
 */
export function bucketLimits(config: Config): Record<'presence' | 'replicas' | 'cursors', Partial<KvOptions>> {
  const replicas = jetStreamReplicas(config);
  const common = { history: 1, replicas, maxValueSize: 1024 };
  return {
    presence: { ...common, max_bytes: BUCKET_MAX_BYTES.presence, description: 'ws-fleet: user.server -> where user sockets are' },
    replicas: { ...common, max_bytes: BUCKET_MAX_BYTES.replicas, ttl: 60_000, description: 'ws-fleet: replica heartbeats' },
    // A cursor older than the history it points into is of no use.
    cursors: { ...common, max_bytes: BUCKET_MAX_BYTES.cursors, ttl: config.history.maxAgeSec * 1000, description: 'ws-fleet: user -> last inbox seq delivered' },
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
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
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

/** The stream settings this version needs; a stream created by an older version is updated to them. */
export function streamSettings(config: Config, replicas: number): Partial<StreamConfig> {
  const maxAgeNs = config.history.maxAgeSec * 1_000_000_000;
  return {
    num_replicas: replicas,
    max_age: maxAgeNs,
    max_msgs_per_subject: config.history.maxMsgsPerUser,
    max_bytes: config.history.maxBytes,
    // Full means full: refuse the new message rather than evict an acknowledged one.
    discard: 'new',
    discard_new_per_subject: true,
    // Within this window an append with a Nats-Msg-Id already stored is answered "duplicate".
    duplicate_window: Math.min(config.durability.duplicateWindowSec * 1_000_000_000, maxAgeNs),
    allow_direct: true,
    storage: 'file',
  };
}

/** The settings of `wanted` that `actual` does not have, as "field: actual → wanted". */
export function settingsDiff(actual: Partial<StreamConfig>, wanted: Partial<StreamConfig>): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(wanted)) {
    const have = (actual as Record<string, unknown>)[key];
    if (have !== value) out.push(`${key}: ${JSON.stringify(have)} -> ${JSON.stringify(value)}`);
  }
  return out;
}

/**
 * Creates or updates both message streams (idempotent: whichever replica comes first). A stream
 * that exists with other settings (an older version's `discard: old`) is updated; when the update
 * is refused, start-up stops with the differences named, rather than run on a stream that could
 * evict acknowledged messages. Returns the streams' epoch (stream-epoch.ts).
 */
export async function openStreams(nc: NatsConnection, config: Config, log: Logger): Promise<string> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const common = streamSettings(config, jetStreamReplicas(config));
  const created: string[] = [];
  for (const [name, subjects] of [[streams.inbox, ['inbox.*']], [streams.rooms, ['roomlog.*']]] as const) {
    // Rooms: a namespace that keeps history for less than the stream's max age gives its messages a TTL.
    const cfg = { ...common, name, subjects: [...subjects], ...(name === streams.rooms ? { allow_msg_ttl: true } : {}) };
    try {
      created.push((await jsm.streams.add(cfg)).created);
      continue;
    } catch (addErr) {
      // Exists already (another replica was first, or an older version made it): bring it to ours.
      let current: StreamInfo;
      try {
        current = await jsm.streams.info(name);
      } catch {
        throw new Error(`cannot create JetStream stream ${name}: ${(addErr as Error).message}`, { cause: addErr });
      }
      created.push(current.created);
      const diff = settingsDiff(current.config, cfg);
      if (diff.length === 0) continue;
      try {
        await jsm.streams.update(name, cfg);
        log.info({ stream: name, changed: diff }, 'stream settings updated');
      } catch (updateErr) {
        throw new Error(`JetStream stream ${name} exists with other settings and could not be updated (${(updateErr as Error).message}): ${diff.join('; ')}`, { cause: updateErr });
      }
    }
  }
  return streamEpoch(created);
}
