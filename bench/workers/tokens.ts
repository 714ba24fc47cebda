/**
 * Client credentials for the bench's generated users: an HS256 JWT (replicas) or a plain ?user= (bare
 * server). The JWT is the same one tests/support/tokens.ts mints with jose (header {alg:HS256,typ:JWT},
 * claims sub/iat/exp), signed here with node:crypto's HMAC directly: a load generator mints tens of
 * thousands, and jose's WebCrypto path costs the generator more CPU than the handshake itself.
 */
import { createHmac } from 'node:crypto';

export type ClientAuth = { kind: 'token'; secret: string } | { kind: 'user' };

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function mintHs256(secret: string, userId: string, ttlSec = 6 * 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(JSON.stringify({ sub: userId, iat: now - 5, exp: now + ttlSec })).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** The query string that identifies `user` to the server, e.g. "token=eyJ..." or "user=u1". */
export function authQuery(auth: ClientAuth, user: string): Promise<string> {
  if (auth.kind === 'user') return Promise.resolve(`user=${encodeURIComponent(user)}`);
  return Promise.resolve(`token=${mintHs256(auth.secret, user)}`);
}

export function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}
