/**
 * The socket side of every connection: writes frames (with the per-socket and per-replica send
 * buffer caps), closes, protocol pings, and the sampled total of all send buffers. Delivery,
 * ordered delivery, the sessions and the gateway reach sockets through this one object
 * (`ConnectionWriter`), injected where the replica is assembled (app.ts).
 */
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { CloseCode, CloseReason } from './close-codes.js';
import type { ClientConnection, ConnectionWriter, LocalConnections } from './connections.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { ServerFrame } from './protocol.js';

/** Bytes are sent as a text frame too (ws would frame a Buffer as binary by default). */
const TEXT_FRAME = { binary: false } as const;
const DESTROYED = new Error('socket destroyed before the write completed');
/** How often the send buffers of all sockets are summed (the write path adds to the sum between samples). */
const BUFFER_SAMPLE_MS = 250;
/** After a 1013 close for a slow socket, how long it has to finish the close handshake before it is cut. */
const SLOW_CLOSE_GRACE_MS = 1000;

export interface SocketWriterDeps {
  limits: {
    /** MAX_BUFFERED_BYTES: one socket's send buffer cap. */
    maxBufferedBytes: number;
    /** MAX_BUFFERED_BYTES_TOTAL: the replica's budget over all sockets. */
    maxBufferedBytesTotal: number;
  };
  /** PING_INTERVAL_MS: a socket that missed two pings is terminated. */
  pingIntervalMs: number;
  local: LocalConnections;
  metrics: Metrics;
  log: Logger;
}

export class SocketWriter implements ConnectionWriter {
  /**
   * Each WebSocket's TCP socket. Node calls a write's callback without an error when the socket was
   * destroyed before the write completed (terminate(), a reset): such a write did not reach the
   * client, so it must not count as delivered.
   */
  private readonly tcpSockets = new WeakMap<WebSocket, Duplex>();
  private pingTimer: NodeJS.Timeout | undefined;
  private bufferTimer: NodeJS.Timeout | undefined;
  /** Bytes in all send buffers at the last sample, plus what was written since (an upper bound). */
  private bufferedTotal = 0;

  constructor(private readonly deps: SocketWriterDeps) {}

  start(): void {
    this.pingTimer = setInterval(() => { this.pingAll(); }, this.deps.pingIntervalMs);
    this.pingTimer.unref();
    this.bufferTimer = setInterval(() => { this.sampleBuffered(); }, BUFFER_SAMPLE_MS);
    this.bufferTimer.unref();
  }

  stop(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    if (this.bufferTimer !== undefined) clearInterval(this.bufferTimer);
  }

  /** Remembers the TCP socket under a WebSocket, so a write whose bytes never left does not count as delivered. */
  track(socket: WebSocket, tcp: Duplex): void {
    this.tcpSockets.set(socket, tcp);
  }

  write(conn: ClientConnection, frame: string | Buffer, onWritten?: (err?: Error | null) => void): boolean {
    const { socket, state } = conn;
    const { limits, metrics, log } = this.deps;
    if (state.closing || socket.readyState !== WebSocket.OPEN) return false;
    const buffered = socket.bufferedAmount;
    if (buffered > limits.maxBufferedBytes) {
      this.closeSlowConsumer(conn, 0);
      return false;
    }
    const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    // Over the replica's budget, a socket that is already behind goes (one that keeps up does not).
    if (buffered > 0 && this.bufferedTotal + size > limits.maxBufferedBytesTotal) {
      metrics.bufferBudgetCloses.inc();
      log.info({ conn: conn.id, user: conn.userId, buffered, total: this.bufferedTotal }, 'replica over its send budget: closing a lagging connection');
      this.bufferedTotal = Math.max(0, this.bufferedTotal - buffered);
      this.closeSlow(conn, CloseReason.bufferBudget);
      return false;
    }
    this.bufferedTotal += size;
    if (onWritten === undefined) {
      socket.send(frame, TEXT_FRAME);
    } else {
      const tcp = this.tcpSockets.get(socket);
      socket.send(frame, TEXT_FRAME, (err) => { onWritten(err ?? (tcp === undefined || tcp.destroyed ? DESTROYED : null)); });
    }
    return true;
  }

  send(conn: ClientConnection, frame: ServerFrame): void {
    if (this.write(conn, JSON.stringify(frame))) this.deps.metrics.messages.inc({ type: frame.type, direction: 'out' });
  }

  close(conn: ClientConnection, code: number, reason: string): void {
    if (conn.state.closing) return;
    conn.state.closing = true;
    this.deps.metrics.errorsSent.inc({ code: String(code) });
    conn.socket.close(code, reason);
  }

  /** Closes (the code and reason go out) and cuts the socket a moment later if the close handshake does not finish. */
  closeThenTerminate(conn: ClientConnection, code: number, reason: string): void {
    this.close(conn, code, reason);
    setTimeout(() => { conn.socket.terminate(); }, SLOW_CLOSE_GRACE_MS).unref();
  }

  closeSlowConsumer(conn: ClientConnection, heldBytes: number): void {
    if (conn.state.closing) return;
    this.deps.metrics.slowConsumerCloses.inc();
    this.deps.log.info({ conn: conn.id, user: conn.userId, buffered: conn.socket.bufferedAmount, held: heldBytes }, 'slow consumer: closing');
    this.closeSlow(conn, CloseReason.slowConsumer);
  }

  private closeSlow(conn: ClientConnection, reason: string): void {
    this.closeThenTerminate(conn, CloseCode.tryAgainLater, reason);
  }

  /** Sums the send buffers of all sockets (the write path adds to it between samples). */
  private sampleBuffered(): void {
    let total = 0;
    for (const conn of this.deps.local.all()) total += conn.socket.bufferedAmount;
    this.bufferedTotal = total;
    this.deps.metrics.bufferedBytes.set(total);
  }

  private pingAll(): void {
    for (const conn of this.deps.local.all()) {
      if (conn.state.missedPongs >= 2) {
        this.deps.log.info({ conn: conn.id, user: conn.userId }, 'missed two pings: terminating');
        conn.socket.terminate();
        continue;
      }
      conn.state.missedPongs += 1;
      if (conn.socket.readyState === WebSocket.OPEN) conn.socket.ping();
    }
  }
}
