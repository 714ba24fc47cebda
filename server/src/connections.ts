/**
 * A client connection and everything it carries (its cursors, what it may do), the seam through which
 * frames reach its socket (`ConnectionWriter`, implemented by socket-writer.ts), and the sockets this
 * replica holds, indexed by connection, user and room. Only local state: what other replicas hold is
 * the presence directory's business.
 */
import type { WebSocket } from 'ws';
import type { Action, Grants } from './grants.js';
import type { ServerFrame } from './protocol.js';

export interface ClientConnection {
  readonly id: string;
  readonly userId: string;
  readonly socket: WebSocket;
  /** What the connection's token allows; replaced by a `refresh` frame. `exp` null: a dev user, no expiry. */
  auth: { exp: number | null; grants: Grants };
  readonly rooms: Set<string>;
  /** room → the actions a room token granted at join (kept while the connection is a member). */
  readonly roomActs: Map<string, ReadonlySet<Action>>;
  /** Mutable per-connection bookkeeping (pings, rate limiting, closing). */
  readonly state: { missedPongs: number; strikes: number; closing: boolean };
  /** subject (inbox.<user>, roomlog.<room>) → the last seq written to this connection. */
  readonly cursors: Map<string, Cursor>;
}

/** A live message on its way to one connection's cursor (ordered-delivery.ts decides when it is written). */
export interface LiveItem {
  seq: number;
  prev: number;
  frame: Extract<ServerFrame, { type: 'message' }>;
  /** The frame with its seq as UTF-8 JSON, made by the first write: every member of a room gets the same bytes. */
  bytes?: Buffer;
}

/** One connection's position on one subject (its inbox, or a room it joined). */
export interface Cursor {
  /** The last seq written to the socket: what follows it is written next, what is at or below it is a repeat. */
  last: number;
  /**
   * The last seq whose bytes the socket handed to the kernel (ws's send callback, without error):
   * what the client received as far as the server can know. Bytes `terminate()` threw away do not count.
   */
  delivered: number;
  /** True while a replay is queued or running, or a page waits for the client: live messages wait in `buffer`. */
  replaying: boolean;
  buffer: LiveItem[];
  /** The encoded size of what `buffer` holds: with the socket's unsent bytes, bounded by the slow-consumer cap. */
  bufferBytes: number;
  /** A page ended with more to come: live messages are dropped (a later page reads them) until the client asks. */
  paused: boolean;
  /** Holes at or below this seq were checked with the stream leader: retention removed what was there. */
  trimmedTo: number;
  /** Replays for one cursor run one after the other. */
  work: Promise<void>;
  runs: number;
}

/**
 * The only way frames reach a socket (socket-writer.ts implements it; tests pass a fake). Delivery,
 * ordered delivery, the sessions and the gateway all write through it.
 */
export interface ConnectionWriter {
  /**
   * Writes a text frame unless the connection is closing or its send buffer is over the cap (then it
   * closes the connection 1013 and returns false). A frame going to many sockets is passed as UTF-8
   * bytes encoded once. `onWritten` is ws's send callback: no error once the bytes were handed to
   * the kernel, an error when they were not (the socket was terminated first).
   */
  write(conn: ClientConnection, frame: string | Buffer, onWritten?: (err?: Error | null) => void): boolean;
  /** A control frame (welcome, ack, error, pong, refresh), counted in wsfleet_messages_total. */
  send(conn: ClientConnection, frame: ServerFrame): void;
  /** Closes with a code (close-codes.ts) and its reason; the first close of a connection wins. */
  close(conn: ClientConnection, code: number, reason: string): void;
  /**
   * Closes a connection that holds more than the send buffer cap (1013 "slow consumer", counted like
   * the cap `write` enforces): `heldBytes` is what waits for it outside the socket, behind a replay.
   */
  closeSlowConsumer(conn: ClientConnection, heldBytes: number): void;
}

export class LocalConnections {
  private readonly byId = new Map<string, ClientConnection>();
  private readonly byUser = new Map<string, Set<ClientConnection>>();
  private readonly byRoom = new Map<string, Set<ClientConnection>>();

  get size(): number {
    return this.byId.size;
  }

  /** Adds a connection; true when it is the user's first on this replica. */
  add(conn: ClientConnection): boolean {
    this.byId.set(conn.id, conn);
    let set = this.byUser.get(conn.userId);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.byUser.set(conn.userId, set);
    }
    set.add(conn);
    return first;
  }

  /** Removes a connection from every index; tells whether it was the user's last and which rooms emptied. */
  remove(conn: ClientConnection): { lastForUser: boolean; emptiedRooms: string[] } {
    if (!this.byId.delete(conn.id)) return { lastForUser: false, emptiedRooms: [] };
    const set = this.byUser.get(conn.userId);
    set?.delete(conn);
    const lastForUser = set !== undefined && set.size === 0;
    if (lastForUser) this.byUser.delete(conn.userId);
    const emptiedRooms: string[] = [];
    for (const room of conn.rooms) {
      if (this.leave(conn, room)) emptiedRooms.push(room);
    }
    return { lastForUser, emptiedRooms };
  }

  /** Adds a connection to a room; true when it is the room's first member on this replica. */
  join(conn: ClientConnection, room: string): boolean {
    conn.rooms.add(room);
    let members = this.byRoom.get(room);
    const first = members === undefined;
    if (members === undefined) {
      members = new Set();
      this.byRoom.set(room, members);
    }
    members.add(conn);
    return first;
  }

  /** Removes a connection from a room; true when the room has no member left on this replica. */
  leave(conn: ClientConnection, room: string): boolean {
    conn.rooms.delete(room);
    conn.roomActs.delete(room);
    const members = this.byRoom.get(room);
    if (members === undefined) return false;
    members.delete(conn);
    if (members.size > 0) return false;
    this.byRoom.delete(room);
    return true;
  }

  ofUser(userId: string): ReadonlySet<ClientConnection> | undefined {
    return this.byUser.get(userId);
  }

  inRoom(room: string): ReadonlySet<ClientConnection> | undefined {
    return this.byRoom.get(room);
  }

  users(): IterableIterator<string> {
    return this.byUser.keys();
  }

  all(): IterableIterator<ClientConnection> {
    return this.byId.values();
  }
}
