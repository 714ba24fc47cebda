/**
 * The demo's one setting, DEV_TOKENS (default false): when true, POST /dev/token mints a user token
 * for any name. Parsed here, at startup, with an error naming the bad value.
 */
const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no', '']);

export class DemoConfigError extends Error {}

export function parseDevTokens(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new DemoConfigError(`DEV_TOKENS must be one of true, false, 1, 0, yes, no (got ${JSON.stringify(raw)})`);
}

/** Lifetime of a dev token (s). */
export const DEV_TOKEN_TTL_SEC = 3_600;
