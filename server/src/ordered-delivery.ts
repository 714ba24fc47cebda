/**
 * Per-connection, per-subject ordering: each connection has a cursor for its inbox and for each
 * room it joined, holding the last seq written to it. A live message is written only when it
 * follows the cursor; a duplicate (seq at or below the cursor) is dropped; a message whose `prev`
 * is past the cursor reveals a gap, which is filled from JetStream before anything newer is
 * written. While a replay runs, live messages for that cursor wait in a buffer.
 * The result: a client sees each subject's messages in seq order, with no gap and no repeat.
 */
import type { ClientConnection } from './connections.js';
import type { History, HistoryEntry } from './history.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { ServerFrame } from './protocol.js';

export interface LiveItem {
  seq: number;
  prev: number;
  frame: Extract<ServerFrame, { type: 'message' }>;
}

export interface Cursor {
  last: number;
  replaying: boolean;
  buffer: LiveItem[];
}

export type ResumeTrigger = 'resume' | 'cursor' | 'gap' | 'reconnect' | 'tail';

export class OrderedDelivery {
  constructor(
    private readonly history: History,
    private readonly write: (conn: ClientConnection, text: string) => boolean,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Creates a cursor that buffers live messages until `start` (or `startAtTail`) settles it. */
  hold(conn: ClientConnection, subject: string): Cursor {
    const cursor: Cursor = { last: 0, replaying: true, buffer: [] };
    conn.cursors.set(subject, cursor);
    return cursor;
  }

  /** Settles a held cursor: writes the stored messages after `after`, then what was buffered. */
  async start(conn: ClientConnection, subject: string, after: number, trigger: ResumeTrigger): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    cursor.last = after;
    await this.replay(conn, subject, cursor, trigger);
  }

  /** Settles a held cursor at the subject's current end: live messages only from here on. */
  async startAtTail(conn: ClientConnection, subject: string): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    try {
      cursor.last = Math.max(cursor.last, await this.history.lastSequenceOf(subject));
    } catch (err) {
      this.log.warn({ err, conn: conn.id, subject }, 'could not read the tail; taking live messages as they come');
      cursor.last = Number.NEGATIVE_INFINITY;
    }
    this.release(conn, subject, cursor);
  }

  /** A live message for this connection. True when written or queued behind a replay. */
  offer(conn: ClientConnection, subject: string, item: LiveItem): boolean {
    const cursor = conn.cursors.get(subject);
    if (cursor === undefined) return false;
    if (cursor.replaying) {
      cursor.buffer.push(item);
      return true;
    }
    if (item.seq <= cursor.last) return false;
    if (item.prev > cursor.last && Number.isFinite(cursor.last)) {
      cursor.buffer.push(item);
      void this.replay(conn, subject, cursor, 'gap');
      return true;
    }
    return this.writeItem(conn, cursor, item);
  }

  /** Checks the stream for anything past the cursor (after NATS came back, or a connect race). */
  async catchUp(conn: ClientConnection, subject: string, trigger: ResumeTrigger): Promise<void> {
    const cursor = conn.cursors.get(subject);
    if (cursor === undefined || cursor.replaying || !Number.isFinite(cursor.last)) return;
    const tail = await this.history.lastSequenceOf(subject);
    if (tail > cursor.last) await this.replay(conn, subject, cursor, trigger);
  }

  private async replay(conn: ClientConnection, subject: string, cursor: Cursor, trigger: ResumeTrigger): Promise<void> {
    if (cursor.replaying && trigger === 'gap') return;
    cursor.replaying = true;
    this.metrics.resumes.inc({ trigger });
    try {
      for await (const entry of this.history.after(subject, cursor.last)) {
        if (conn.cursors.get(subject) !== cursor) return;
        if (!this.writeItem(conn, cursor, toLiveItem(entry))) break;
        this.metrics.replayedMessages.inc();
      }
    } catch (err) {
      this.log.warn({ err, conn: conn.id, subject, after: cursor.last }, 'replay from history failed; live messages continue');
    }
    this.release(conn, subject, cursor);
  }

  /** Ends a replay: writes buffered live messages in seq order, skipping what was already written. */
  private release(conn: ClientConnection, subject: string, cursor: Cursor): void {
    cursor.replaying = false;
    const buffered = cursor.buffer.sort((a, b) => a.seq - b.seq);
    cursor.buffer = [];
    for (const item of buffered) {
      // History had nothing between the cursor and this message (trimmed by retention): take it.
      if (item.seq > cursor.last) this.writeItem(conn, cursor, item);
    }
    if (conn.cursors.get(subject) !== cursor) return;
  }

  private writeItem(conn: ClientConnection, cursor: Cursor, item: LiveItem): boolean {
    if (!this.write(conn, JSON.stringify({ ...item.frame, seq: item.seq }))) return false;
    cursor.last = item.seq;
    return true;
  }
}

function toLiveItem(entry: HistoryEntry): LiveItem {
  const m = entry.message;
  const frame: LiveItem['frame'] = m.kind === 'room'
    ? { type: 'message', room: m.room, from: m.from, data: m.data, ts: m.ts }
    : { type: 'message', from: m.from, data: m.data, ts: m.ts };
  return { seq: entry.seq, prev: m.prev, frame };
}
