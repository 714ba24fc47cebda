import { createSigner } from 'fast-jwt';

export interface TokenOptions {
  admin?: boolean;
  /** Seconds until expiry; negative gives an already expired token. Default one hour. */
  expiresInSec?: number;
}

/** Mints an HS256 JWT with `sub` = userId, as a deployment's auth service would. */
export function mintToken(secret: string, userId: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const sign = createSigner({ key: secret, algorithm: 'HS256', noTimestamp: true });
  const claims = { sub: userId, iat: now - 5, exp: now + (opts.expiresInSec ?? 3600), ...(opts.admin === true ? { admin: true } : {}) };
  return Promise.resolve(sign(claims));
}

export const TEST_SECRET = 'test-secret-for-ws-fleet-integration-0123456789';
