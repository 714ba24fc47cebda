/**
 * Who may do what in a room: the namespace's policy (namespaces.ts), the user's grants
 * (grants.ts) and any room token presented at join. Deny unless something allows it; a room in a
 * namespace that is not configured allows nothing to anyone, the server API included.
 */
import { grants, type Action, type Grants } from './grants.js';
import type { Namespaces, NamespacePolicy } from './namespaces.js';
import type { RoomName } from './rooms.js';

/** A refusal is `forbidden` (no right to it) unless it says `room_full` (the namespace's maxMembers). */
export type Decision = { ok: true } | { ok: false; message: string; code?: 'room_full' };

/** Who acts: a user (with the grants of the token and of any room token for this room), or the server API. */
export type Actor =
  | {
      kind: 'user';
      grants: Grants;
      roomActs?: ReadonlySet<Action> | undefined;
      /** Over WebSocket: whether this connection joined the room. Over HTTP: null (no connection). */
      member: boolean | null;
    }
  | { kind: 'server' };

const allow: Decision = { ok: true };
const deny = (message: string): Decision => ({ ok: false, message });

export class Access {
  constructor(private readonly namespaces: Namespaces) {}

  policy(room: RoomName): NamespacePolicy | undefined {
    return this.namespaces.get(room.namespace);
  }

  private held(actor: Extract<Actor, { kind: 'user' }>, action: Action, room: RoomName): boolean {
    return grants(actor.grants, action, room) || actor.roomActs?.has(action) === true;
  }

  /**
   * Joining. `members`: the room's member connections on this replica now, checked against the
   * namespace's maxMembers once the right to join is established (a refusal names the limit).
   */
  join(actor: Actor, room: RoomName, members = 0): Decision {
    const policy = this.policy(room);
    if (policy === undefined) return deny(`namespace "${room.namespace}" is not configured`);
    if (actor.kind === 'server') return deny('the server API does not join rooms');
    if (policy.join !== 'authenticated' && !this.held(actor, 'join', room)) return deny(`joining "${room.room}" needs a join grant or a room token`);
    if (policy.maxMembers !== undefined && members >= policy.maxMembers) {
      return { ok: false, code: 'room_full', message: `room "${room.room}" has its maximum of ${policy.maxMembers} members (namespace "${room.namespace}"): try again later` };
    }
    return allow;
  }

  /** Replaying stored messages (join with `after`, resume of a room). */
  history(actor: Actor, room: RoomName): Decision {
    const policy = this.policy(room);
    if (policy === undefined) return deny(`namespace "${room.namespace}" is not configured`);
    if (actor.kind === 'server') return deny('the server API does not read history');
    if (policy.history === 'none' || !policy.keepHistory) return deny(`namespace "${room.namespace}" keeps no history for clients`);
    if (policy.history === 'members') return this.join(actor, room);
    if (this.held(actor, 'history', room)) return allow;
    return deny(`reading the history of "${room.room}" needs a history grant or a room token`);
  }

  /**
   * Publishing. `members`: over WebSocket the connection must have joined the room; over HTTP
   * (`member` null) the user must be allowed to join it.
   */
  publish(actor: Actor, room: RoomName): Decision {
    const policy = this.policy(room);
    if (policy === undefined) return deny(`namespace "${room.namespace}" is not configured`);
    if (actor.kind === 'server') return allow;
    if (policy.publish === 'server') return deny(`only the server API publishes in namespace "${room.namespace}"`);
    if (policy.publish === 'grant') return this.held(actor, 'publish', room) ? allow : deny(`publishing in "${room.room}" needs a publish grant or a room token`);
    if (actor.member === true) return allow;
    if (actor.member === false) return deny(`join "${room.room}" before publishing in it`);
    return this.join(actor, room).ok ? allow : deny(`publishing in "${room.room}" needs the right to join it`);
  }
}
