/**
 * Room names. A room is `<namespace>:<name>` or just `<name>` (namespace `default`). Each part is
 * 1-64 of [A-Za-z0-9_-]; a namespace name may not contain "__" nor end with "_", so the subject
 * token `<namespace>__<name>` (subjects.ts) names exactly one room.
 * The canonical form drops the `default:` prefix: `default:lobby` and `lobby` are one room, shown `lobby`.
 */
import { isValidToken } from './subjects.js';

export const DEFAULT_NAMESPACE = 'default';

export interface RoomName {
  /** The room as shown to clients: `ns:name`, or `name` in the default namespace. */
  readonly room: string;
  readonly namespace: string;
  readonly name: string;
}

/** A namespace name: a subject-safe token without "__" and not ending with "_". */
export function isValidNamespace(value: unknown): value is string {
  return isValidToken(value) && !value.includes('__') && !value.endsWith('_');
}

export const ROOM_RULE = 'must be a room "<namespace>:<name>" or "<name>", each part 1-64 letters, digits, "_" or "-" (a namespace has no "__" and does not end with "_")';

/** Parses a room name; null when it is not one. */
export function parseRoom(value: unknown): RoomName | null {
  if (typeof value !== 'string') return null;
  const colon = value.indexOf(':');
  const namespace = colon < 0 ? DEFAULT_NAMESPACE : value.slice(0, colon);
  const name = colon < 0 ? value : value.slice(colon + 1);
  if (!isValidNamespace(namespace) || !isValidToken(name)) return null;
  return { room: namespace === DEFAULT_NAMESPACE ? name : `${namespace}:${name}`, namespace, name };
}

/** The room's canonical name, or the input unchanged when it is not a room (validate first). */
export function canonicalRoom(value: string): string {
  return parseRoom(value)?.room ?? value;
}

export function namespaceOf(room: string): string {
  return parseRoom(room)?.namespace ?? DEFAULT_NAMESPACE;
}
