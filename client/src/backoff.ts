/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0 and
 * min(maxMs, initialMs · factor^attempt)), and a short jittered delay for the close codes that ask
 * for a quick reconnect (1012 service restart, 1013 try again later).
 */

export interface BackoffOptions {
  /** Ceiling of the first delay (ms). Default 250. */
  initialMs?: number;
  /** Largest ceiling (ms). Default 15000. */
  maxMs?: number;
  /** Growth of the ceiling per failed attempt. Default 2. */
  factor?: number;
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 15_000, factor: 2 };
/** Ceiling of a quick reconnect's delay (ms): enough spread that a drained replica's clients do not arrive at once. */
export const QUICK_RECONNECT_MAX_MS = 1_000;

/** Validates options, naming the bad value. */
export function backoffPolicy(opts: BackoffOptions = {}): BackoffPolicy {
  const p = { ...DEFAULT_BACKOFF, ...stripUndefined(opts) };
  if (!Number.isFinite(p.initialMs) || p.initialMs < 0) throw new RangeError(`reconnect.initialMs must be a number ≥ 0, got ${String(p.initialMs)}`);
  if (!Number.isFinite(p.maxMs) || p.maxMs < p.initialMs) throw new RangeError(`reconnect.maxMs must be a number ≥ initialMs (${p.initialMs}), got ${String(p.maxMs)}`);
  if (!Number.isFinite(p.factor) || p.factor < 1) throw new RangeError(`reconnect.factor must be a number ≥ 1, got ${String(p.factor)}`);
  return p;
}

/** The ceiling for attempt `attempt` (0 = first retry). */
export function backoffCeiling(policy: BackoffPolicy, attempt: number): number {
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempt));
}

/** Full jitter: uniform in [0, ceiling). `random` returns [0, 1) like Math.random. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(policy, attempt));
}

/** Delay for a quick reconnect (1012/1013): uniform in [0, min(QUICK_RECONNECT_MAX_MS, maxMs)). */
export function quickDelay(policy: BackoffPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(QUICK_RECONNECT_MAX_MS, policy.maxMs));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
