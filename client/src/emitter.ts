/** A small typed event emitter: `on` returns the unsubscribe function; a throwing listener does not stop the others. */
export type Listener = (...args: never[]) => void;

export class Emitter<Events extends { [K in keyof Events]: Listener }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  constructor(private readonly onListenerError: (err: unknown) => void = (err) => { queueMicrotask(() => { throw err; }); }) {}

  on<E extends keyof Events>(event: E, fn: Events[E]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn);
    return () => { set.delete(fn); };
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const fn of [...set]) {
      try {
        (fn as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  clear(): void {
    this.listeners.clear();
  }
}
