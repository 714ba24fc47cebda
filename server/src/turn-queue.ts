/**
 * Items queued during one event-loop turn and handed over together from a setImmediate (the check
 * phase, after every I/O callback of the turn), in the order queued. nats.js writes what was
 * published since its last flush on a microtask, and Node runs the microtasks after every I/O
 * callback: publishing from here, the NATS publishes of all the client frames read in one turn
 * share one socket write instead of one each. The delay is the rest of the current turn.
 */
export class TurnQueue<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly drain: (items: T[]) => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.flush(); });
  }

  /** Hands over everything queued now (the setImmediate's work; callable earlier). */
  flush(): void {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    if (items.length > 0) this.drain(items);
  }
}
