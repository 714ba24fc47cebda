/**
 * One client's frames: parse, check, dispatch, answer. Never throws to the socket layer:
 * every bad frame becomes an error frame and the connection (and the replica) carry on.
 * Rooms are checked against their namespace's policy and the connection's grants (access.ts).
 */
import type { Access, Actor } from './access.js';
import { AuthError, verifyRoomToken, verifyToken, type AuthOptions, type RoomToken } from './auth.js';
import type { ClientConnection, ConnectionWriter, LocalConnections } from './connections.js';
import type { Delivery } from './delivery.js';
import type { OrderedDelivery } from './ordered-delivery.js';
import { parseRoom, type RoomName } from './rooms.js';
import { subjects } from './subjects.js';
import { positionIn } from './stream-epoch.js';
import type { Logger } from './logger.js';
import type { Messaging, Sender, SendOutcome } from './messaging.js';
import type { Metrics } from './metrics.js';
import { CloseCode, CloseReason } from './close-codes.js';
import { ErrorCode, parseClientFrame, type ClientFrame, type ClientId } from './protocol.js';
import type { TokenBucket } from './rate-limit.js';

export interface SessionDeps {
  local: LocalConnections;
  delivery: Delivery;
  ordered: OrderedDelivery;
  messaging: Messaging;
  access: Access;
  auth: AuthOptions;
  metrics: Metrics;
  log: Logger;
  /** Control frames (ack, error, pong) and closes go out through it. */
  writer: ConnectionWriter;
  /** The connection's token was replaced by a valid `refresh`: schedule its new expiry. */
  refreshed: (conn: ClientConnection) => void;
  /** The streams' epoch: a position (`after`) of another one replays from the start (stream-epoch.ts). */
  epoch: string;
  rateBurst: number;
  maxRooms: number;
  maxJsonDepth: number;
}

export class ClientSession {
  constructor(private readonly conn: ClientConnection, private readonly bucket: TokenBucket, private readonly deps: SessionDeps) {}

  /** Handles one incoming WebSocket message. */
  async onMessage(data: Buffer, isBinary: boolean): Promise<void> {
    const { conn, deps } = this;
    if (conn.state.closing) return;
    if (isBinary) {
      this.error(undefined, ErrorCode.badFrame, CloseReason.binary);
      deps.writer.close(conn, CloseCode.unsupportedData, CloseReason.binary);
      return;
    }
    if (!this.bucket.take()) {
      conn.state.strikes += 1;
      if (conn.state.strikes === 1) this.error(undefined, ErrorCode.rateLimited, 'too many frames: slow down');
      if (conn.state.strikes > deps.rateBurst) deps.writer.close(conn, CloseCode.policy, CloseReason.rateLimit);
      return;
    }
    conn.state.strikes = 0;
    const parsed = parseClientFrame(data.toString('utf8'), deps.maxJsonDepth);
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

  private sender(room?: RoomName, roomToken?: RoomToken): Sender {
    return { kind: 'user', userId: this.conn.userId, actor: this.actor(room, roomToken) };
  }

  /** What this connection may do in a room: its grants, plus a room token given now or at join. */
  private actor(room?: RoomName, roomToken?: RoomToken): Extract<Actor, { kind: 'user' }> {
    const { conn } = this;
    const roomActs = roomToken?.act ?? (room === undefined ? undefined : conn.roomActs.get(room.room));
    return { kind: 'user', grants: conn.auth.grants, roomActs, member: room === undefined ? false : conn.rooms.has(room.room) };
  }

  private async dispatch(frame: ClientFrame): Promise<void> {
    const { conn, deps } = this;
    switch (frame.type) {
      case 'ping':
        deps.writer.send(conn, { type: 'pong', id: frame.id });
        return;
      case 'send':
        this.answer(frame.id, await deps.messaging.sendDirect(this.sender(), frame.to, frame.data, { from: frame.from, clientId: frame.id, transport: 'ws' }));
        return;
      case 'join':
        await this.join(frame);
        return;
      case 'leave':
        conn.cursors.delete(subjects.roomLog(frame.room));
        if (deps.local.leave(conn, frame.room)) deps.delivery.roomClosed(frame.room);
        deps.writer.send(conn, { type: 'ack', id: frame.id, room: frame.room });
        return;
      case 'publish': {
        const room = parseRoom(frame.room);
        if (room === null) return;
        this.answer(frame.id, await deps.messaging.publishRoom(this.sender(room), frame.room, frame.data, { from: frame.from, clientId: frame.id, transport: 'ws' }), frame.room);
        return;
      }
      case 'resume': {
        if (frame.room !== undefined) {
          const room = parseRoom(frame.room);
          if (room === null) return;
          if (!conn.rooms.has(room.room)) {
            this.error(frame.id, ErrorCode.notMember, `join room "${frame.room}" before resuming it`);
            return;
          }
          const decision = deps.access.history(this.actor(room), room);
          if (!decision.ok) {
            this.forbidden(frame.id, 'history', decision.message);
            return;
          }
        }
        const subject = frame.room === undefined ? subjects.inbox(conn.userId) : subjects.roomLog(frame.room);
        deps.writer.send(conn, { type: 'ack', id: frame.id, ...(frame.room === undefined ? {} : { room: frame.room }) });
        const from = positionIn(deps.epoch, frame.after, frame.epoch);
        await deps.ordered.start(conn, subject, from.after, 'resume', from.lost);
        return;
      }
      case 'broadcast':
        this.forbidden(frame.id, 'broadcast', 'broadcast is for the server API only (POST /broadcast with the server key)');
        return;
      case 'refresh':
        this.refresh(frame.token, frame.id);
        return;
    }
  }

  private async join(frame: Extract<ClientFrame, { type: 'join' }>): Promise<void> {
    const { conn, deps } = this;
    const room = parseRoom(frame.room);
    if (room === null) return;
    let roomToken: RoomToken | undefined;
    if (frame.token !== undefined) {
      try {
        roomToken = verifyRoomToken(frame.token, deps.auth);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        this.error(frame.id, ErrorCode.invalidToken, `room token: ${err.message}`);
        return;
      }
      if (roomToken.userId !== conn.userId || roomToken.room !== room.room) {
        this.forbidden(frame.id, 'join', `the room token is for user "${roomToken.userId}" in room "${roomToken.room}"`);
        return;
      }
    }
    const member = conn.rooms.has(room.room);
    if (!member && conn.rooms.size >= deps.maxRooms) {
      this.error(frame.id, ErrorCode.tooManyRooms, `a connection joins at most ${deps.maxRooms} rooms: leave one first`);
      return;
    }
    const actor = this.actor(room, roomToken);
    if (!member) {
      const decision = deps.access.join(actor, room, deps.local.inRoom(room.room)?.size ?? 0);
      if (!decision.ok) {
        if (decision.code === 'room_full') this.error(frame.id, ErrorCode.roomFull, decision.message);
        else this.forbidden(frame.id, 'join', decision.message);
        return;
      }
    }
    // Joining with `after` replays history: refused as a whole (not degraded to live-only) without the right.
    const history = deps.access.history(actor, room);
    if (frame.after !== undefined && !history.ok) {
      this.forbidden(frame.id, 'history', history.message);
      return;
    }
    if (roomToken !== undefined) conn.roomActs.set(room.room, roomToken.act);
    const subject = subjects.roomLog(room.room);
    if (!conn.cursors.has(subject)) {
      // Hold live room messages from here on; settle at the tail (live only) or replay from `after`.
      const held = deps.ordered.hold(conn, subject);
      if (deps.local.join(conn, room.room)) await deps.delivery.roomOpened(room.room);
      // A live join's ack says where the cursor starts (`after`), to a member who may replay: a client
      // with no position in the room rejoins from there after a reconnect, so what was published
      // meanwhile is replayed, not lost.
      const ack = (startsAfter?: number): void => {
        const after = history.ok && startsAfter !== undefined ? { after: startsAfter } : {};
        deps.writer.send(conn, { type: 'ack', id: frame.id, room: room.room, ...after });
      };
      // Frames are handled concurrently: a `leave` may have come in during the subscription's flush.
      if (conn.cursors.get(subject) !== held) {
        ack(undefined);
        return;
      }
      // Live only: the ack goes out once the room's end is read, so whatever is published after the
      // client saw it comes after the cursor and reaches it. With `after`, the replay covers the rest.
      if (frame.after === undefined) await deps.ordered.startAtTail(conn, subject, ack);
      else {
        ack(undefined);
        const from = positionIn(deps.epoch, frame.after, frame.epoch);
        await deps.ordered.start(conn, subject, from.after, 'resume', from.lost);
      }
      deps.ordered.checkTailSoon(conn, subject);
      return;
    }
    deps.writer.send(conn, { type: 'ack', id: frame.id, room: room.room });
    if (frame.after !== undefined) {
      const from = positionIn(deps.epoch, frame.after, frame.epoch);
      await deps.ordered.start(conn, subject, from.after, 'resume', from.lost);
    }
  }

  /** A new user token for this connection: same user, valid; its exp and grants replace the old ones. */
  private refresh(token: string, id: ClientId): void {
    const { conn, deps } = this;
    let principal;
    try {
      principal = verifyToken(token, deps.auth);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      this.error(id, ErrorCode.invalidToken, `refresh: ${err.message}`);
      return;
    }
    if (principal.userId !== conn.userId) {
      this.error(id, ErrorCode.invalidToken, `refresh: the token is for user "${principal.userId}", this connection is "${conn.userId}"`);
      return;
    }
    conn.auth.exp = principal.exp;
    conn.auth.grants = principal.grants;
    deps.refreshed(conn);
    deps.writer.send(conn, { type: 'ack', id, ...(principal.exp === null ? {} : { exp: principal.exp }) });
  }

  private answer(id: ClientId, outcome: SendOutcome, room?: string): void {
    if (outcome.ok) {
      this.deps.writer.send(this.conn, {
        type: 'ack',
        id,
        ...(room === undefined ? {} : { room }),
        delivered: outcome.delivered,
        stored: outcome.stored,
        ...(outcome.seq === undefined ? {} : { seq: outcome.seq }),
        ...(outcome.duplicate === true ? { duplicate: true } : {}),
        ...(outcome.forwarded === undefined ? {} : { forwarded: outcome.forwarded }),
      });
    } else {
      this.error(id, outcome.code, outcome.message, outcome.delivered);
    }
  }

  private forbidden(id: ClientId, action: string, message: string): void {
    this.deps.metrics.forbidden.inc({ action });
    this.error(id, ErrorCode.forbidden, message);
  }

  private error(id: ClientId, code: ErrorCode, message: string, delivered?: number): void {
    this.deps.metrics.errorsSent.inc({ code });
    this.deps.writer.send(this.conn, delivered === undefined ? { type: 'error', code, message, id } : { type: 'error', code, message, id, delivered });
  }
}
