/**
 * Counts by key: what the workers tally (welcomes by replica, sends not acknowledged by reason,
 * closes by kind) and the runner adds up.
 */

/** One more of `key`. */
export function tally(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Adds a worker's counts (sent as a plain object) into the run's. */
export function addTallies(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/**
 * A close's kind: its code and reason, with the numbers in the reason written as N, so that closes
 * of one kind ("1006 nothing received for 50013 ms" and "… 50047 ms") count as one.
 */
export function closeKind(code: number, reason: string): string {
  const why = reason.slice(0, 60).replace(/\d+/g, 'N');
  return why === '' ? String(code) : `${code} ${why}`;
}
