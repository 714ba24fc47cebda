/**
 * The one place the runner gets its WebSocket client from. Against ws-fleet (the default protocol)
 * it is the project's client library (client/src, `FleetClient`, docs/client.md), the code a browser
 * runs, with `ws`'s WebSocket. The runner keeps the library's defaults (per-attempt ack timeout,
 * retries with the same id, resends after a reconnect, idle pings) except the reconnect backoff,
 * which is shorter than a browser's (100 ms doubling to a 2 s ceiling, full jitter) so that a socket
 * dropped by a fault is back within the reconnect bounds of the scenarios.
 *
 * Against a Centrifugo peer (`--protocol centrifugo`, the bench's comparison under jitter) it is
 * load/peers/centrifugo-client.ts, which offers the runner the same surface (`LoadClient`).
 */
import WebSocket from 'ws';
import { FleetClient, type Ack, type FleetEvents, type PositionsSnapshot } from '../client/src/index.js';
import { CentrifugoLoadClient } from './peers/centrifugo-client.js';

export type { Ack, ConnectionState, FleetClient } from '../client/src/index.js';

export const RECONNECT = { initialMs: 100, maxMs: 2000, factor: 2 } as const;

/** What the simulated users speak: ws-fleet's protocol, or Centrifugo's (a peer measured beside it). */
export const LOAD_PROTOCOLS = ['ws-fleet', 'centrifugo'] as const;
export type LoadProtocol = (typeof LOAD_PROTOCOLS)[number];

/** What each protocol's balancer frontend answers 200 on (ws-fleet's replicas, Centrifugo's nodes). */
export const HEALTH_PATH: Record<LoadProtocol, string> = { 'ws-fleet': '/healthz', centrifugo: '/health' };

export function isLoadProtocol(s: string): s is LoadProtocol {
  return (LOAD_PROTOCOLS as readonly string[]).includes(s);
}

/** The events the runner listens to (FleetClient's, by name and payload). */
export type LoadEvents = Pick<FleetEvents, 'attempt' | 'disconnect' | 'welcome' | 'resumed' | 'message' | 'error'>;

/** Where a user's last client stood; `epochs` (channel positions' epochs) only from a Centrifugo client. */
export interface LoadPositions extends PositionsSnapshot {
  epochs?: Record<string, string>;
}

/** The client surface the runner drives (load/group.ts). */
export interface LoadClient {
  on<E extends keyof LoadEvents>(event: E, fn: LoadEvents[E]): () => void;
  /** Resolves on the first welcome; rejects on an auth refusal. Network failures are retried inside. */
  connect(): Promise<unknown>;
  send(to: string, data: unknown): Promise<Ack>;
  publish(room: string, data: unknown): Promise<Ack>;
  /** Joins a room; after a reconnect the client joins it again from its position by itself. */
  join(room: string): Promise<void>;
  readonly resumePositions: LoadPositions;
  close(): Promise<void>;
}

export interface LoadClientOptions {
  url: string;
  token: () => string;
  /** Opening + welcome within this long, else the attempt fails and is retried. */
  connectTimeoutMs: number;
  /** Positions from an earlier client of the same user (the jitter profile's replacement sockets). */
  resumeFrom?: LoadPositions;
}

/** The client every simulated user runs. */
export function createLoadClient(protocol: LoadProtocol, opts: LoadClientOptions): LoadClient {
  if (protocol === 'centrifugo') return new CentrifugoLoadClient(opts);
  return new FleetClient({
    url: opts.url,
    token: opts.token,
    WebSocket,
    reconnect: RECONNECT,
    connectTimeoutMs: opts.connectTimeoutMs,
    ...(opts.resumeFrom === undefined ? {} : { resumeFrom: opts.resumeFrom }),
  });
}
