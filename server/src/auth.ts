/**
 * Who is on the other end: verifies HS256 JWTs (fast-jwt), tells user tokens from room tokens,
 * checks the server API key, and finds the token in a request.
 *
 * A user token: `{ sub, exp, iat?, iss?, aud?, grants? }`, never `typ: "room"`.
 * A room token: `{ typ: "room", sub, room, act: ["join"|"history"|"publish", …], exp }`, only in a
 * `join` frame. Both need `exp`, and neither may live longer than TOKEN_MAX_LIFETIME_SEC.
 * No claim grants admin rights: broadcast and publishing as the server take the server API key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TokenError, createVerifier } from 'fast-jwt';
import { z } from 'zod';
import { parseGrants, type Action, type Grants } from './grants.js';
import { parseRoom } from './rooms.js';
import { isValidToken } from './subjects.js';

export interface Principal {
  userId: string;
  /** The token's `exp` (unix seconds); null for a dev user (AUTH_ALLOW_DEV_USER), who has no token. */
  exp: number | null;
  grants: Grants;
}

export interface RoomToken {
  userId: string;
  room: string;
  act: ReadonlySet<Action>;
  exp: number;
}

export type AuthErrorCode = 'missing_token' | 'invalid_token' | 'expired_token' | 'invalid_user';

export class AuthError extends Error {
  constructor(readonly code: AuthErrorCode, message: string) {
    super(message);
  }
}

/** The subprotocol a browser offers beside its token; the server selects it in the 101 response. */
export const SUBPROTOCOL = 'ws-fleet';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Finds a bearer token in the Authorization header, the `token` query parameter, or Sec-WebSocket-Protocol. */
export function tokenFromRequest(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match?.[1] !== undefined) return match[1];
  }
  const query = url.searchParams.get('token');
  if (query !== null && query !== '') return query;
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols !== undefined) {
    return protocols.split(',').map((p) => p.trim()).find((p) => JWT_SHAPE.test(p));
  }
  return undefined;
}

export interface AuthOptions {
  secret: Uint8Array;
  allowDevUser: boolean;
  issuer?: string | undefined;
  audience?: string | undefined;
  maxLifetimeSec: number;
}

type Verify = (token: string) => Record<string, unknown>;

/**
 * One synchronous HS256 verifier per option set (fast-jwt, on node:crypto): about 8 CPU-µs a token.
 * It checks the signature, `alg` (HS256 only: no "none", no RS/HS confusion), `exp` (required),
 * `nbf`, and `iss`/`aud` when configured.
 */
const verifiers = new WeakMap<AuthOptions, Verify>();
function verifierFor(opts: AuthOptions): Verify {
  let verify = verifiers.get(opts);
  if (verify === undefined) {
    verify = createVerifier({
      key: Buffer.from(opts.secret),
      algorithms: ['HS256'],
      cache: false,
      requiredClaims: ['exp', ...(opts.issuer === undefined ? [] : ['iss']), ...(opts.audience === undefined ? [] : ['aud'])],
      ...(opts.issuer === undefined ? {} : { allowedIss: opts.issuer }),
      ...(opts.audience === undefined ? {} : { allowedAud: opts.audience }),
    }) as Verify;
    verifiers.set(opts, verify);
  }
  return verify;
}

/** Signature, standard claims and lifetime; the payload of a token this deployment issued. */
function verifiedPayload(token: string, opts: AuthOptions, now: number): Record<string, unknown> {
  let payload: Record<string, unknown>;
  try {
    payload = verifierFor(opts)(token);
  } catch (err) {
    if (err instanceof TokenError && err.code === TokenError.codes.expired) throw new AuthError('expired_token', 'token expired');
    if (err instanceof TokenError && err.code === TokenError.codes.missingRequiredClaim) throw new AuthError('invalid_token', `token lacks a required claim (${err.message})`);
    if (err instanceof TokenError && err.code === TokenError.codes.invalidClaimValue) throw new AuthError('invalid_token', 'token issuer or audience is not accepted');
    throw new AuthError('invalid_token', 'token signature or claims are not valid');
  }
  const exp = payload.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new AuthError('invalid_token', 'token exp must be a number');
  const max = opts.maxLifetimeSec;
  if (exp - now > max) throw new AuthError('invalid_token', `token lives longer than the maximum of ${max} s`);
  if (typeof payload.iat === 'number' && exp - payload.iat > max) throw new AuthError('invalid_token', `token lives longer than the maximum of ${max} s (exp - iat)`);
  if (!isValidToken(payload.sub)) {
    throw new AuthError('invalid_user', 'token subject must be a user id of 1-64 letters, digits, "_" or "-"');
  }
  return payload;
}

/** Verifies a user token (a connection's, a refresh's, or an HTTP caller's). */
export function verifyToken(token: string, opts: AuthOptions, now = Date.now() / 1000): Principal {
  const payload = verifiedPayload(token, opts, now);
  if (payload.typ !== undefined && payload.typ !== 'user') throw new AuthError('invalid_token', `a ${JSON.stringify(payload.typ)} token is not a user token`);
  const grants = parseGrants(payload.grants);
  if (grants === null) throw new AuthError('invalid_token', 'grants must be { join?, history?, publish? }, each a list of room names or patterns ending in "*"');
  return { userId: payload.sub as string, exp: payload.exp as number, grants };
}

const roomTokenClaims = z.object({
  typ: z.literal('room'),
  room: z.string(),
  act: z.array(z.enum(['join', 'history', 'publish'])).min(1).max(3),
});

/** Verifies a room token: HS256 with AUTH_SECRET, `typ: "room"`, for one room and some actions. */
export function verifyRoomToken(token: string, opts: AuthOptions, now = Date.now() / 1000): RoomToken {
  const payload = verifiedPayload(token, opts, now);
  const claims = roomTokenClaims.safeParse(payload);
  if (!claims.success) throw new AuthError('invalid_token', 'a room token needs typ "room", a room and act (join, history, publish)');
  const room = parseRoom(claims.data.room);
  if (room === null) throw new AuthError('invalid_token', 'room token names no valid room');
  return { userId: payload.sub as string, room: room.room, act: new Set(claims.data.act), exp: payload.exp as number };
}

/** Authenticates a WebSocket upgrade: a verified user token, or (dev switch only) `?user=`. */
export function authenticate(req: IncomingMessage, url: URL, opts: AuthOptions): Principal {
  const token = tokenFromRequest(req, url);
  if (token !== undefined) return verifyToken(token, opts);
  const devUser = url.searchParams.get('user');
  if (opts.allowDevUser && devUser !== null) {
    if (!isValidToken(devUser)) throw new AuthError('invalid_user', 'user must be 1-64 letters, digits, "_" or "-"');
    return { userId: devUser, exp: null, grants: parseGrants(undefined) ?? { join: [], history: [], publish: [] } };
  }
  throw new AuthError('missing_token', 'a bearer token is required (Authorization header, ?token= or Sec-WebSocket-Protocol)');
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** True when the header is `ApiKey <key>` with this deployment's key (compared in constant time). */
export function isServerApiKey(header: string | undefined, key: string | undefined): boolean {
  if (header === undefined || key === undefined) return false;
  const match = /^ApiKey\s+(\S+)$/i.exec(header);
  if (match?.[1] === undefined) return false;
  return timingSafeEqual(digest(match[1]), digest(key));
}
