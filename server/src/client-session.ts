/**
 * One client's frames: parse, check, dispatch, answer. Never throws to the socket layer:
 * every bad frame becomes an error frame and the connection (and the replica) carry on.
 */
import type { ClientConnection, LocalConnections } from './connections.js';
import type { Delivery } from './delivery.js';
import type { OrderedDelivery } from './ordered-delivery.js';
import { subjects } from './subjects.js';
import type { Logger } from './logger.js';
import type { Messaging, SendOutcome } from './messaging.js';
import type { Metrics } from './metrics.js';
import { ErrorCode, parseClientFrame, type ClientFrame, type ClientId, type ServerFrame } from './protocol.js';
import type { TokenBucket } from './rate-limit.js';

export interface SessionDeps {
  local: LocalConnections;
  delivery: Delivery;
  ordered: OrderedDelivery;
  messaging: Messaging;
  metrics: Metrics;
  log: Logger;
  /** Sends a control frame (ack, error, pong) to this connection. */
  reply: (conn: ClientConnection, frame: ServerFrame) => void;
  /** Closes the connection with a code and reason. */
  close: (conn: ClientConnection, code: number, reason: string) => void;
  rateBurst: number;
}

export class ClientSession {
  constructor(private readonly conn: ClientConnection, private readonly bucket: TokenBucket, private readonly deps: SessionDeps) {}

  /** Handles one incoming WebSocket message. */
  async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    const { conn, deps } = this;
    if (conn.state.closing) return;
    if (isBinary) {
      this.error(undefined, ErrorCode.badFrame, 'binary frames are not supported');
      deps.close(conn, 1003, 'binary frames are not supported');
      return;
    }
    if (!this.bucket.take()) {
      conn.state.strikes += 1;
      if (conn.state.strikes === 1) this.error(undefined, ErrorCode.rateLimited, 'too many frames: slow down');
      if (conn.state.strikes > deps.rateBurst) deps.close(conn, 1008, 'rate limit exceeded');
      return;
    }
    conn.state.strikes = 0;
    const parsed = parseClientFrame(data.toString('utf8'));
    if (!parsed.ok) {
      this.error(parsed.id, parsed.code, parsed.message);
      return;
    }
    deps.metrics.messages.inc({ type: parsed.frame.type, direction: 'in' });
    try {
      await this.dispatch(parsed.frame);
    } catch (err) {
      deps.log.error({ err, conn: conn.id, user: conn.userId, frame: parsed.frame.type }, 'frame handler failed');
      this.error(parsed.frame.id, ErrorCode.internal, 'internal error');
    }
  }

  private async dispatch(frame: ClientFrame): Promise<void> {
    const { conn, deps } = this;
    const sender = { userId: conn.userId, admin: conn.admin };
    switch (frame.type) {
      case 'ping':
        deps.reply(conn, { type: 'pong', id: frame.id });
        return;
      case 'send':
        this.answer(frame.id, await deps.messaging.sendDirect(sender, frame.to, frame.data, frame.from, frame.id));
        return;
      case 'join': {
        const subject = subjects.roomLog(frame.room);
        if (!conn.cursors.has(subject)) {
          // Hold live room messages from here on; settle at the tail (live only) or replay from `after`.
          deps.ordered.hold(conn, subject);
          if (deps.local.join(conn, frame.room)) deps.delivery.roomOpened(frame.room);
          deps.reply(conn, { type: 'ack', id: frame.id, room: frame.room });
          if (frame.after === undefined) await deps.ordered.startAtTail(conn, subject);
          else await deps.ordered.start(conn, subject, frame.after, 'resume');
          return;
        }
        deps.reply(conn, { type: 'ack', id: frame.id, room: frame.room });
        if (frame.after !== undefined) await deps.ordered.start(conn, subject, frame.after, 'resume');
        return;
      }
      case 'leave':
        conn.cursors.delete(subjects.roomLog(frame.room));
        if (deps.local.leave(conn, frame.room)) deps.delivery.roomClosed(frame.room);
        deps.reply(conn, { type: 'ack', id: frame.id, room: frame.room });
        return;
      case 'publish':
        this.answer(frame.id, await deps.messaging.publishRoom(sender, frame.room, frame.data, frame.from, frame.id), frame.room);
        return;
      case 'resume': {
        const subject = frame.room === undefined ? subjects.inbox(conn.userId) : subjects.roomLog(frame.room);
        if (frame.room !== undefined && !conn.rooms.has(frame.room)) {
          this.error(frame.id, ErrorCode.notMember, `join room "${frame.room}" before resuming it`);
          return;
        }
        deps.reply(conn, { type: 'ack', id: frame.id, ...(frame.room === undefined ? {} : { room: frame.room }) });
        await deps.ordered.start(conn, subject, frame.after, 'resume');
        return;
      }
      case 'broadcast':
        this.answer(frame.id, deps.messaging.broadcast(sender, frame.data));
        return;
    }
  }

  private answer(id: ClientId, outcome: SendOutcome, room?: string): void {
    if (outcome.ok) {
      this.deps.reply(this.conn, {
        type: 'ack',
        id,
        ...(room === undefined ? {} : { room }),
        delivered: outcome.delivered,
        stored: outcome.stored,
        ...(outcome.seq === undefined ? {} : { seq: outcome.seq }),
        ...(outcome.duplicate === true ? { duplicate: true } : {}),
      });
    } else {
      this.error(id, outcome.code, outcome.message, outcome.delivered);
    }
  }

  private error(id: ClientId, code: ErrorCode, message: string, delivered?: number): void {
    this.deps.metrics.errorsSent.inc({ code });
    this.deps.reply(this.conn, delivered === undefined ? { type: 'error', code, message, id } : { type: 'error', code, message, id, delivered });
  }
}
