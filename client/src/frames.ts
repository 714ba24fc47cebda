/**
 * The frames of protocol v2 as this client reads and writes them. Server frames are checked for
 * the fields the client relies on; unknown fields are ignored, unknown types are skipped.
 */

export type RequestId = string | number;

export interface Welcome {
  type: 'welcome';
  /** Replica id. */
  server: string;
  user: string;
  conn: string;
  /** Expiry of the connection's token (unix seconds); absent from v1 servers. */
  exp?: number;
  limits?: { rooms?: number; replayPage?: number };
  /** Identity of the message streams; a change means seqs restarted. Absent from servers before epochs. */
  epoch?: string;
}

export interface MessageFrame {
  type: 'message';
  from: string;
  data: unknown;
  ts: number;
  seq?: number;
  room?: string;
  broadcast?: true;
}

export interface Ack {
  type: 'ack';
  id: RequestId;
  delivered?: number;
  room?: string;
  seq?: number;
  /** In the ack of a join without a position: the room's seq the live subscription starts after. */
  after?: number;
  stored?: boolean;
  /** Volatile direct messages: the other replicas it was published to (their sockets are not in `delivered`). */
  forwarded?: number;
  /** A retry of an id the server had already stored (v2). */
  duplicate?: boolean;
  /** New token expiry (unix seconds), in the ack of a `refresh`. */
  exp?: number;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  id?: RequestId;
  delivered?: number;
}

export interface ReplayedFrame {
  type: 'replayed';
  room?: string;
  last: number;
  more: boolean;
  recovered: boolean;
}

export interface RefreshRequest {
  type: 'refresh';
  /** Unix ms by which a `refresh` frame must arrive. */
  deadline: number;
}

export type ServerFrame = Welcome | MessageFrame | Ack | ErrorFrame | ReplayedFrame | RefreshRequest | { type: 'pong'; id?: RequestId };

export type ClientFrame =
  | { type: 'send'; to: string; data: unknown; id: string }
  | { type: 'publish'; room: string; data: unknown; id: string }
  | { type: 'join'; room: string; after?: number; epoch?: string; token?: string; id: string }
  | { type: 'leave'; room: string; id: string }
  | { type: 'resume'; after: number; epoch?: string; room?: string; id?: string }
  | { type: 'refresh'; token: string; id: string }
  | { type: 'ping'; id?: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is RequestId => typeof v === 'string' || typeof v === 'number';
const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const optional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';

/** Parses one text frame. Returns null for a frame this client cannot use (reported by the caller). */
export function parseServerFrame(text: string): ServerFrame | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(raw) || typeof raw.type !== 'string') return null;
  switch (raw.type) {
    case 'welcome':
      return isString(raw.server) && isString(raw.user) && isString(raw.conn) && optional(raw.exp, isSeq) && optional(raw.epoch, isString) ? (raw as unknown as Welcome) : null;
    case 'message':
      return isString(raw.from) && 'data' in raw && typeof raw.ts === 'number' && optional(raw.seq, isSeq) && optional(raw.room, isString) ? (raw as unknown as MessageFrame) : null;
    case 'ack':
      return isId(raw.id) && optional(raw.seq, isSeq) && optional(raw.after, isSeq) && optional(raw.exp, isSeq) ? (raw as unknown as Ack) : null;
    case 'error':
      return isString(raw.code) && optional(raw.id, isId) ? ({ ...raw, message: isString(raw.message) ? raw.message : raw.code } as unknown as ErrorFrame) : null;
    case 'replayed':
      return isSeq(raw.last) && isBool(raw.more) && optional(raw.room, isString) ? ({ ...raw, recovered: raw.recovered !== false } as unknown as ReplayedFrame) : null;
    case 'refresh':
      return typeof raw.deadline === 'number' ? (raw as unknown as RefreshRequest) : null;
    case 'pong':
      return { type: 'pong', ...(isId(raw.id) ? { id: raw.id } : {}) };
    default:
      return null;
  }
}

/** True for a welcome from a server that speaks protocol v2 (it sends `replayed` after every replay). */
export function speaksV2(w: Welcome): boolean {
  return w.limits !== undefined || w.exp !== undefined;
}
