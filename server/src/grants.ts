/**
 * Grants: what a user may do in which rooms, from the `grants` claim of the user token
 * (`{ join?: [...], history?: [...], publish?: [...] }`). Each entry is a room name or a pattern
 * ending in `*`, matched against the room's full `<namespace>:<name>` form; an entry without ":"
 * is in the default namespace (like a room name), and `*` alone matches every room.
 */
import { z } from 'zod';
import { DEFAULT_NAMESPACE, type RoomName } from './rooms.js';

export type Action = 'join' | 'history' | 'publish';
export type Grants = Readonly<Record<Action, readonly string[]>>;

const entry = z.string().min(1).max(140);
const list = z.array(entry).max(256).optional();
const grantsSchema = z.strictObject({ join: list, history: list, publish: list }).optional();

/** The grants claim, each pattern in full form; null when the claim is malformed. */
export function parseGrants(claim: unknown): Grants | null {
  const parsed = grantsSchema.safeParse(claim);
  if (!parsed.success) return null;
  const g = parsed.data ?? {};
  const full = (patterns: string[] | undefined): string[] | null => {
    const out: string[] = [];
    for (const p of patterns ?? []) {
      if (p === '*') {
        out.push('*');
        continue;
      }
      const qualified = p.includes(':') ? p : `${DEFAULT_NAMESPACE}:${p}`;
      const exact = qualified.endsWith('*') ? qualified.slice(0, -1) : qualified;
      if (!/^[A-Za-z0-9_-]+:[A-Za-z0-9_-]*$/.test(exact)) return null;
      out.push(qualified);
    }
    return out;
  };
  const join = full(g.join);
  const history = full(g.history);
  const publish = full(g.publish);
  if (join === null || history === null || publish === null) return null;
  return { join, history, publish };
}

/** True when one of the patterns covers the room. */
export function matches(patterns: readonly string[], room: RoomName): boolean {
  const fullName = `${room.namespace}:${room.name}`;
  return patterns.some((p) => (p.endsWith('*') ? fullName.startsWith(p.slice(0, -1)) : p === fullName));
}

export function grants(g: Grants, action: Action, room: RoomName): boolean {
  return matches(g[action], room);
}
