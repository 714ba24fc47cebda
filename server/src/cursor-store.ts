/**
 * Where a user's inbox stood when their socket closed (KV bucket wsf_cursors, key = user id).
 * A connection that brings no `resume` starts from here, so a user who was offline gets what
 * was sent meanwhile; a user never seen before starts from the beginning of the retained history.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from './logger.js';

/** The value of a user's key in wsf_cursors. */
export interface CursorValue {
  /** The last inbox seq whose bytes a socket of the user handed to the kernel. */
  seq: number;
  /** When it was saved (ms since the epoch). */
  at: number;
  /** The streams' epoch the seq belongs to (stream-epoch.ts); absent in cursors saved before epochs. */
  epoch?: string;
}

/** A stored cursor as read: seq 0 (and no epoch) when there is none. */
export interface StoredCursor {
  seq: number;
  epoch: string | undefined;
}

export class CursorStore {
  /** `epoch`: the streams' current epoch, saved with every cursor. */
  constructor(private readonly kv: KV, private readonly log: Logger, private readonly epoch: string) {}

  async load(userId: string): Promise<StoredCursor> {
    const entry = await this.kv.get(userId);
    if (entry === null || entry.operation !== 'PUT') return { seq: 0, epoch: undefined };
    const value = entry.json<Partial<Record<keyof CursorValue, unknown>>>();
    const seq = typeof value.seq === 'number' && Number.isInteger(value.seq) && value.seq >= 0 ? value.seq : 0;
    return { seq, epoch: typeof value.epoch === 'string' ? value.epoch : undefined };
  }

  save(userId: string, seq: number): void {
    const value: CursorValue = { seq, at: Date.now(), epoch: this.epoch };
    this.kv.put(userId, JSON.stringify(value)).catch((err: unknown) => {
      this.log.warn({ err, user: userId }, 'could not save the inbox cursor');
    });
  }
}
