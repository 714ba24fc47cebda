import { SignJWT } from 'jose';

export interface TokenOptions {
  admin?: boolean;
  /** Seconds until expiry; negative gives an already expired token. Default one hour. */
  expiresInSec?: number;
}

/** Mints an HS256 JWT with `sub` = userId, as a deployment's auth service would. */
export async function mintToken(secret: string, userId: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(opts.admin === true ? { admin: true } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (opts.expiresInSec ?? 3600));
  return jwt.sign(new TextEncoder().encode(secret));
}

export const TEST_SECRET = 'test-secret-for-ws-fleet-integration-0123456789';
