/** Commands of the holder worker (bench/workers/holder.ts): open, hold, ping, count and close many sockets. */
import type { Summary } from '../lib/stats.js';
import type { ClientAuth } from './tokens.js';

export interface Target {
  /** ws://127.0.0.1:<port>/ws */
  url: string;
  /** Source address to connect from (127.0.0.x): several spread the ephemeral ports. */
  localAddress?: string;
}

export interface OpenRequest {
  /** Connections go to these round-robin. */
  targets: Target[];
  count: number;
  /** Users are `${userPrefix}${userStart + i}`, one per connection. */
  userPrefix: string;
  userStart: number;
  auth: ClientAuth;
  concurrency: number;
  connectTimeoutMs: number;
  /** Epoch ms after which no new connection is started. */
  deadline: number;
  /** Stop opening after this many failures in a row (the servers are full or refusing). */
  maxConsecutiveFailures: number;
  /** When set, a socket closed by the server reconnects here with ?resume=<last seq> (drain test). */
  reconnectUrl?: string;
}

export interface OpenResult {
  opened: number;
  failed: number;
  failures: Record<string, number>;
  elapsedMs: number;
  /** Time from starting a connection to its welcome frame, ms. */
  connectMs: Summary;
  open: number;
  stoppedBy: 'count' | 'deadline' | 'failures';
}

export interface PingResult {
  sampled: number;
  ok: number;
  failed: number;
  rttMs: Summary;
}

export interface DrainReportRequest {
  /** Epoch ms of the SIGTERM. */
  t0: number;
  /** Users that were sent a message carrying `mark` after t0. */
  markedUsers: string[];
  mark: string;
}

export interface DrainReport {
  connections: number;
  closedByServer: number;
  closeCodes: Record<string, number>;
  reconnected: number;
  notReconnected: number;
  /** Per client: its close to its welcome on the new replica, ms. */
  reconnectMs: Summary;
  /** ms after t0 of the first close and of the last close. */
  firstCloseAfterMs: number;
  lastCloseAfterMs: number;
  /** ms after t0 when the last client had its welcome on a new replica. */
  allReconnectedAfterMs: number;
  markedReceived: number;
  markedMissing: number;
  /** ms after t0 when the last marked message arrived. */
  lastMarkAfterMs: number;
  duplicates: number;
  serversAfter: Record<string, number>;
  /** Failed reconnect attempts by reason (a client retries after 50-150 ms). */
  reconnectFailures: Record<string, number>;
}

export type HolderApi = {
  open: { req: OpenRequest; res: OpenResult };
  count: { req: Record<string, never>; res: { open: number; total: number } };
  ping: { req: { sample: number; timeoutMs: number }; res: PingResult };
  drainReport: { req: DrainReportRequest; res: DrainReport };
  close: { req: Record<string, never>; res: { closed: number } };
};

export interface HolderProgress {
  opened: number;
  failed: number;
  open: number;
}
