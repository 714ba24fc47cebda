/**
 * The one place the runner gets its WebSocket client from: the types the load groups program
 * against (the subset of the client library's FleetClient API they use) and the factory. Switching
 * the implementation is a change to `createLoadClient` only.
 */
import WebSocket from 'ws';
import { ProtocolClient } from './protocol-client.js';

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface Ack {
  type: 'ack';
  id?: string | number;
  delivered?: number;
  stored?: boolean;
  seq?: number;
  duplicate?: boolean;
  room?: string;
}

export interface ClientMessage {
  from: string;
  data: unknown;
  ts: number;
  seq?: number;
  room?: string;
}

export interface ClientError {
  code: string;
  message: string;
}

export interface ClientEvents {
  state: (s: ClientState) => void;
  message: (m: ClientMessage) => void;
  welcome: (w: { server?: string; user?: string }) => void;
  resumed: (r: { room?: string; replayed: number; recovered: boolean }) => void;
  error: (e: ClientError) => void;
}

export interface LoadClient {
  connect(): Promise<unknown>;
  send(to: string, data: unknown, opts?: { timeoutMs?: number }): Promise<Ack>;
  publish(room: string, data: unknown, opts?: { timeoutMs?: number }): Promise<Ack>;
  join(room: string): Promise<void>;
  close(): Promise<void>;
  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void;
  readonly state: ClientState;
}

export interface LoadClientOptions {
  url: string;
  token: () => string;
  ackTimeoutMs: number;
  /** Positions from an earlier client of the same user (the jitter profile's replacement sockets). */
  resumeFrom?: { inbox?: number; rooms?: Record<string, number> };
}

/** The client every simulated user runs. */
export function createLoadClient(opts: LoadClientOptions): LoadClient {
  return new ProtocolClient({ ...opts, WebSocket });
}
