/**
 * POST /dev/token {"user":"anne"} → {"token":…}: a user token for any valid name, so the demo can
 * be tried without an identity provider. Only when DEV_TOKENS=true; otherwise 404 with a JSON body
 * saying so (the page shows it).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSigner } from 'fast-jwt';
import { z } from 'zod';
import { readJsonBody, sendJson } from '../http-util.js';
import { isValidToken } from '../subjects.js';
import { DEV_TOKEN_TTL_SEC } from './demo-config.js';

const body = z.object({ user: z.string().refine(isValidToken, 'must be a user id of 1-64 letters, digits, "_" or "-"') });
const MAX_BODY_BYTES = 1_024;
/** `{"user":…}` is one level deep; anything deeper is a client's mistake (400). */
const MAX_BODY_DEPTH = 4;

export type DevTokenHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function devTokenHandler(enabled: boolean, secret: Uint8Array): DevTokenHandler {
  const sign = createSigner({ key: Buffer.from(secret), algorithm: 'HS256', expiresIn: DEV_TOKEN_TTL_SEC * 1000 });
  return async (req, res) => {
    if (!enabled) {
      sendJson(res, 404, { error: 'dev_tokens_off', message: 'dev tokens are off on this deployment (DEV_TOKENS=true turns them on); sign in with a token' });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method_not_allowed', message: '/dev/token takes POST' }, { allow: 'POST' });
      return;
    }
    const parsed = body.safeParse(await readJsonBody(req, MAX_BODY_BYTES, MAX_BODY_DEPTH));
    if (!parsed.success) {
      sendJson(res, 400, { error: 'bad_request', message: `field "user" ${parsed.error.issues[0]?.message ?? 'is invalid'}` });
      return;
    }
    const token = (sign as (payload: Record<string, unknown>) => string)({ sub: parsed.data.user });
    sendJson(res, 200, { token, user: parsed.data.user, expiresInSec: DEV_TOKEN_TTL_SEC }, { 'cache-control': 'no-store' });
  };
}
