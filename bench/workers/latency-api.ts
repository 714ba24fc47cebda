/** Commands of the latency worker (bench/workers/latency.ts): senders and receivers in one process, one clock. */
import type { Summary } from '../lib/stats.js';

export type LatencySetup =
  | {
      kind: 'wsfleet';
      /** Per pair: where the sender and the receiver connect (ws://127.0.0.1:<port>/ws). */
      pairs: { sender: string; receiver: string }[];
      secret: string;
      userPrefix: string;
    }
  | {
      kind: 'socketio';
      /** Per pair: the Socket.IO servers (http://127.0.0.1:<port>). */
      pairs: { sender: string; receiver: string }[];
      userPrefix: string;
    }
  | {
      /** Centrifugo's JSON protocol: the sender publishes into the receiver's personal channel. */
      kind: 'centrifugo';
      /** Per pair: ws://127.0.0.1:<port>/connection/websocket of the sender's and the receiver's node. */
      pairs: { sender: string; receiver: string }[];
      secret: string;
      userPrefix: string;
    }
  | {
      /** Core NATS: one publisher connection, one subscriber connection (on another node). */
      kind: 'nats';
      pubServer: string;
      subServer: string;
      user: string;
      pass: string;
      subjects: number;
    }
  | {
      /** JetStream: publish to a file-backed stream and wait for the ack (the stored path's floor). */
      kind: 'jetstream';
      /** Stream name (one per worker) and its subjects `<stream>.*` (lower case). */
      stream: string;
      servers: string[];
      user: string;
      pass: string;
      subjects: number;
      replicas: number;
    };

export interface LatencyRun {
  /** Which transport (as named at setup). */
  key: string;
  /** Messages per second this worker sends (open loop). */
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** After the last send, wait this long at most for stragglers. */
  tailMs: number;
  /**
   * Most messages in flight (sent, not yet received); a due send past it is skipped and counted as
   * throttled, so an overloaded system gets a bounded backlog instead of an ever-growing one.
   */
  maxOutstanding: number;
}

export interface LatencyResult {
  sent: number;
  /** Messages sent in the measured window (after warm-up). */
  measuredSent: number;
  /** Of those, received (or acknowledged, for jetstream). */
  measuredReceived: number;
  /** Latencies (ms) of the measured messages. */
  latenciesMs: number[];
  summary: Summary;
  /** Received in the measured window per second of it. */
  achievedRate: number;
  errors: Record<string, number>;
  /** The worst lag of the send schedule (ms): the generator could not keep up when this is large. */
  maxScheduleLagMs: number;
  /** Sends skipped because maxOutstanding messages were in flight. */
  throttled: number;
}

export type LatencyApi = {
  /** Opens a transport under `key` (several may be open at once: paths are measured back to back). */
  setup: { req: { key: string; spec: LatencySetup }; res: { connections: number } };
  run: { req: LatencyRun; res: LatencyResult };
  /** Waits (bounded) until every message sent so far arrived; answers how many are still missing. */
  settle: { req: { timeoutMs: number }; res: { outstanding: number } };
  /** Closes every transport. */
  teardown: { req: Record<string, never>; res: { closed: number } };
};
