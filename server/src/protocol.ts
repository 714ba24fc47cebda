/**
 * The wire protocol: JSON text frames from clients (validated here) and the frames the server sends.
 */
import { z } from 'zod';
import { ErrorCode } from '../../protocol/codes.js';
import { parseJsonLimited } from './json-limits.js';
import { ROOM_RULE, canonicalRoom, parseRoom } from './rooms.js';
import { EPOCH_RULE } from './stream-epoch.js';
import { isValidToken } from './subjects.js';

const userId = z.string().refine(isValidToken, 'must be a user id of 1-64 letters, digits, "_" or "-"');
/** A room name, in its canonical form (`default:x` becomes `x`). */
const room = z.string().refine((r) => parseRoom(r) !== null, ROOM_RULE).transform(canonicalRoom);
const jwt = z.string().min(1).max(8192);
const clientId = z.union([z.string().max(128), z.number()]).optional();
/** Any JSON value, but present: `undefined` (a missing field) is refused. */
const data = z.unknown().refine((v) => v !== undefined, 'is required');
/** The welcome's epoch a position (`after`) was taken in. */
const epoch = z.string().regex(EPOCH_RULE, "must be a welcome's epoch (1-64 letters, digits, '_' or '-')").optional();

const frameSchemas = {
  send: z.object({ type: z.literal('send'), to: userId, data, id: clientId, from: z.string().optional() }),
  join: z.object({ type: z.literal('join'), room, id: clientId, after: z.number().int().min(0).optional(), epoch, token: jwt.optional() }),
  leave: z.object({ type: z.literal('leave'), room, id: clientId }),
  publish: z.object({ type: z.literal('publish'), room, data, id: clientId, from: z.string().optional() }),
  broadcast: z.object({ type: z.literal('broadcast'), data, id: clientId }),
  ping: z.object({ type: z.literal('ping'), id: clientId }),
  resume: z.object({ type: z.literal('resume'), after: z.number().int().min(0), epoch, room: room.optional(), id: clientId }),
  refresh: z.object({ type: z.literal('refresh'), token: jwt, id: clientId }),
} as const;

export type FrameType = keyof typeof frameSchemas;
export type ClientFrame = { [K in FrameType]: z.infer<(typeof frameSchemas)[K]> }[FrameType];
export type ClientId = string | number | undefined;

/** The error codes are the wire protocol's (protocol/codes.ts), shared with the client library. */
export { ErrorCode };


export type ServerFrame =
  | { type: 'welcome'; server: string; user: string; conn: string; epoch: string; exp?: number; limits: { rooms: number; replayPage?: number } }
  | { type: 'refresh'; deadline: number }
  | { type: 'message'; from: string; data: unknown; ts: number; room?: string; broadcast?: true; seq?: number }
  | { type: 'ack'; id: ClientId; delivered?: number; room?: string; seq?: number; after?: number; stored?: boolean; forwarded?: number; exp?: number; duplicate?: true }
  | { type: 'pong'; id?: ClientId }
  | { type: 'error'; code: ErrorCode; message: string; id?: ClientId; delivered?: number };

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string; id?: ClientId };

/** Nesting allowed in a frame unless the caller says otherwise (MAX_JSON_DEPTH). */
export const DEFAULT_MAX_JSON_DEPTH = 32;

/** Parses one text frame. Never throws: bad input becomes an error result naming what is wrong. */
export function parseClientFrame(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): ParseResult {
  const json = parseJsonLimited(text, maxDepth);
  if (!json.ok) {
    return json.reason === 'too_deep'
      ? { ok: false, code: ErrorCode.badFrame, message: `frame ${json.message}` }
      : { ok: false, code: ErrorCode.badJson, message: 'frame is not valid JSON' };
  }
  const raw = json.value;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, code: ErrorCode.badFrame, message: 'frame must be a JSON object' };
  }
  const record = raw as Record<string, unknown>;
  const id = typeof record.id === 'string' || typeof record.id === 'number' ? record.id : undefined;
  const type = record.type;
  if (typeof type !== 'string' || !(type in frameSchemas)) {
    return { ok: false, code: ErrorCode.unknownType, message: `unknown frame type ${JSON.stringify(type ?? null)}; expected one of ${Object.keys(frameSchemas).join(', ')}`, id };
  }
  const parsed = frameSchemas[type as FrameType].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    return { ok: false, code: ErrorCode.badFrame, message: `${type}: field "${field}" ${issue?.message ?? 'is invalid'}`, id };
  }
  return { ok: true, frame: parsed.data };
}
