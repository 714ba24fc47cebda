/**
 * What the fleet stores in JetStream, in bytes: the history's default window and cap, and the KV
 * buckets' caps. One JetStream node that holds a replica of everything reserves their sum
 * (`jetstreamReservationBytes`), so the deployment sizes each node's file store from it (infra).
 *
 * The history's default is a window, not a mailbox: an hour, which one stream's 1 GiB holds at the
 * rated sustained rate. A stored direct message of the load runner's shape (64 B of padding, ids of
 * ~20 characters) takes 419 B with its headers and the store's own framing (measured with the real
 * nats-server: tests/unit/infra/nats-store.with-nats-server.test.ts): 1 GiB / 419 B / 3600 s ≈ 710
 * messages a second into one stream, sustained, before a full stream refuses (discard new). The
 * earlier default, a day in 256 MiB, held 7 a second: the 30-minute soak's 450 direct messages a
 * second filled it after about 23 minutes, and every direct send was refused from then on.
 */
export const HISTORY_DEFAULTS = {
  maxAgeSec: 3600,
  /** Per stream (WSF_INBOX, WSF_ROOMS). */
  maxBytes: 1024 ** 3,
} as const;

/** The KV buckets' byte caps (nats-setup.ts bucketLimits): KV buckets refuse writes when full, they never evict. */
export const BUCKET_MAX_BYTES = {
  // ~100 bytes per (user, replica): room for ~300k connected users.
  presence: 32 * 1024 * 1024,
  replicas: 1024 * 1024,
  // ~120 bytes per user.
  cursors: 64 * 1024 * 1024,
} as const;

/** The message streams: each is capped at the history's max bytes. */
const MESSAGE_STREAMS = 2;

/** What one JetStream node holding a replica of both streams and every bucket reserves in its file store. */
export function jetstreamReservationBytes(historyMaxBytes: number): number {
  return MESSAGE_STREAMS * historyMaxBytes + Object.values(BUCKET_MAX_BYTES).reduce((a, b) => a + b, 0);
}
