/**
 * Each NATS node's JetStream limits, for both engines. The file store holds a replica of everything
 * the replicas create at the server's default history cap (server/src/store-capacity.ts), plus room
 * for the store's own files; a node whose store is smaller than what the streams reserve refuses to
 * create them ("insufficient storage resources"). Memory is for the store's caches: no stream keeps
 * its messages in memory.
 */
import { HISTORY_DEFAULTS, jetstreamReservationBytes } from '../server/src/store-capacity.js';

/** What the file store keeps beyond the reservation (index files, the meta group's log, snapshots). */
const FILE_STORE_SPARE_BYTES = 256 * 1024 * 1024;

export const NATS_JETSTREAM_LIMITS = {
  jetstreamMaxMemoryBytes: 64 * 1024 * 1024,
  jetstreamMaxFileBytes: jetstreamReservationBytes(HISTORY_DEFAULTS.maxBytes) + FILE_STORE_SPARE_BYTES,
} as const;
