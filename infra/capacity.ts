/**
 * What a replica's memory limit can hold: the measured cost of one idle WebSocket, in one place.
 *
 * Measured with `npm run build:server && node --import tsx infra/capacity-measure.ts 2000` (the server
 * bundle run as the image runs it, against a real nats-server, on this project's 2-core CI machine kind,
 * Node 24): 200 warm-up connections, then 2000 more idle authenticated connections, each its own user.
 *   resident set with 200 connections: 82.8 MiB; after 2000 more: 138.3 MiB → 29,127 bytes per connection.
 * The kernel's socket buffers are not in the resident set but count against the container's memory
 * limit (cgroup socket accounting), and a connection that joins rooms or receives traffic costs more than
 * an idle one: HEADROOM covers both. Measure again when the server's per-connection state changes.
 */

/** Resident set of an idle replica (JetStream client, HTTP and WebSocket servers, 200 connections). */
export const REPLICA_BASELINE_BYTES = 83 * 1024 * 1024;

/** Resident memory one idle, authenticated WebSocket adds to a replica. */
export const BYTES_PER_CONNECTION = 29_127;

/** Multiplier over the idle measurement for socket buffers, rooms and traffic. */
export const CONNECTION_HEADROOM = 1.25;

/** The most connections a replica with `memoryMb` of memory can hold by the measurement above. */
export function maxConnectionsFor(memoryMb: number): number {
  const available = memoryMb * 1024 * 1024 - REPLICA_BASELINE_BYTES;
  return Math.max(0, Math.floor(available / (BYTES_PER_CONNECTION * CONNECTION_HEADROOM)));
}

/** Memory (MiB, rounded up) a replica needs to hold `connections`. */
export function memoryMbFor(connections: number): number {
  return Math.ceil((REPLICA_BASELINE_BYTES + connections * BYTES_PER_CONNECTION * CONNECTION_HEADROOM) / (1024 * 1024));
}
