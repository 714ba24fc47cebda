/**
 * NATS subjects and KV keys used by ws-fleet, and the rule that keeps client-chosen names
 * (user ids, room names) from changing a subject's meaning.
 *
 * We validate rather than encode: a user id or room name must be 1-64 characters of
 * [A-Za-z0-9_-]. Such a token can never contain ".", "*", ">" or whitespace, and it reads
 * the same in logs, subjects and KV keys. Anything else is rejected with an error naming it.
 */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidToken(value: unknown): value is string {
  return typeof value === 'string' && TOKEN.test(value);
}

/**
 * The one subject token for a room (rooms.ts validates the name): `<namespace>__<name>`, the
 * default namespace included (`lobby` → `default__lobby`). A namespace has no "__" and does not
 * end with "_", so the first "__" is the separator and two rooms never share a token.
 */
export function roomToken(room: string): string {
  const colon = room.indexOf(':');
  return colon < 0 ? `default__${room}` : `${room.slice(0, colon)}__${room.slice(colon + 1)}`;
}

/** The namespace of a room history subject (`roomlog.<namespace>__<name>`); undefined for any other subject. */
export function namespaceOfRoomLog(subject: string): string | undefined {
  if (!subject.startsWith('roomlog.')) return undefined;
  const token = subject.slice('roomlog.'.length);
  const sep = token.indexOf('__');
  return sep > 0 ? token.slice(0, sep) : undefined;
}

export const subjects = {
  /** Targeted delivery to the replica that holds the sockets (request/reply: the reply carries the count). */
  server: (serverId: string) => `server.${serverId}`,
  /** Room fan-out: only replicas with a local member subscribe. */
  room: (room: string) => `room.${roomToken(room)}`,
  /** Every replica subscribes: admin broadcast. */
  broadcast: 'broadcast',
  /** JetStream stream WSF_INBOX: one subject per user, the user's message history. */
  inbox: (userId: string) => `inbox.${userId}`,
  /** JetStream stream WSF_ROOMS: one subject per room, the room's message history. */
  roomLog: (room: string) => `roomlog.${roomToken(room)}`,
} as const;

export const buckets = {
  /** key `<user>.<server>` → JSON `PresenceValue` {since} (presence.ts): which replica holds which user's connections. */
  presence: 'wsf_presence',
  /** key `<server>` → JSON `ReplicaHeartbeat` {at, connections, messagesInPerSec, messagesOutPerSec} (fleet-membership.ts): which replicas are alive, and their load. */
  replicas: 'wsf_replicas',
  /** key `<user>` → JSON `CursorValue` {seq, at} (cursor-store.ts): the last inbox seq delivered when the user's socket closed. */
  cursors: 'wsf_cursors',
} as const;

export const streams = {
  inbox: 'WSF_INBOX',
  rooms: 'WSF_ROOMS',
} as const;

export const presenceKey = (userId: string, serverId: string) => `${userId}.${serverId}`;

/** Splits a presence key back into its tokens; null for a key that is not ours. */
export function parsePresenceKey(key: string): { userId: string; serverId: string } | null {
  const [userId, serverId, ...rest] = key.split('.');
  if (rest.length > 0 || !isValidToken(userId) || !isValidToken(serverId)) return null;
  return { userId, serverId };
}
