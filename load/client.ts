/**
 * The one place the runner gets its WebSocket client from: the project's client library
 * (client/src, `FleetClient`, docs/client.md), the code a browser runs, with `ws`'s WebSocket.
 * The runner keeps the library's defaults (per-attempt ack timeout, retries with the same id,
 * resends after a reconnect, idle pings) except the reconnect backoff, which is shorter than a
 * browser's (100 ms doubling to a 2 s ceiling, full jitter) so that a socket dropped by a fault is
 * back within the reconnect bounds of the scenarios.
 */
import WebSocket from 'ws';
import { FleetClient } from '../client/src/index.js';

export type { Ack, ConnectionState, FleetClient } from '../client/src/index.js';

export const RECONNECT = { initialMs: 100, maxMs: 2000, factor: 2 } as const;

export interface LoadClientOptions {
  url: string;
  token: () => string;
  /** Opening + welcome within this long, else the attempt fails and is retried. */
  connectTimeoutMs: number;
  /** Positions from an earlier client of the same user (the jitter profile's replacement sockets). */
  resumeFrom?: { inbox?: number; rooms?: Record<string, number> };
}

/** The client every simulated user runs. */
export function createLoadClient(opts: LoadClientOptions): FleetClient {
  return new FleetClient({
    url: opts.url,
    token: opts.token,
    WebSocket,
    reconnect: RECONNECT,
    connectTimeoutMs: opts.connectTimeoutMs,
    ...(opts.resumeFrom === undefined ? {} : { resumeFrom: opts.resumeFrom }),
  });
}
