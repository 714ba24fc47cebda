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
}

export class CursorStore {
  constructor(private readonly kv: KV, private readonly log: Logger) {}

  async load(userId: string): Promise<number> {
    const entry = await this.kv.get(userId);
    if (entry === null || entry.operation !== 'PUT') return 0;
    const seq = (entry.json<Partial<Record<keyof CursorValue, unknown>>>()).seq;
    return typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : 0;
  }

  save(userId: string, seq: number): void {
    const value: CursorValue = { seq, at: Date.now() };
    this.kv.put(userId, JSON.stringify(value)).catch((err: unknown) => {
      this.log.warn({ err, user: userId }, 'could not save the inbox cursor');
    });
  }
}
