/**
 * The WebSocket side of a replica: admits upgrades (path, readiness, capacity, auth), then runs
 * each connection (welcome, frames, token expiry, cleanup). Frames reach the socket through the
 * socket writer (socket-writer.ts: send buffer caps, closes, protocol pings).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Access } from './access.js';
import { AuthError, SUBPROTOCOL, authenticate, type Principal } from './auth.js';
import { ClientSession } from './client-session.js';
import { CloseCode, CloseReason } from './close-codes.js';
import type { Config } from './config.js';
import type { ClientConnection, LocalConnections } from './connections.js';
import type { CursorStore } from './cursor-store.js';
import type { Delivery } from './delivery.js';
import type { OrderedDelivery } from './ordered-delivery.js';
import { EPOCH_RULE, positionIn } from './stream-epoch.js';
import { subjects } from './subjects.js';
import { parseRequestUrl, rejectUpgrade } from './http-util.js';
import type { Logger } from './logger.js';
import type { Messaging } from './messaging.js';
import type { Metrics } from './metrics.js';
import type { PresenceDirectory } from './presence.js';
import { TokenBucket } from './rate-limit.js';
import type { SocketWriter } from './socket-writer.js';

/** What a connection needs once the replica is connected to NATS. */
export interface GatewayRouting {
  delivery: Delivery;
  presence: PresenceDirectory;
  messaging: Messaging;
  ordered: OrderedDelivery;
  cursors: CursorStore;
  /** The streams' epoch (stream-epoch.ts): in the welcome, and checked against the positions clients bring. */
  epoch: string;
}

/** A client's `?resume=<seq>` with the `?epoch=` it was taken in, when it names one. */
interface ResumePosition {
  after: number;
  epoch: string | undefined;
}

export interface GatewayDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  local: LocalConnections;
  writer: SocketWriter;
  /** Present once the replica is connected to NATS and the KV; null before. */
  routing: () => GatewayRouting | null;
  access: Access;
  /** Why upgrades are refused right now (starting, draining, NATS down), or null when they are accepted. */
  notAcceptingReason: () => string | null;
}

/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The longest a welcome waits for the user's presence entry to be stored (a store without a leader answers late). */
const PRESENCE_WAIT_MS = 2000;
/** What ws itself checks before calling back (lib/websocket-server.js); checked first here to answer in JSON. */
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

interface ExpiryTimers {
  expiry?: NodeJS.Timeout | undefined;
  deadline?: NodeJS.Timeout | undefined;
}

export class Gateway {
  private readonly wss: WebSocketServer;
  private pendingUpgrades = 0;
  /** user → upgrades admitted but not yet open (counted against MAX_CONNECTIONS_PER_USER). */
  private readonly pendingByUser = new Map<string, number>();
  private readonly expiry = new WeakMap<ClientConnection, ExpiryTimers>();

  constructor(private readonly deps: GatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: deps.config.limits.maxPayloadBytes,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /** Upgrades in flight (admitted, handshake not finished): always comes back to 0. */
  get pending(): number {
    return this.pendingUpgrades;
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
    const url = parseRequestUrl(req.url);
    if (url === null) {
      rejectUpgrade(socket, 400, { error: 'bad_request', message: 'request target is not a valid URL' });
      return;
    }
    if (url.pathname !== '/ws') {
      rejectUpgrade(socket, 404, { error: 'not_found', message: 'WebSocket endpoint is /ws' });
      return;
    }
    const handshake = handshakeProblem(req);
    if (handshake !== null) {
      metrics.upgradesRejected.inc({ reason: 'bad_handshake' });
      rejectUpgrade(socket, handshake.status, { error: 'bad_handshake', message: handshake.message }, handshake.headers);
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
    const epochParam = url.searchParams.get('epoch');
    if (epochParam !== null && !EPOCH_RULE.test(epochParam)) {
      rejectUpgrade(socket, 400, { error: 'bad_resume', message: "epoch must be a welcome's epoch (1-64 letters, digits, '_' or '-')" });
      return;
    }
    let principal: Principal;
    try {
      principal = authenticate(req, url, config.auth);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      metrics.upgradesRejected.inc({ reason: err.code });
      rejectUpgrade(socket, 401, { error: err.code, message: err.message }, { 'WWW-Authenticate': 'Bearer' });
      return;
    }
    const user = principal.userId;
    const userConns = (local.ofUser(user)?.size ?? 0) + (this.pendingByUser.get(user) ?? 0);
    if (userConns >= config.limits.maxConnectionsPerUser) {
      metrics.upgradesRejected.inc({ reason: 'too_many_connections' });
      rejectUpgrade(socket, 429, { error: 'too_many_connections', message: `user ${user} already has ${config.limits.maxConnectionsPerUser} connections on this replica` }, { 'Retry-After': '5' });
      return;
    }
    if (socket.destroyed) return;
    // Counted until the handshake ends, whichever way: ws calls back on success, but on a
    // handshake it refuses itself it only writes an answer and destroys the socket.
    this.pendingUpgrades += 1;
    this.pendingByUser.set(user, (this.pendingByUser.get(user) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.pendingUpgrades -= 1;
      const n = (this.pendingByUser.get(user) ?? 1) - 1;
      if (n <= 0) this.pendingByUser.delete(user);
      else this.pendingByUser.set(user, n);
    };
    socket.once('close', release);
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        release();
        socket.off('close', release);
        this.onConnection(ws, principal, req, resumeParam === null ? null : { after: Number(resumeParam), epoch: epochParam ?? undefined });
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  private onConnection(socket: WebSocket, principal: Principal, req: IncomingMessage, resume: ResumePosition | null): void {
    const { config, log, metrics, local, writer } = this.deps;
    const routing = this.deps.routing();
    if (routing === null) {
      socket.close(CloseCode.tryAgainLater, CloseReason.notReady);
      return;
    }
    const conn: ClientConnection = {
      id: randomUUID(),
      userId: principal.userId,
      socket,
      auth: { exp: principal.exp, grants: principal.grants },
      rooms: new Set(),
      roomActs: new Map(),
      state: { missedPongs: 0, strikes: 0, closing: false },
      cursors: new Map(),
    };
    const inbox = subjects.inbox(conn.userId);
    // Live messages for this user wait behind the replay that settles the inbox cursor.
    routing.ordered.hold(conn, inbox);
    const peer = peerAddress(req);
    const connLog = log.child({ conn: conn.id, user: conn.userId });
    // The welcome waits for the user's presence entry to be stored: a send made by anyone after it
    // is then routed here live (the other replicas' watches see the entry within milliseconds).
    const announced = local.add(conn) ? routing.presence.userOnline(conn.userId) : routing.presence.written(conn.userId);
    metrics.connections.inc();
    metrics.connectionsTotal.inc();
    connLog.debug({ peer }, 'connected');

    const session = new ClientSession(conn, new TokenBucket(config.limits.ratePerSec, config.limits.rateBurst), {
      local,
      delivery: routing.delivery,
      ordered: routing.ordered,
      messaging: routing.messaging,
      access: this.deps.access,
      auth: config.auth,
      metrics,
      log: connLog,
      writer,
      refreshed: (c) => { this.scheduleExpiry(c); },
      epoch: routing.epoch,
      rateBurst: config.limits.rateBurst,
      maxRooms: config.limits.maxRoomsPerConnection,
      maxJsonDepth: config.limits.maxJsonDepth,
    });
    // Frames a client sends before its welcome wait for it: the socket stops reading, and what ws
    // had already read (at most one chunk) is queued and handled in order after the welcome.
    let early: Array<[Buffer, boolean]> | null = [];
    socket.pause();
    socket.on('message', (data: Buffer, isBinary) => {
      if (early === null) void session.onMessage(data, isBinary);
      else early.push([data, isBinary]);
    });
    socket.on('pong', () => { conn.state.missedPongs = 0; });
    socket.on('error', (err: Error & { code?: string }) => {
      // ws has already chosen the close code (1009 too big, 1007 bad UTF-8, 1002 protocol error).
      metrics.errorsSent.inc({ code: err.code ?? 'socket_error' });
      connLog.info({ reason: err.code ?? err.message }, 'connection error');
    });
    writer.track(socket, req.socket);
    socket.on('close', (code) => {
      this.clearExpiry(conn);
      metrics.connections.dec();
      // What reached the kernel, not what was queued: bytes terminate() threw away were not received.
      const delivered = conn.cursors.get(inbox)?.delivered ?? 0;
      if (delivered > 0 && Number.isFinite(delivered)) routing.cursors.save(conn.userId, delivered);
      const { lastForUser, emptiedRooms } = local.remove(conn);
      if (lastForUser) routing.presence.userOffline(conn.userId);
      for (const room of emptiedRooms) routing.delivery.roomClosed(room);
      connLog.debug({ code }, 'closed');
    });
    void this.welcomeOnceAnnounced(announced, socket, () => {
      const queued = early ?? [];
      early = null;
      this.welcome(conn, resume, routing);
      socket.resume();
      for (const [data, isBinary] of queued) void session.onMessage(data, isBinary);
    });
  }

  /** Runs `welcome` once the user's presence write settled, or after PRESENCE_WAIT_MS, if the socket is still open. */
  private async welcomeOnceAnnounced(announced: Promise<void>, socket: WebSocket, welcome: () => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([announced, new Promise<void>((r) => { timer = setTimeout(r, PRESENCE_WAIT_MS); })]);
    clearTimeout(timer);
    if (socket.readyState === WebSocket.OPEN) welcome();
  }

  private welcome(conn: ClientConnection, resume: ResumePosition | null, routing: GatewayRouting): void {
    const { config, writer } = this.deps;
    const inbox = subjects.inbox(conn.userId);
    writer.send(conn, {
      type: 'welcome',
      server: config.serverId,
      user: conn.userId,
      conn: conn.id,
      epoch: routing.epoch,
      ...(conn.auth.exp === null ? {} : { exp: conn.auth.exp }),
      limits: { rooms: config.limits.maxRoomsPerConnection },
    });
    this.scheduleExpiry(conn);
    void this.settleInbox(conn, inbox, resume, routing);
  }

  /**
   * Replays the inbox from the client's `resume`, else from the user's stored cursor; then a late
   * tail check. A position of another epoch (the streams were recreated) replays from the start.
   */
  private async settleInbox(conn: ClientConnection, inbox: string, resume: ResumePosition | null, routing: GatewayRouting): Promise<void> {
    const { ordered, cursors, epoch } = routing;
    if (resume !== null) {
      const from = positionIn(epoch, resume.after, resume.epoch);
      await ordered.start(conn, inbox, from.after, 'resume', from.lost);
    } else {
      const stored = await cursors.load(conn.userId).catch((err: unknown) => {
        this.deps.log.warn({ err, conn: conn.id }, 'could not read the stored cursor: live messages only');
        return null;
      });
      if (stored === null) await ordered.startAtTail(conn, inbox);
      else {
        const from = positionIn(epoch, stored.seq, stored.epoch);
        await ordered.start(conn, inbox, from.after, 'cursor', from.lost);
      }
    }
    // A send racing this connect may have seen no presence yet and gone to history only.
    ordered.checkTailSoon(conn, inbox);
  }

  /**
   * At the token's expiry: a `refresh` frame with a deadline; without a valid refresh by then,
   * close 4001. A refresh (any time) reschedules from the new token's exp.
   */
  private scheduleExpiry(conn: ClientConnection): void {
    this.clearExpiry(conn);
    const exp = conn.auth.exp;
    if (exp === null) return;
    const timers: ExpiryTimers = {};
    this.expiry.set(conn, timers);
    const arm = (): void => {
      const wait = exp * 1000 - Date.now();
      if (wait > 0) {
        timers.expiry = setTimeout(arm, Math.min(wait, MAX_TIMER_MS));
        timers.expiry.unref();
        return;
      }
      const windowMs = this.deps.config.auth.refreshWindowMs;
      this.deps.writer.send(conn, { type: 'refresh', deadline: Date.now() + windowMs });
      timers.deadline = setTimeout(() => {
        if (conn.auth.exp !== exp) return;
        this.deps.metrics.tokenExpiryCloses.inc();
        this.deps.log.info({ conn: conn.id, user: conn.userId }, 'token expired and not refreshed: closing');
        this.deps.writer.closeThenTerminate(conn, CloseCode.tokenExpired, CloseReason.tokenExpired);
      }, windowMs);
      timers.deadline.unref();
    };
    arm();
  }

  private clearExpiry(conn: ClientConnection): void {
    const timers = this.expiry.get(conn);
    if (timers === undefined) return;
    clearTimeout(timers.expiry);
    clearTimeout(timers.deadline);
    this.expiry.delete(conn);
  }
}

/**
 * The client's address: the LAST X-Forwarded-For entry, the one the balancer appended
 * (`option forwardfor`); earlier entries are whatever the client sent. Else the socket's peer.
 */
export function peerAddress(req: IncomingMessage): string | undefined {
  const header = req.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header[header.length - 1] : header;
  const last = value?.split(',').pop()?.trim();
  return last === undefined || last === '' ? req.socket.remoteAddress : last;
}

/** What ws would refuse without calling back, answered by us in JSON instead (status, message). */
function handshakeProblem(req: IncomingMessage): { status: number; message: string; headers?: Record<string, string> } | null {
  if (req.method !== 'GET') return { status: 405, message: 'a WebSocket upgrade is a GET' };
  if (req.headers.upgrade?.toLowerCase() !== 'websocket') return { status: 400, message: 'Upgrade header must be "websocket"' };
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !WS_KEY.test(key)) return { status: 400, message: 'missing or invalid Sec-WebSocket-Key' };
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8') return { status: 400, message: 'Sec-WebSocket-Version must be 13', headers: { 'Sec-WebSocket-Version': '13' } };
  return null;
}
