/**
 * Per-connection, per-subject ordering: each connection has a cursor for its inbox and for each
 * room it joined, holding the last seq written to it. A live message is written only when it
 * follows the cursor; a duplicate (seq at or below the cursor) is dropped; a message whose `prev`
 * is past the cursor reveals a gap, which is filled from JetStream before anything newer is
 * written. While a replay runs, live messages for that cursor wait in a buffer.
 * The result: a client sees each subject's messages in seq order, with no gap and no repeat.
 */
import type { ClientConnection } from './connections.js';
import type { SocketWriter } from './delivery.js';
import type { History, HistoryEntry } from './history.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { ServerFrame } from './protocol.js';

export interface LiveItem {
  seq: number;
  prev: number;
  frame: Extract<ServerFrame, { type: 'message' }>;
  /** The frame with its seq as UTF-8 JSON, made by the first write: every member of a room gets the same bytes. */
  bytes?: Buffer;
}

export interface Cursor {
  last: number;
  /** True while a replay is queued or running: live messages wait in `buffer`. */
  replaying: boolean;
  buffer: LiveItem[];
  /** Replays for one cursor run one after the other. */
  work: Promise<void>;
  runs: number;
  /** A release already asked history once more for a gap it saw; take what comes next. */
  retried: boolean;
}

export type ResumeTrigger = 'resume' | 'cursor' | 'gap' | 'reconnect' | 'tail';

export class OrderedDelivery {
  constructor(
    private readonly history: History,
    private readonly write: SocketWriter,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Creates a cursor that buffers live messages until `start` (or `startAtTail`) settles it. */
  hold(conn: ClientConnection, subject: string): Cursor {
    const cursor: Cursor = { last: 0, replaying: true, buffer: [], work: Promise.resolve(), runs: 0, retried: false };
    conn.cursors.set(subject, cursor);
    return cursor;
  }

  /** Writes the stored messages after `after`, then what was buffered meanwhile. */
  start(conn: ClientConnection, subject: string, after: number, trigger: ResumeTrigger): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    return this.run(conn, subject, cursor, trigger, async () => {
      cursor.last = after;
      await this.replayAfterLast(conn, subject, cursor);
    });
  }

  /** Settles a held cursor at the subject's current end: live messages only from here on. */
  startAtTail(conn: ClientConnection, subject: string): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    return this.run(conn, subject, cursor, 'tail', async () => {
      try {
        cursor.last = Math.max(cursor.last, await this.history.lastSequenceOf(subject));
      } catch (err) {
        this.log.warn({ err, conn: conn.id, subject }, 'could not read the tail; taking live messages as they come');
        cursor.last = Number.NEGATIVE_INFINITY;
      }
    }, false);
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
      // A hole in the chain: fetch it from history before writing this one.
      cursor.buffer.push(item);
      void this.run(conn, subject, cursor, 'gap', () => this.replayAfterLast(conn, subject, cursor));
      return true;
    }
    return this.writeItem(conn, cursor, item);
  }

  /** Checks history for anything past the cursor (after NATS came back, or a connect race). */
  catchUp(conn: ClientConnection, subject: string, trigger: ResumeTrigger): Promise<void> {
    const cursor = conn.cursors.get(subject);
    if (cursor === undefined || !Number.isFinite(cursor.last)) return Promise.resolve();
    return this.run(conn, subject, cursor, trigger, async () => {
      if ((await this.history.lastSequenceOf(subject)) > cursor.last) await this.replayAfterLast(conn, subject, cursor);
    }, false);
  }

  private run(conn: ClientConnection, subject: string, cursor: Cursor, trigger: ResumeTrigger, job: () => Promise<void>, counts = true): Promise<void> {
    cursor.replaying = true;
    cursor.runs += 1;
    if (counts) this.metrics.resumes.inc({ trigger });
    const done = cursor.work
      .then(job)
      .catch((err: unknown) => {
        this.log.warn({ err, conn: conn.id, subject, after: cursor.last }, 'replay from history failed; live messages continue');
      })
      .then(() => {
        cursor.runs -= 1;
        if (cursor.runs === 0) this.release(conn, subject, cursor);
      });
    cursor.work = done;
    return done;
  }

  private async replayAfterLast(conn: ClientConnection, subject: string, cursor: Cursor): Promise<void> {
    for await (const entry of this.history.after(subject, cursor.last)) {
      if (conn.cursors.get(subject) !== cursor) return;
      if (entry.seq <= cursor.last) continue;
      if (!this.writeItem(conn, cursor, toLiveItem(entry))) return;
      this.metrics.replayedMessages.inc();
    }
  }

  /** Ends replaying: writes buffered live messages in seq order, skipping what was already written. */
  private release(conn: ClientConnection, subject: string, cursor: Cursor): void {
    cursor.replaying = false;
    const buffered = cursor.buffer.sort((a, b) => a.seq - b.seq);
    cursor.buffer = [];
    for (let i = 0; i < buffered.length; i++) {
      const item = buffered[i];
      if (item === undefined || item.seq <= cursor.last) continue;
      if (item.prev > cursor.last && Number.isFinite(cursor.last) && !cursor.retried) {
        // Still a hole (history was read before the message landed): ask once more.
        cursor.retried = true;
        cursor.buffer.push(...buffered.slice(i));
        void this.run(conn, subject, cursor, 'gap', () => this.replayAfterLast(conn, subject, cursor));
        return;
      }
      // History had nothing between the cursor and this message (trimmed by retention): take it.
      this.writeItem(conn, cursor, item);
    }
    cursor.retried = false;
  }

  private writeItem(conn: ClientConnection, cursor: Cursor, item: LiveItem): boolean {
    item.bytes ??= Buffer.from(JSON.stringify({ ...item.frame, seq: item.seq }));
    if (!this.write(conn, item.bytes)) return false;
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
