/**
 * Items queued during one event-loop turn and handed over together from a setImmediate (the check
 * phase, after every I/O callback of the turn), in the order queued. nats.js writes what was
 * published since its last flush on a microtask, and Node runs the microtasks after every I/O
 * callback and after every setImmediate callback: publishing from here, the NATS publishes of all
 * the client frames read in one turn share one socket write instead of one each. The delay is the
 * rest of the current turn.
 *
 * Queues share a Turn: every queue of a turn is drained from the same setImmediate callback, so
 * the fire-and-forget publishes (publish-batch.ts) and the requests (reply-inbox.ts) of one turn
 * reach the NATS socket in one write, not one per queue.
 */

interface Drainable { flush(): void }

/** One setImmediate per event-loop turn for all the queues that have something queued. */
export class Turn {
  private due: Drainable[] = [];

  /** Drains `queue` at the end of this turn, after the queues that asked before it. */
  schedule(queue: Drainable): void {
    this.due.push(queue);
    if (this.due.length === 1) setImmediate(() => { this.run(); });
  }

  private run(): void {
    const due = this.due;
    this.due = [];
    for (const queue of due) queue.flush();
  }
}

/** The turn every queue of this process shares unless given its own. */
export const processTurn = new Turn();

export class TurnQueue<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(private readonly drain: (items: T[]) => void, private readonly turn: Turn = processTurn) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    this.turn.schedule(this);
  }

  /** Hands over everything queued now (the turn's work; callable earlier). */
  flush(): void {
    this.scheduled = false;
    const items = this.items;
    this.items = [];
    if (items.length > 0) this.drain(items);
  }
}
