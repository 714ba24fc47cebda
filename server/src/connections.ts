/**
 * The sockets this replica holds, indexed by connection, user and room. Only local state:
 * what other replicas hold is the presence directory's business.
 */
import type { WebSocket } from 'ws';
import type { Action, Grants } from './grants.js';
import type { Cursor } from './ordered-delivery.js';

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
