/**
 * Client credentials for the bench's generated users: an HS256 JWT (replicas) or a plain ?user= (bare
 * server). The JWT is the tests' own (tests/support/tokens.ts), valid for 6 h here.
 */
import { signToken } from '../../tests/support/tokens.js';

export type ClientAuth = { kind: 'token'; secret: string } | { kind: 'user' };

export function mintHs256(secret: string, userId: string, ttlSec = 6 * 3600): string {
  return signToken(secret, userId, { expiresInSec: ttlSec });
}

/** The query string that identifies `user` to the server, e.g. "token=eyJ..." or "user=u1". */
export function authQuery(auth: ClientAuth, user: string): Promise<string> {
  if (auth.kind === 'user') return Promise.resolve(`user=${encodeURIComponent(user)}`);
  return Promise.resolve(`token=${mintHs256(auth.secret, user)}`);
}

export function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}
