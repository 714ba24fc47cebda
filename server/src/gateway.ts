/**
 * The WebSocket side of a replica: admits upgrades (path, readiness, capacity, auth), then runs
 * each connection (welcome, frames, protocol pings, slow-consumer cap, cleanup).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { AuthError, SUBPROTOCOL, authenticate, type Principal } from './auth.js';
import { ClientSession } from './client-session.js';
import type { Config } from './config.js';
import type { ClientConnection, LocalConnections } from './connections.js';
import type { CursorStore } from './cursor-store.js';
import type { Delivery } from './delivery.js';
import type { OrderedDelivery } from './ordered-delivery.js';
import { subjects } from './subjects.js';
import { rejectUpgrade } from './http-util.js';
import type { Logger } from './logger.js';
import type { Messaging } from './messaging.js';
import type { Metrics } from './metrics.js';
import type { PresenceDirectory } from './presence.js';
import type { ServerFrame } from './protocol.js';
import { TokenBucket } from './rate-limit.js';

/** Bytes are sent as a text frame too (ws would frame a Buffer as binary by default). */
const TEXT_FRAME = { binary: false } as const;

/**
 * Each WebSocket's TCP socket. Node calls a write's callback without an error when the socket was
 * destroyed before the write completed (terminate(), a reset): such a write did not reach the
 * client, so it must not count as delivered.
 */
const tcpSockets = new WeakMap<WebSocket, Duplex>();
const DESTROYED = new Error('socket destroyed before the write completed');

export interface GatewayDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  local: LocalConnections;
  /** Present once the replica is connected to NATS and the KV; null before. */
  routing: () => { delivery: Delivery; presence: PresenceDirectory; messaging: Messaging; ordered: OrderedDelivery; cursors: CursorStore } | null;
  /** Why upgrades are refused right now (starting, draining, NATS down), or null when they are accepted. */
  notAcceptingReason: () => string | null;
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private pendingUpgrades = 0;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: GatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: deps.config.limits.maxPayloadBytes,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  start(): void {
    this.pingTimer = setInterval(() => { this.pingAll(); }, this.deps.config.timing.pingIntervalMs);
    this.pingTimer.unref();
  }

  stop(): void {
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
  }

  /** The http server's 'upgrade' listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => { socket.destroy(); });
    try {
      this.admit(req, socket, head);
    } catch (err) {
      this.deps.log.error({ err }, 'upgrade failed');
      rejectUpgrade(socket, 500, { error: 'internal' });
    }
  }

  private admit(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { config, metrics, local } = this.deps;
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') {
      rejectUpgrade(socket, 404, { error: 'not_found', message: 'WebSocket endpoint is /ws' });
      return;
    }
    const refused = this.deps.notAcceptingReason();
    if (refused !== null) {
      metrics.upgradesRejected.inc({ reason: refused });
      rejectUpgrade(socket, 503, { error: refused }, { 'Retry-After': '1' });
      return;
    }
    if (local.size + this.pendingUpgrades >= config.limits.maxConnections) {
      metrics.upgradesRejected.inc({ reason: 'max_connections' });
      rejectUpgrade(socket, 503, { error: 'max_connections', message: `this replica holds its maximum of ${config.limits.maxConnections} connections` }, { 'Retry-After': '5' });
      return;
    }
    const resumeParam = url.searchParams.get('resume');
    if (resumeParam !== null && !/^\d{1,15}$/.test(resumeParam)) {
      rejectUpgrade(socket, 400, { error: 'bad_resume', message: 'resume must be the last seq received (a non-negative integer)' });
      return;
    }
    this.pendingUpgrades += 1;
    let principal: Principal;
    try {
      principal = authenticate(req, url, config.auth);
    } catch (err) {
      this.pendingUpgrades -= 1;
      if (!(err instanceof AuthError)) throw err;
      metrics.upgradesRejected.inc({ reason: err.code });
      rejectUpgrade(socket, 401, { error: err.code, message: err.message }, { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    if (socket.destroyed) {
      this.pendingUpgrades -= 1;
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.pendingUpgrades -= 1;
      this.onConnection(ws, principal, req, resumeParam === null ? null : Number(resumeParam));
    });
  }

  private onConnection(socket: WebSocket, principal: Principal, req: IncomingMessage, resumeAfter: number | null): void {
    const { config, log, metrics, local } = this.deps;
    const routing = this.deps.routing();
    if (routing === null) {
      socket.close(1013, 'not ready');
      return;
    }
    const conn: ClientConnection = {
      id: randomUUID(),
      userId: principal.userId,
      admin: principal.admin,
      socket,
      rooms: new Set(),
      state: { missedPongs: 0, strikes: 0, closing: false },
      cursors: new Map(),
    };
    const inbox = subjects.inbox(conn.userId);
    // Live messages for this user wait behind the replay that settles the inbox cursor.
    routing.ordered.hold(conn, inbox);
    const peer = forwardedFor(req) ?? req.socket.remoteAddress;
    const connLog = log.child({ conn: conn.id, user: conn.userId });
    if (local.add(conn)) routing.presence.userOnline(conn.userId);
    metrics.connections.inc();
    metrics.connectionsTotal.inc();
    connLog.debug({ peer }, 'connected');

    const session = new ClientSession(conn, new TokenBucket(config.limits.ratePerSec, config.limits.rateBurst), {
      local,
      delivery: routing.delivery,
      ordered: routing.ordered,
      messaging: routing.messaging,
      metrics,
      log: connLog,
      reply: (c, frame) => { this.sendControl(c, frame); },
      close: (c, code, reason) => { this.close(c, code, reason); },
      rateBurst: config.limits.rateBurst,
    });
    socket.on('message', (data: Buffer, isBinary) => { void session.onMessage(data, isBinary); });
    socket.on('pong', () => { conn.state.missedPongs = 0; });
    socket.on('error', (err: Error & { code?: string }) => {
      // ws has already chosen the close code (1009 too big, 1007 bad UTF-8, 1002 protocol error).
      metrics.errorsSent.inc({ code: err.code ?? 'socket_error' });
      connLog.info({ reason: err.code ?? err.message }, 'connection error');
    });
    tcpSockets.set(socket, req.socket);
    socket.on('close', (code) => {
      metrics.connections.dec();
      // What reached the kernel, not what was queued: bytes terminate() threw away were not received.
      const delivered = conn.cursors.get(inbox)?.delivered ?? 0;
      if (delivered > 0 && Number.isFinite(delivered)) routing.cursors.save(conn.userId, delivered);
      const { lastForUser, emptiedRooms } = local.remove(conn);
      if (lastForUser) routing.presence.userOffline(conn.userId);
      for (const room of emptiedRooms) routing.delivery.roomClosed(room);
      connLog.debug({ code }, 'closed');
    });
    this.sendControl(conn, { type: 'welcome', server: config.serverId, user: conn.userId, conn: conn.id });
    void this.settleInbox(conn, inbox, resumeAfter, routing.ordered, routing.cursors);
  }

  /** Replays the inbox from the client's `resume`, else from the user's stored cursor; then a late tail check. */
  private async settleInbox(conn: ClientConnection, inbox: string, resumeAfter: number | null, ordered: OrderedDelivery, cursors: CursorStore): Promise<void> {
    let after = resumeAfter;
    if (after === null) {
      after = await cursors.load(conn.userId).catch((err: unknown) => {
        this.deps.log.warn({ err, conn: conn.id }, 'could not read the stored cursor: live messages only');
        return null;
      });
    }
    if (after === null) await ordered.startAtTail(conn, inbox);
    else await ordered.start(conn, inbox, after, resumeAfter === null ? 'cursor' : 'resume');
    // A send racing this connect may have seen no presence yet and gone to history only.
    setTimeout(() => {
      if (conn.socket.readyState === WebSocket.OPEN) void ordered.catchUp(conn, inbox, 'tail');
    }, 1000).unref();
  }

  /**
   * Writes a text frame (a string, or its UTF-8 bytes) unless the connection is closing or its send
   * buffer passed the cap. `onWritten` is ws's send callback: no error once the bytes were handed to the kernel.
   */
  write(conn: ClientConnection, frame: string | Buffer, onWritten?: (err?: Error | null) => void): boolean {
    const { socket, state } = conn;
    if (state.closing || socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > this.deps.config.limits.maxBufferedBytes) {
      this.deps.metrics.slowConsumerCloses.inc();
      this.deps.log.info({ conn: conn.id, user: conn.userId, buffered: socket.bufferedAmount }, 'slow consumer: closing');
      this.close(conn, 1013, 'slow consumer: reconnect and resume');
      setTimeout(() => { socket.terminate(); }, 1000).unref();
      return false;
    }
    if (onWritten === undefined) {
      socket.send(frame, TEXT_FRAME);
    } else {
      const tcp = tcpSockets.get(socket);
      socket.send(frame, TEXT_FRAME, (err) => { onWritten(err ?? (tcp === undefined || tcp.destroyed ? DESTROYED : null)); });
    }
    return true;
  }

  close(conn: ClientConnection, code: number, reason: string): void {
    if (conn.state.closing) return;
    conn.state.closing = true;
    this.deps.metrics.errorsSent.inc({ code: String(code) });
    conn.socket.close(code, reason);
  }

  private sendControl(conn: ClientConnection, frame: ServerFrame): void {
    if (this.write(conn, JSON.stringify(frame))) this.deps.metrics.messages.inc({ type: frame.type, direction: 'out' });
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

function forwardedFor(req: IncomingMessage): string | undefined {
  const header = req.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim();
}
