import { createSigner } from 'fast-jwt';

export interface TokenOptions {
  admin?: boolean;
  /** Seconds until expiry; negative gives an already expired token. Default one hour. */
  expiresInSec?: number;
}

/** One HS256 signer per secret: load generators mint tens of thousands of tokens. */
const signers = new Map<string, (claims: Record<string, unknown>) => string>();

/** Signs an HS256 JWT with `sub` = userId, `iat` 5 s ago and `exp`, as a deployment's auth service would. */
export function signToken(secret: string, userId: string, opts: TokenOptions = {}): string {
  let sign = signers.get(secret);
  if (sign === undefined) {
    sign = createSigner({ key: secret, algorithm: 'HS256', noTimestamp: true });
    signers.set(secret, sign);
  }
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: userId, iat: now - 5, exp: now + (opts.expiresInSec ?? 3600), ...(opts.admin === true ? { admin: true } : {}) });
}

/** `signToken` for callers that await it. */
export function mintToken(secret: string, userId: string, opts: TokenOptions = {}): Promise<string> {
  return Promise.resolve(signToken(secret, userId, opts));
}

export const TEST_SECRET = 'test-secret-for-ws-fleet-integration-0123456789';
