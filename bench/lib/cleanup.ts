/** Clean-ups an interrupted bench (Ctrl-C) still runs: stopping clusters removes their temp dirs. */
const cleanups = new Set<() => Promise<void>>();

export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Runs every registered clean-up, bounded in time. */
export async function runCleanups(timeoutMs = 15_000): Promise<void> {
  await Promise.race([Promise.allSettled([...cleanups].map((fn) => fn())), new Promise((r) => setTimeout(r, timeoutMs))]);
}
