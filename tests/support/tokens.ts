import { createSigner } from 'fast-jwt';

export interface TokenGrants {
  join?: string[];
  history?: string[];
  publish?: string[];
}

export interface TokenOptions {
  /** Kept for older callers: the server ignores an `admin` claim (no user token grants admin). */
  admin?: boolean;
  /** Seconds until expiry; negative gives an already expired token. Default one hour. */
  expiresInSec?: number;
  /** Leave `exp` out (the server refuses such a token). */
  noExp?: boolean;
  /** `iat` this many seconds ago (default 5). */
  issuedAgoSec?: number;
  grants?: TokenGrants;
  iss?: string;
  aud?: string;
  /** Extra claims, merged last (e.g. `typ`). */
  claims?: Record<string, unknown>;
}

/** One HS256 signer per secret: load generators mint tens of thousands of tokens. */
const signers = new Map<string, (claims: Record<string, unknown>) => string>();

function signerFor(secret: string): (claims: Record<string, unknown>) => string {
  let sign = signers.get(secret);
  if (sign === undefined) {
    sign = createSigner({ key: secret, algorithm: 'HS256' });
    signers.set(secret, sign);
  }
  return sign;
}

/** Signs an HS256 JWT with `sub` = userId, `iat` 5 s ago and `exp`, as a deployment's auth service would. */
export function signToken(secret: string, userId: string, opts: TokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signerFor(secret)({
    sub: userId,
    iat: now - (opts.issuedAgoSec ?? 5),
    ...(opts.noExp === true ? {} : { exp: now + (opts.expiresInSec ?? 3600) }),
    ...(opts.admin === true ? { admin: true } : {}),
    ...(opts.grants === undefined ? {} : { grants: opts.grants }),
    ...(opts.iss === undefined ? {} : { iss: opts.iss }),
    ...(opts.aud === undefined ? {} : { aud: opts.aud }),
    ...opts.claims,
  });
}

/** `signToken` for callers that await it. */
export function mintToken(secret: string, userId: string, opts: TokenOptions = {}): Promise<string> {
  return Promise.resolve(signToken(secret, userId, opts));
}

/** A room token (`typ: "room"`), as an application would issue to a browser for one room. */
export function signRoomToken(secret: string, userId: string, room: string, act: ('join' | 'history' | 'publish')[], opts: { expiresInSec?: number } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signerFor(secret)({ typ: 'room', sub: userId, room, act, iat: now - 5, exp: now + (opts.expiresInSec ?? 600) });
}

export const TEST_SECRET = 'test-secret-for-ws-fleet-integration-0123456789';

/** The server API key the test harness gives its replicas (SERVER_API_KEY). */
export const TEST_SERVER_API_KEY = 'test-server-api-key-for-ws-fleet-0123456789';

/**
 * The namespaces the test harness gives its replicas unless told otherwise: the default namespace
 * open to every authenticated user (so tests of routing and durability use plain room names).
 */
export const TEST_NAMESPACES = {
  default: { join: 'authenticated', history: 'members', publish: 'members', keepHistory: true, historyMaxAgeSec: 3600, historyMaxMsgs: 10_000 },
} as const;
