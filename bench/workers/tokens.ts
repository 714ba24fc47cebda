/** Client credentials for the bench's generated users: an HS256 JWT (replicas) or a plain ?user= (bare server). */
import { mintToken } from '../../tests/support/tokens.js';

export type ClientAuth = { kind: 'token'; secret: string } | { kind: 'user' };

/** The query string that identifies `user` to the server, e.g. "token=eyJ..." or "user=u1". */
export async function authQuery(auth: ClientAuth, user: string): Promise<string> {
  if (auth.kind === 'user') return `user=${encodeURIComponent(user)}`;
  return `token=${await mintToken(auth.secret, user, { expiresInSec: 6 * 3600 })}`;
}

export function withQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}
