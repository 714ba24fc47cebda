/**
 * Client credentials for the bench's generated users: an HS256 JWT (replicas) or a plain ?user= (bare
 * server). The JWT is the one tests/support/tokens.ts mints (fast-jwt, claims sub/iat/exp); a load
 * generator mints tens of thousands, so the signer is made once per secret.
 */
import { createSigner } from 'fast-jwt';

export type ClientAuth = { kind: 'token'; secret: string } | { kind: 'user' };

const signers = new Map<string, (claims: Record<string, unknown>) => string>();

export function mintHs256(secret: string, userId: string, ttlSec = 6 * 3600): string {
  let sign = signers.get(secret);
  if (sign === undefined) {
    sign = createSigner({ key: secret, algorithm: 'HS256', noTimestamp: true });
    signers.set(secret, sign);
  }
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, iat: now - 5, exp: now + ttlSec });
}

/** The query string that identifies `user` to the server, e.g. "token=eyJ..." or "user=u1". */
export function authQuery(auth: ClientAuth, user: string): Promise<string> {
  if (auth.kind === 'user') return Promise.resolve(`user=${encodeURIComponent(user)}`);
  return Promise.resolve(`token=${mintHs256(auth.secret, user)}`);
}

export function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}
