/**
 * Who is on the other end: verifies HS256 JWTs (fast-jwt) and finds the token in a request.
 */
import type { IncomingMessage } from 'node:http';
import { TokenError, createVerifier } from 'fast-jwt';
import { isValidToken } from './subjects.js';

export interface Principal {
  userId: string;
  admin: boolean;
}

export class AuthError extends Error {
  constructor(readonly code: 'missing_token' | 'invalid_token' | 'expired_token' | 'invalid_user', message: string) {
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

type Verify = (token: string) => Record<string, unknown>;

/**
 * One synchronous HS256 verifier per secret (fast-jwt, on node:crypto): about 8 CPU-µs a token,
 * where a WebCrypto-based verifier costs 35-75 µs and a job on the thread pool (measured).
 * It checks the signature, `alg` (HS256 only: no "none", no RS/HS confusion), `exp` and `nbf`.
 */
const verifiers = new WeakMap<Uint8Array, Verify>();
function verifierFor(secret: Uint8Array): Verify {
  let verify = verifiers.get(secret);
  if (verify === undefined) {
    verify = createVerifier({ key: Buffer.from(secret), algorithms: ['HS256'], cache: false }) as Verify;
    verifiers.set(secret, verify);
  }
  return verify;
}

export function verifyToken(token: string, secret: Uint8Array): Principal {
  let payload: Record<string, unknown>;
  try {
    payload = verifierFor(secret)(token);
  } catch (err) {
    if (err instanceof TokenError && err.code === TokenError.codes.expired) throw new AuthError('expired_token', 'token expired');
    throw new AuthError('invalid_token', 'token signature or claims are not valid');
  }
  if (!isValidToken(payload.sub)) {
    throw new AuthError('invalid_user', 'token subject must be a user id of 1-64 letters, digits, "_" or "-"');
  }
  return { userId: payload.sub, admin: payload.admin === true };
}

export interface AuthOptions {
  secret: Uint8Array;
  allowDevUser: boolean;
}

/** Authenticates an HTTP request or upgrade: a verified token, or (dev switch only) `?user=`. */
export function authenticate(req: IncomingMessage, url: URL, opts: AuthOptions): Principal {
  const token = tokenFromRequest(req, url);
  if (token !== undefined) return verifyToken(token, opts.secret);
  const devUser = url.searchParams.get('user');
  if (opts.allowDevUser && devUser !== null) {
    if (!isValidToken(devUser)) throw new AuthError('invalid_user', 'user must be 1-64 letters, digits, "_" or "-"');
    return { userId: devUser, admin: false };
  }
  throw new AuthError('missing_token', 'a bearer token is required (Authorization header, ?token= or Sec-WebSocket-Protocol)');
}
