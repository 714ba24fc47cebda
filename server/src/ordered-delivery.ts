/**
 * Per-connection, per-subject ordering: each connection has a cursor for its inbox and for each
 * room it joined, holding the last seq written to it. A live message is written only when it
 * follows the cursor; a duplicate (seq at or below the cursor) is dropped; a message whose `prev`
 * is past the cursor reveals a gap, which is filled from JetStream before anything newer is
 * written. While a replay runs, live messages for that cursor wait in a buffer.
 * The result: a client sees each subject's messages in seq order, with no gap and no repeat.
 *
 * A cursor moves past a hole only when retention made it: a history read answered by a replica
 * that is behind (direct gets may be) is read again until it reaches the tail it must reach
 * (the stream leader's last sequence, or the `prev` of the live message that showed the gap);
 * the leader is asked whether the missing message still exists, and only "no" lets the cursor
 * move on. A read that cannot be completed is retried, then the connection is closed with 1013
 * (the client resumes from its last seq): never a silent skip.
 *
 * Replays the client asked for (connect with resume or a stored cursor, `resume`, `join` with
 * `after`) are paged: at most `pageSize` messages, then a `replayed` frame saying where the page
 * ended and whether there is more. With more to come, live messages of that subject are not
 * written (a later page reads them from history) until the client asks for the next page.
 */
import { CloseCode, CloseReason } from './close-codes.js';
import type { ClientConnection, ConnectionWriter, Cursor, LiveItem } from './connections.js';
import { READ_BATCH_MAX, type HistoryEntry } from './history.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { subjects } from './subjects.js';
import { within } from './within.js';

/** What ordered delivery needs from the history (History implements it; tests pass a fake). */
export interface HistoryReader {
  /** The subject's last sequence as the stream leader knows it (0 when empty). */
  lastSequenceOf(subject: string): Promise<number>;
  /** The same as any replica knows it (a direct get): answers without a leader; may be behind, never ahead. */
  tailHint(subject: string): Promise<number>;
  /** Up to `limit` stored messages after `after`, in order; may stop short of the tail (a lagging replica), never skips one it has. */
  page(subject: string, after: number, limit: number): Promise<HistoryEntry[]>;
  /** Whether message `seq` of `subject` is still stored (asked of the leader): false means retention removed it. */
  isRetained(subject: string, seq: number): Promise<boolean>;
}

export type ResumeTrigger = 'resume' | 'cursor' | 'gap' | 'reconnect' | 'purged' | 'tail';

/** Sent after every replay the client asked for. */
export interface ReplayedFrame {
  type: 'replayed';
  room?: string;
  /** The last seq written (the `after` asked for when nothing was). */
  last: number;
  /** The page limit was hit: ask the next page with `resume` from `last`. */
  more: boolean;
  /** False when retention removed messages after `after` before they could be replayed. */
  recovered: boolean;
}

export interface OrderedDeliveryDeps {
  /** Where replays read from (History; tests pass a fake). */
  history: HistoryReader;
  /** Writes frames, and closes a connection whose history cannot be read (1013: reconnect and resume). */
  writer: ConnectionWriter;
  metrics: Metrics;
  log: Logger;
  /** Messages per client-asked replay page (REPLAY_PAGE_SIZE). */
  pageSize?: number;
  /** A replay waits while the socket holds more than this many unsent bytes (so it never trips the slow-consumer cap). */
  highWaterBytes?: number;
  /** Waits before reading again when a read stopped short of a tail the leader still holds. */
  lagRetryMs?: readonly number[];
  /** Waits before running a failed replay again; after the last, the connection is closed with 1013. */
  failureRetryMs?: readonly number[];
  /** The slow-consumer cap (MAX_BUFFERED_BYTES): the socket's unsent bytes plus what a replay holds back (default 2 × highWaterBytes). */
  maxBufferedBytes?: number;
  /** How long a replay waits for the stream leader's tail before it takes the nearest replica's (default 500 ms). */
  leaderTailWaitMs?: number;
  /** After a replay ended at the nearest replica's tail: how often, and how many times, the leader's is asked for (default 1000 ms, 60). */
  confirmTailEveryMs?: number;
  confirmTailAttempts?: number;
}

/** A subject's end, as the stream leader says it or, while it does not answer, as the nearest replica does. */
interface Tail {
  seq: number;
  /** False: the nearest replica's answer, which may be behind the leader's (confirmTail asks again). */
  confirmed: boolean;
}

const DEFAULT_PAGE_SIZE = 500;
/** How long after a cursor settles its late tail check runs (`checkTailSoon`). */
const LATE_TAIL_CHECK_MS = 1000;

/** Live messages held behind one cursor's replay before the connection is told to reconnect and resume instead. */
const BUFFER_MAX = 10_000;
/** How long a replay waits for the socket to drain below the high-water mark before giving up. */
const DRAIN_WAIT_MAX_MS = 30_000;

/** A history read stayed behind a tail the leader still holds: the cursor must not move past it. */
class HistoryBehindError extends Error {
  constructor(subject: string, last: number, target: number) {
    super(`history read for ${subject} stayed behind: at ${last}, the leader holds ${target}`);
    this.name = 'HistoryBehindError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class OrderedDelivery {
  private readonly pageSize: number;
  private readonly highWaterBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly lagRetryMs: readonly number[];
  private readonly failureRetryMs: readonly number[];
  private readonly leaderTailWaitMs: number;
  private readonly confirmTailEveryMs: number;
  private readonly confirmTailAttempts: number;

  constructor(private readonly deps: OrderedDeliveryDeps) {
    this.pageSize = deps.pageSize ?? DEFAULT_PAGE_SIZE;
    this.highWaterBytes = deps.highWaterBytes ?? 1024 * 1024;
    this.maxBufferedBytes = deps.maxBufferedBytes ?? 2 * this.highWaterBytes;
    this.lagRetryMs = deps.lagRetryMs ?? [5, 10, 20, 40, 80, 160, 320, 640];
    this.failureRetryMs = deps.failureRetryMs ?? [250, 500, 1000, 2000, 4000, 4000];
    this.leaderTailWaitMs = deps.leaderTailWaitMs ?? 500;
    this.confirmTailEveryMs = deps.confirmTailEveryMs ?? 1000;
    this.confirmTailAttempts = deps.confirmTailAttempts ?? 60;
  }

  /** Creates a cursor that buffers live messages until `start` (or `startAtTail`) settles it. */
  hold(conn: ClientConnection, subject: string): Cursor {
    const cursor: Cursor = { last: 0, delivered: 0, replaying: true, buffer: [], bufferBytes: 0, paused: false, trimmedTo: 0, work: Promise.resolve(), runs: 0 };
    conn.cursors.set(subject, cursor);
    return cursor;
  }

  /**
   * A replay the client asked for: one page of the stored messages after `after`, then a
   * `replayed` frame; when the page reached the tail, what was buffered meanwhile. With
   * `positionLost` the `replayed` frames say `recovered: false`.
   */
  start(conn: ClientConnection, subject: string, after: number, trigger: ResumeTrigger, positionLost = false): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    let first = true;
    // positionLost: the client's position was of another epoch (stream-epoch.ts); this replay cannot say it recovered.
    let recovered = !positionLost;
    let tail = 0;
    let written = 0;
    return this.run(conn, subject, cursor, trigger, async () => {
      if (first) {
        // Once per request: a retry after a failed read goes on from where the writes stopped.
        cursor.last = after;
        cursor.delivered = after;
        cursor.paused = false;
        clearBuffer(cursor);
        const end = await this.tailOf(subject);
        tail = end.seq;
        if (!end.confirmed) this.confirmTail(conn, subject, cursor);
        first = false;
      }
      const page = await this.replayTo(conn, subject, cursor, tail, this.pageSize - written, (n) => { written += n; });
      recovered &&= page.recovered;
      const more = written >= this.pageSize && cursor.last < tail;
      if (more) {
        cursor.paused = true;
        clearBuffer(cursor);
      }
      this.sendReplayed(conn, subject, { type: 'replayed', last: cursor.last, more, recovered });
    });
  }

  /**
   * Settles a held cursor at the subject's current end: live messages only from here on.
   * `onSettled` runs once the end is read and before anything held is written: a join's ack sent
   * there guarantees that every message published after the client saw the ack is past the cursor.
   */
  startAtTail(conn: ClientConnection, subject: string, onSettled?: (startsAfter: number | undefined) => void): Promise<void> {
    const cursor = conn.cursors.get(subject) ?? this.hold(conn, subject);
    let settled = false;
    return this.run(conn, subject, cursor, 'tail', async () => {
      try {
        // A replica's tail that is behind the leader's starts the cursor a little early: a few
        // older messages, never a missed one.
        const end = await this.tailOf(subject);
        cursor.last = Math.max(cursor.last, end.seq);
        cursor.delivered = Math.max(cursor.delivered, cursor.last);
        if (!end.confirmed) this.confirmTail(conn, subject, cursor);
      } catch (err) {
        this.deps.log.warn({ err, conn: conn.id, subject }, 'could not read the tail; taking live messages as they come');
        cursor.last = Number.NEGATIVE_INFINITY;
      }
      if (!settled) onSettled?.(Number.isFinite(cursor.last) ? cursor.last : undefined);
      settled = true;
    }, false);
  }

  /**
   * A check of history a moment after a cursor settled: a message published while this replica's
   * interest was still reaching the rest of the NATS cluster went to history only.
   */
  checkTailSoon(conn: ClientConnection, subject: string, delayMs = LATE_TAIL_CHECK_MS): void {
    setTimeout(() => {
      if (conn.socket.readyState === conn.socket.OPEN) void this.catchUp(conn, subject, 'tail').catch(() => undefined);
    }, delayMs).unref();
  }

  /** A live message for this connection. True when written or queued behind a replay. */
  offer(conn: ClientConnection, subject: string, item: LiveItem): boolean {
    const cursor = conn.cursors.get(subject);
    if (cursor === undefined) return false;
    // The next page the client asks for reads it from history.
    if (cursor.paused) return true;
    if (cursor.replaying) return this.enqueue(conn, cursor, item);
    if (item.seq <= cursor.last) return false;
    if (this.isHole(cursor, item)) {
      // A hole in the chain: fetch it from history before writing this one.
      this.enqueue(conn, cursor, item);
      void this.run(conn, subject, cursor, 'gap', () => this.fillTo(conn, subject, cursor));
      return true;
    }
    return this.writeItem(conn, cursor, item);
  }

  /**
   * Checks history for anything past the cursor (`reconnect`: NATS came back; `tail`: a send raced
   * the connect). Counted in wsfleet_resumes_total under its trigger only when there was something
   * to replay.
   */
  catchUp(conn: ClientConnection, subject: string, trigger: ResumeTrigger): Promise<void> {
    const cursor = conn.cursors.get(subject);
    if (cursor === undefined || cursor.paused || !Number.isFinite(cursor.last)) return Promise.resolve();
    let counted = false;
    return this.run(conn, subject, cursor, trigger, async () => {
      if (cursor.paused) return;
      const tail = await this.deps.history.lastSequenceOf(subject);
      if (tail <= cursor.last) return;
      if (!counted) this.deps.metrics.resumes.inc({ trigger });
      counted = true;
      await this.replayTo(conn, subject, cursor, tail, Number.POSITIVE_INFINITY);
    }, false);
  }

  /**
   * The subject's end for a replay or a cursor's start: the leader's, or, when the leader has not
   * answered within leaderTailWaitMs (a leader election takes seconds, and without a leader nothing
   * new is stored), the nearest replica's. Rejects only when neither answers.
   */
  private async tailOf(subject: string): Promise<Tail> {
    const seq = await within(this.deps.history.lastSequenceOf(subject), this.leaderTailWaitMs).catch(() => null);
    if (seq !== null) return { seq, confirmed: true };
    this.deps.metrics.historyTailFallbacks.inc();
    return { seq: await this.deps.history.tailHint(subject), confirmed: false };
  }

  /**
   * After a replay or a start that used a replica's tail: asks the leader until it answers (bounded),
   * then replays whatever lies past the cursor. The chain (`prev`) of the next live message would
   * reveal such a gap too; this covers a subject with no further traffic.
   */
  private confirmTail(conn: ClientConnection, subject: string, cursor: Cursor, attempt = 0): void {
    if (attempt >= this.confirmTailAttempts) return;
    setTimeout(() => {
      if (this.stale(conn, subject, cursor) || conn.socket.readyState !== conn.socket.OPEN) return;
      this.deps.history.lastSequenceOf(subject).then(
        (tail) => { if (tail > cursor.last) void this.catchUp(conn, subject, 'tail').catch(() => undefined); },
        () => { this.confirmTail(conn, subject, cursor, attempt + 1); },
      );
    }, this.confirmTailEveryMs).unref();
  }

  private isHole(cursor: Cursor, item: LiveItem): boolean {
    return item.prev > cursor.last && item.prev > cursor.trimmedTo && Number.isFinite(cursor.last);
  }

  private enqueue(conn: ClientConnection, cursor: Cursor, item: LiveItem): boolean {
    if (cursor.buffer.length >= BUFFER_MAX) {
      this.deps.log.info({ conn: conn.id, user: conn.userId }, 'too many live messages behind a replay: closing');
      this.deps.writer.close(conn, CloseCode.tryAgainLater, CloseReason.tooFarBehind);
      return false;
    }
    const heldBytes = cursor.bufferBytes + encoded(item).length;
    // A client that stops reading during a replay must not make the replica hold its messages
    // instead of the socket: the same cap as the socket's send buffer, over both.
    if (conn.socket.bufferedAmount + heldBytes > this.maxBufferedBytes) {
      this.deps.writer.closeSlowConsumer(conn, heldBytes);
      return false;
    }
    hold(cursor, item);
    return true;
  }

  private stale(conn: ClientConnection, subject: string, cursor: Cursor): boolean {
    return conn.state.closing || conn.cursors.get(subject) !== cursor;
  }

  private run(conn: ClientConnection, subject: string, cursor: Cursor, trigger: ResumeTrigger, job: () => Promise<void>, counts = true): Promise<void> {
    cursor.replaying = true;
    cursor.runs += 1;
    if (counts) this.deps.metrics.resumes.inc({ trigger });
    const attempt = async (failures: number): Promise<void> => {
      try {
        await job();
      } catch (err) {
        if (this.stale(conn, subject, cursor)) return;
        const waitMs = this.failureRetryMs[failures];
        if (waitMs === undefined) {
          // The holes stay holes: the client reconnects and resumes from what it has.
          this.deps.log.warn({ err, conn: conn.id, subject, after: cursor.last }, 'replay from history failed repeatedly: closing');
          this.deps.writer.close(conn, CloseCode.tryAgainLater, CloseReason.historyUnavailable);
          return;
        }
        this.deps.log.warn({ err, conn: conn.id, subject, after: cursor.last, retryInMs: waitMs }, 'replay from history failed; trying again');
        await sleep(waitMs);
        if (this.stale(conn, subject, cursor)) return;
        await attempt(failures + 1);
      }
    };
    const done = cursor.work
      .then(() => attempt(0))
      .catch((err: unknown) => { this.deps.log.error({ err, conn: conn.id, subject }, 'replay bookkeeping failed'); })
      .then(() => {
        cursor.runs -= 1;
        if (cursor.runs === 0) this.release(conn, subject, cursor);
      });
    cursor.work = done;
    return done;
  }

  /** A gap replay: up to the highest predecessor a buffered live message names. */
  private async fillTo(conn: ClientConnection, subject: string, cursor: Cursor): Promise<void> {
    let target = 0;
    for (const item of cursor.buffer) if (item.prev > target) target = item.prev;
    await this.replayTo(conn, subject, cursor, target, Number.POSITIVE_INFINITY);
  }

  /**
   * Writes stored messages after the cursor until it reaches `target` (a seq the leader holds or
   * held) or `limit` were written. A read that comes back without reaching `target` is read
   * again (bounded) unless the leader says `target` is gone (retention: the cursor may move on).
   */
  private async replayTo(conn: ClientConnection, subject: string, cursor: Cursor, target: number, limit: number, onWritten?: (n: number) => void): Promise<{ written: number; recovered: boolean }> {
    let written = 0;
    let recovered = true;
    let lagRetries = 0;
    while (cursor.last < target && written < limit) {
      if (this.stale(conn, subject, cursor)) return { written, recovered };
      await this.belowHighWater(conn);
      const entries = await this.deps.history.page(subject, cursor.last, Math.min(limit - written, READ_BATCH_MAX));
      if (this.stale(conn, subject, cursor)) return { written, recovered };
      let progressed = false;
      for (const entry of entries) {
        if (entry.seq <= cursor.last) continue;
        // The replica that has this message lacks its predecessor: retention removed it.
        if (entry.message.prev > cursor.last && entry.message.prev > cursor.trimmedTo) recovered = false;
        if (!this.writeItem(conn, cursor, toLiveItem(entry))) return { written, recovered };
        written += 1;
        onWritten?.(1);
        progressed = true;
        this.deps.metrics.replayedMessages.inc();
        if (written >= limit) break;
      }
      if (progressed || cursor.last >= target) continue;
      // Nothing past the cursor, yet the tail is further: the replica that answered is behind, or retention took the rest.
      if (!(await this.deps.history.isRetained(subject, target))) {
        // Age-based retention removes from the front: everything up to `target` on this subject is gone.
        cursor.trimmedTo = Math.max(cursor.trimmedTo, target);
        recovered = false;
        return { written, recovered };
      }
      const waitMs = this.lagRetryMs[lagRetries++];
      if (waitMs === undefined) throw new HistoryBehindError(subject, cursor.last, target);
      await sleep(waitMs);
    }
    return { written, recovered };
  }

  /** Waits (bounded) until the socket's unsent bytes are below the high-water mark. */
  private async belowHighWater(conn: ClientConnection): Promise<void> {
    const deadline = Date.now() + DRAIN_WAIT_MAX_MS;
    while (conn.socket.bufferedAmount > this.highWaterBytes && !conn.state.closing) {
      if (Date.now() > deadline) throw new Error('the socket did not drain during a replay');
      await sleep(10);
    }
  }

  /** Ends replaying: writes buffered live messages in seq order; a hole they show is filled from history first. */
  private release(conn: ClientConnection, subject: string, cursor: Cursor): void {
    if (this.stale(conn, subject, cursor)) {
      clearBuffer(cursor);
      return;
    }
    if (cursor.paused) {
      clearBuffer(cursor);
      return;
    }
    cursor.replaying = false;
    const buffered = cursor.buffer.sort((a, b) => a.seq - b.seq);
    clearBuffer(cursor);
    for (let i = 0; i < buffered.length; i++) {
      const item = buffered[i];
      if (item === undefined || item.seq <= cursor.last) continue;
      if (this.isHole(cursor, item)) {
        // The message before it landed after the replay's read: read again, up to its predecessor.
        for (const held of buffered.slice(i)) hold(cursor, held);
        void this.run(conn, subject, cursor, 'gap', () => this.fillTo(conn, subject, cursor), false);
        return;
      }
      if (!this.writeItem(conn, cursor, item)) return;
    }
  }

  private writeItem(conn: ClientConnection, cursor: Cursor, item: LiveItem): boolean {
    const bytes = encoded(item);
    const seq = item.seq;
    const written = this.deps.writer.write(conn, bytes, (err) => {
      if (err == null && seq > cursor.delivered) cursor.delivered = seq;
    });
    if (!written) return false;
    cursor.last = seq;
    return true;
  }

  private sendReplayed(conn: ClientConnection, subject: string, frame: ReplayedFrame): void {
    const room = roomOf(conn, subject);
    this.deps.writer.write(conn, JSON.stringify(room === undefined ? frame : { ...frame, room }));
  }
}

/** The room (as the client named it) whose history subject this is; undefined for the inbox. */
function roomOf(conn: ClientConnection, subject: string): string | undefined {
  for (const room of conn.rooms) if (subjects.roomLog(room) === subject) return room;
  return undefined;
}

function toLiveItem(entry: HistoryEntry): LiveItem {
  const m = entry.message;
  const frame: LiveItem['frame'] = m.kind === 'room'
    ? { type: 'message', room: m.room, from: m.from, data: m.data, ts: m.ts }
    : { type: 'message', from: m.from, data: m.data, ts: m.ts };
  return { seq: entry.seq, prev: m.prev, frame };
}

/** A live message's frame as sent (`seq` added), encoded once: held, written, and counted by the same bytes. */
function encoded(item: LiveItem): Buffer {
  item.bytes ??= Buffer.from(JSON.stringify({ ...item.frame, seq: item.seq }));
  return item.bytes;
}

function hold(cursor: Cursor, item: LiveItem): void {
  cursor.buffer.push(item);
  cursor.bufferBytes += encoded(item).length;
}

function clearBuffer(cursor: Cursor): void {
  cursor.buffer = [];
  cursor.bufferBytes = 0;
}
