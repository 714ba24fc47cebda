/**
 * HS256 JWTs minted inside the k6 script from the deployment's secret, as the deployment's own
 * auth service would: header.payload signed with HMAC-SHA256, all base64url without padding.
 */
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';

const HEADER = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');

/** A token for `userId` (the `sub` claim), valid from 5 s ago for `ttlSec` seconds. */
export function mintToken(secret, userId, ttlSec) {
  const now = Math.floor(Date.now() / 1000);
  const payload = encoding.b64encode(JSON.stringify({ sub: userId, iat: now - 5, exp: now + ttlSec }), 'rawurl');
  const signingInput = `${HEADER}.${payload}`;
  const signature = crypto.hmac('sha256', secret, signingInput, 'base64rawurl');
  return `${signingInput}.${signature}`;
}
