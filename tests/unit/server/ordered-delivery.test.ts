/**
 * Ordered delivery's hole logic against a fake history reader (the shape of Centrifuge's recovery
 * sync tests): a read that lags behind the tail, retention that trims the front, failing reads,
 * paging, and live messages racing a replay. The cursor must never move past a hole that
 * retention did not make, and nothing may be written twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientConnection, ConnectionWriter, LiveItem } from '../../../server/src/connections.js';
import type { HistoryEntry, StoredMessage } from '../../../server/src/history.js';
import { createLogger } from '../../../server/src/logger.js';
import { Metrics } from '../../../server/src/metrics.js';
import { OrderedDelivery, type HistoryReader, type ReplayedFrame } from '../../../server/src/ordered-delivery.js';

const SUBJECT = 'inbox.u1';
const log = createLogger('test', 'silent');
const metrics = new Metrics('test');

/** One subject's stream as the leader holds it, read through replicas that may lag behind. */
class FakeStream implements HistoryReader {
  readonly messages = new Map<number, StoredMessage>();
  private tail = 0;
  /** Reads (direct gets) see only messages up to this seq: a follower that has not applied the rest. */
  visibleUpTo = Number.POSITIVE_INFINITY;
  /** Retention removed every message below this seq. */
  trimmedBelow = 0;
  /** Every read throws while set. */
  failing: Error | undefined;
  reads = 0;

  append(): LiveItem {
    const prev = this.tail;
    const seq = prev + 1 + Math.floor(Math.random() * 2); // other subjects' messages leave gaps in the seqs
    this.tail = seq;
    const message: StoredMessage = { kind: 'direct', to: 'u1', from: 'u2', data: { seq }, ts: Date.now(), prev };
    this.messages.set(seq, message);
    return { seq, prev, frame: { type: 'message', from: 'u2', data: { seq }, ts: message.ts } };
  }

  /** While set, the leader does not answer (a leader election): its tail reads wait for `leaderBack`. */
  leaderSilent = false;
  private readonly waitingForLeader: (() => void)[] = [];

  lastSequenceOf(): Promise<number> {
    if (this.failing !== undefined) return Promise.reject(this.failing);
    if (this.leaderSilent) return new Promise((resolve) => { this.waitingForLeader.push(() => { resolve(this.tail); }); });
    return Promise.resolve(this.tail);
  }

  leaderBack(): void {
    this.leaderSilent = false;
    for (const answer of this.waitingForLeader.splice(0)) answer();
  }

  /** The replica answering reads: its last message is the last one it has applied. */
  tailHint(): Promise<number> {
    if (this.failing !== undefined) return Promise.reject(this.failing);
    const visible = [...this.messages.keys()].filter((seq) => seq <= this.visibleUpTo);
    return Promise.resolve(visible.length === 0 ? 0 : Math.max(...visible));
  }

  async page(_subject: string, after: number, limit: number): Promise<HistoryEntry[]> {
    this.reads += 1;
    await new Promise((r) => setImmediate(r));
    if (this.failing !== undefined) throw this.failing;
    const out: HistoryEntry[] = [];
    for (const [seq, message] of [...this.messages].sort((a, b) => a[0] - b[0])) {
      if (seq <= after || seq < this.trimmedBelow) continue;
      if (seq > this.visibleUpTo || out.length >= limit) break;
      out.push({ seq, message });
    }
    return out;
  }

  isRetained(_subject: string, seq: number): Promise<boolean> {
    if (this.failing !== undefined) return Promise.reject(this.failing);
    return Promise.resolve(this.messages.has(seq) && seq >= this.trimmedBelow);
  }
}

interface Harness {
  conn: ClientConnection;
  ordered: OrderedDelivery;
  /** Seqs of the message frames written, in order. */
  written: number[];
  replayed: ReplayedFrame[];
  closes: { code: number; reason: string }[];
}

function harness(stream: FakeStream, opts: { pageSize?: number; failWritesFrom?: number; leaderTailWaitMs?: number; confirmTailEveryMs?: number; maxBufferedBytes?: number } = {}): Harness {
  const written: number[] = [];
  const replayed: ReplayedFrame[] = [];
  const closes: { code: number; reason: string }[] = [];
  const conn = {
    id: 'c1',
    userId: 'u1',
    admin: false,
    socket: { bufferedAmount: 0, readyState: 1, OPEN: 1 },
    rooms: new Set<string>(),
    state: { missedPongs: 0, strikes: 0, closing: false },
    cursors: new Map(),
  } as unknown as ClientConnection;
  const writer: ConnectionWriter = {
    write: (_conn, frame, onWritten) => {
      const f = JSON.parse(frame.toString()) as { type: string; seq?: number };
      if (f.type === 'replayed') replayed.push(f as unknown as ReplayedFrame);
      else if (f.seq !== undefined) written.push(f.seq);
      const failed = opts.failWritesFrom !== undefined && f.seq !== undefined && f.seq >= opts.failWritesFrom;
      // Like ws: the callback comes later, with an error when the bytes never reached the kernel.
      setImmediate(() => onWritten?.(failed ? new Error('socket terminated') : null));
      return true;
    },
    send: () => { assert.fail('ordered delivery sends no control frames'); },
    close: (_c, code, reason) => { closes.push({ code, reason }); conn.state.closing = true; },
    closeSlowConsumer: () => { closes.push({ code: 1013, reason: 'slow consumer' }); conn.state.closing = true; },
  };
  const ordered = new OrderedDelivery({
    history: stream,
    writer,
    metrics,
    log,
    pageSize: opts.pageSize ?? 500,
    lagRetryMs: [1, 2, 4, 8, 16, 32, 64],
    failureRetryMs: [1, 2, 4],
    leaderTailWaitMs: opts.leaderTailWaitMs ?? 500,
    confirmTailEveryMs: opts.confirmTailEveryMs ?? 1000,
    ...(opts.maxBufferedBytes === undefined ? {} : { highWaterBytes: Math.floor(opts.maxBufferedBytes / 2), maxBufferedBytes: opts.maxBufferedBytes }),
  });
  return { conn, ordered, written, replayed, closes };
}

const settle = async (h: Harness): Promise<void> => {
  for (let i = 0; i < 2000; i++) {
    const cursor = h.conn.cursors.get(SUBJECT);
    if (cursor !== undefined && !cursor.replaying) return;
    if (h.conn.state.closing) return;
    await new Promise((r) => setTimeout(r, 2));
  }
};

function storedSeqs(stream: FakeStream, after = 0): number[] {
  return [...stream.messages.keys()].filter((s) => s > after && s >= stream.trimmedBelow).sort((a, b) => a - b);
}

describe('ordered delivery: holes, retention, paging', () => {
  it('a hole a lagging read cannot see yet is read again, not skipped', async () => {
    const stream = new FakeStream();
    stream.append();
    stream.append();
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    const missed = stream.append();
    const live = stream.append();
    const readsBefore = stream.reads;
    stream.visibleUpTo = missed.prev; // the replica answering reads has neither yet
    setTimeout(() => { stream.visibleUpTo = Number.POSITIVE_INFINITY; }, 15);
    assert.equal(h.ordered.offer(h.conn, SUBJECT, live), true);
    await settle(h);
    assert.deepEqual(h.written, storedSeqs(stream), 'the missed message, then the live one');
    assert.ok(stream.reads - readsBefore >= 2, `read again while behind (${stream.reads - readsBefore} reads)`);
    assert.deepEqual(h.closes, []);
  });

  it('a hole retention made is passed (the leader no longer holds it), and the replay says recovered: false', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 6; i++) stream.append();
    const seqs = storedSeqs(stream);
    stream.trimmedBelow = seqs[3] ?? 0;
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'cursor');
    await settle(h);
    assert.deepEqual(h.written, seqs.slice(3));
    assert.deepEqual(h.replayed, [{ type: 'replayed', last: seqs[5], more: false, recovered: false }]);

    // Live: the predecessor was trimmed and the read lags: only the leader's "gone" lets it through.
    const h2 = harness(stream);
    h2.ordered.hold(h2.conn, SUBJECT);
    await h2.ordered.start(h2.conn, SUBJECT, seqs[5] ?? 0, 'resume');
    const a = stream.append();
    const b = stream.append();
    stream.trimmedBelow = b.seq;
    stream.visibleUpTo = a.seq - 1;
    h2.ordered.offer(h2.conn, SUBJECT, b);
    await settle(h2);
    assert.deepEqual(h2.written, [b.seq]);
  });

  it('nothing retention did not remove is ever passed: a hole stays until read, or the connection is closed 1013', async () => {
    const stream = new FakeStream();
    const first = stream.append();
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    stream.append();
    const live = stream.append();
    stream.visibleUpTo = first.seq; // never catches up
    h.ordered.offer(h.conn, SUBJECT, live);
    await settle(h);
    assert.deepEqual(h.written, [first.seq], 'no message past the hole');
    assert.equal(h.closes[0]?.code, 1013);

    const failing = new FakeStream();
    const one = failing.append();
    const h2 = harness(failing);
    h2.ordered.hold(h2.conn, SUBJECT);
    await h2.ordered.start(h2.conn, SUBJECT, 0, 'resume');
    failing.append();
    const next = failing.append();
    failing.failing = new Error('no responders');
    h2.ordered.offer(h2.conn, SUBJECT, next);
    await settle(h2);
    assert.deepEqual(h2.written, [one.seq]);
    assert.equal(h2.closes[0]?.code, 1013);
  });

  it('a read that fails once is tried again and then delivers everything', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 5; i++) stream.append();
    stream.failing = new Error('timeout');
    setTimeout(() => { stream.failing = undefined; }, 3);
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    await settle(h);
    assert.deepEqual(h.written, storedSeqs(stream));
    assert.equal(h.replayed.length, 1);
    assert.deepEqual(h.closes, []);
  });

  it('paged replay: more than one page, each message once and in order; live messages wait for the last page', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 1200; i++) stream.append();
    const h = harness(stream, { pageSize: 500 });
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'cursor');
    assert.equal(h.written.length, 500);
    assert.deepEqual(h.replayed.at(-1), { type: 'replayed', last: h.written.at(-1), more: true, recovered: true });
    // Live while the client has not asked for the next page: not written now, read from history later.
    const duringPause = stream.append();
    assert.equal(h.ordered.offer(h.conn, SUBJECT, duringPause), true);
    assert.equal(h.written.length, 500);
    let pages = 1;
    while (h.replayed.at(-1)?.more === true && pages < 10) {
      await h.ordered.start(h.conn, SUBJECT, h.replayed.at(-1)?.last ?? 0, 'resume');
      pages += 1;
    }
    await settle(h);
    assert.equal(pages, 3);
    assert.deepEqual(h.replayed.map((r) => r.more), [true, true, false]);
    const after = stream.append();
    h.ordered.offer(h.conn, SUBJECT, after);
    assert.deepEqual(h.written, storedSeqs(stream), 'all 1202, once each, in order');
  });

  it('a replay racing appends (200 rounds, random lag): every message once, in order', async () => {
    for (let round = 0; round < 200; round++) {
      const stream = new FakeStream();
      const before = Math.floor(Math.random() * 20);
      for (let i = 0; i < before; i++) stream.append();
      const h = harness(stream, { pageSize: 1000 });
      h.ordered.hold(h.conn, SUBJECT);
      const replay = h.ordered.start(h.conn, SUBJECT, 0, 'resume');
      // Appends land while the replay reads; reads lag behind by a random amount, then catch up.
      for (let i = 0; i < 10; i++) {
        const item = stream.append();
        stream.visibleUpTo = Math.random() < 0.5 ? item.seq - 1 - Math.floor(Math.random() * 3) : Number.POSITIVE_INFINITY;
        if (Math.random() < 0.8) h.ordered.offer(h.conn, SUBJECT, item); // some live copies are lost (a replica died)
        if (Math.random() < 0.3) await new Promise((r) => setImmediate(r));
      }
      setTimeout(() => { stream.visibleUpTo = Number.POSITIVE_INFINITY; }, 3);
      await replay;
      await settle(h);
      const last = stream.append();
      h.ordered.offer(h.conn, SUBJECT, last);
      await settle(h);
      assert.deepEqual(h.written, storedSeqs(stream), `round ${round}`);
      assert.deepEqual(h.closes, [], `round ${round}`);
    }
  });

  it('live copies that arrive while a replay reads the same messages are written once, in order (a merge, as in Centrifuge)', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 5; i++) stream.append();
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    const replay = h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    // Stored before the replay reads the tail: the replay reads them, and their live copies (each
    // offered twice, as a room publish and a retried request would) wait in the buffer meanwhile.
    const live = [stream.append(), stream.append()];
    for (const item of [...live, ...live]) assert.equal(h.ordered.offer(h.conn, SUBJECT, item), true);
    await replay;
    await settle(h);
    assert.deepEqual(h.written, storedSeqs(stream), 'seven messages, once each');
    assert.deepEqual(h.replayed, [{ type: 'replayed', last: live[1]?.seq, more: false, recovered: true }]);
  });

  it('a catch-up after NATS came back replays what was stored meanwhile, and only then counts trigger "reconnect"', async () => {
    const count = async (): Promise<number> => (await metrics.resumes.get()).values.find((v) => v.labels.trigger === 'reconnect')?.value ?? 0;
    const stream = new FakeStream();
    stream.append();
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    const before = await count();
    await h.ordered.catchUp(h.conn, SUBJECT, 'reconnect');
    assert.equal(await count(), before, 'nothing past the cursor: no replay, not counted');
    stream.append();
    stream.append(); // stored while the live path was cut: no live copy ever comes
    await h.ordered.catchUp(h.conn, SUBJECT, 'reconnect');
    await settle(h);
    assert.deepEqual(h.written, storedSeqs(stream));
    assert.equal(await count(), before + 1);
  });

  it('settling at the tail: onSettled runs after the tail is read, so what is published once it ran is delivered (a join\'s ack)', async () => {
    const stream = new FakeStream();
    stream.append();
    stream.append();
    const h = harness(stream);
    h.ordered.hold(h.conn, SUBJECT);
    let published: LiveItem | undefined;
    // The client sees the ack (onSettled) and publishes at once: stored, then offered live.
    await h.ordered.startAtTail(h.conn, SUBJECT, () => {
      published = stream.append();
      assert.equal(h.ordered.offer(h.conn, SUBJECT, published), true, 'held while the cursor settles');
    });
    await settle(h);
    assert.ok(published);
    assert.deepEqual(h.written, [published.seq], 'what came before the ack is not the member\'s; what came after is');
  });

  it('delivered follows the send callback: bytes that never reached the kernel do not count', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 10; i++) stream.append();
    const seqs = storedSeqs(stream);
    const h = harness(stream, { failWritesFrom: seqs[6] ?? 0 });
    h.ordered.hold(h.conn, SUBJECT);
    await h.ordered.start(h.conn, SUBJECT, 0, 'cursor');
    await new Promise((r) => setTimeout(r, 5));
    const cursor = h.conn.cursors.get(SUBJECT);
    assert.equal(cursor?.last, seqs[9], 'all ten written to the socket');
    assert.equal(cursor?.delivered, seqs[5], 'only six handed to the kernel');
  });

  it('a replay during a leader election ends at the nearest replica\'s tail, without waiting for the leader; what that replica lacked comes once the leader answers', async () => {
    const fallbacks = async (): Promise<number> => (await metrics.historyTailFallbacks.get()).values[0]?.value ?? 0;
    const stream = new FakeStream();
    for (let i = 0; i < 5; i++) stream.append();
    const seqs = storedSeqs(stream);
    const answered = harness(stream);
    answered.ordered.hold(answered.conn, SUBJECT);
    const before = await fallbacks();
    await answered.ordered.start(answered.conn, SUBJECT, 0, 'resume');
    assert.equal(await fallbacks(), before, 'a leader that answers: its tail, no fallback');

    stream.leaderSilent = true;
    stream.visibleUpTo = seqs[2] ?? 0; // the replica answering reads has applied three of five
    const h = harness(stream, { leaderTailWaitMs: 20, confirmTailEveryMs: 10 });
    h.ordered.hold(h.conn, SUBJECT);
    const started = Date.now();
    await h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 500, `ended at the replica's tail after ${tookMs} ms, not at the election's end`);
    assert.deepEqual(h.written, seqs.slice(0, 3));
    assert.deepEqual(h.replayed, [{ type: 'replayed', last: seqs[2], more: false, recovered: true }]);
    assert.equal(await fallbacks(), before + 1);
    // A live message now: its predecessor is past the cursor, and the lagging replica cannot read it
    // yet: it waits (never skipped) while the leader is silent...
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(h.written, seqs.slice(0, 3), 'nothing past what was read, while the leader is silent');
    // ...and once a leader answers with the real tail, the rest is replayed in order.
    stream.visibleUpTo = Number.POSITIVE_INFINITY;
    stream.leaderBack();
    for (let i = 0; i < 100 && h.written.length < seqs.length; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(h.written, seqs, 'all five, once each, in order');
    assert.deepEqual(h.closes, []);
  });

  it('a cursor started at the tail during a leader election settles at once; messages the replica had not applied come later, none lost', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 4; i++) stream.append();
    const seqs = storedSeqs(stream);
    stream.leaderSilent = true;
    stream.visibleUpTo = seqs[1] ?? 0;
    const h = harness(stream, { leaderTailWaitMs: 20, confirmTailEveryMs: 10 });
    h.ordered.hold(h.conn, SUBJECT);
    let settledAfterMs = -1;
    const started = Date.now();
    await h.ordered.startAtTail(h.conn, SUBJECT, () => { settledAfterMs = Date.now() - started; });
    assert.ok(settledAfterMs >= 0 && settledAfterMs < 500, `settled after ${settledAfterMs} ms`);
    stream.visibleUpTo = Number.POSITIVE_INFINITY;
    stream.leaderBack();
    const published = stream.append();
    h.ordered.offer(h.conn, SUBJECT, published);
    for (let i = 0; i < 100 && h.written.at(-1) !== published.seq; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(h.written, [...seqs.slice(2), published.seq], 'the two the replica lacked (stored before the start: a few early ones), then the new one; none missing');
  });

  it('a client that stops reading during a replay is closed as a slow consumer once the socket and what the replay holds back pass the cap (no unbounded buffer)', async () => {
    const stream = new FakeStream();
    for (let i = 0; i < 3; i++) stream.append();
    const h = harness(stream, { maxBufferedBytes: 4096 });
    const socket = h.conn.socket as unknown as { bufferedAmount: number };
    socket.bufferedAmount = 3000; // over half the cap: the replay waits for the socket to drain, which it never does
    h.ordered.hold(h.conn, SUBJECT);
    void h.ordered.start(h.conn, SUBJECT, 0, 'resume');
    await new Promise((r) => setTimeout(r, 20));
    let offered = 0;
    while (offered < 1000 && h.closes.length === 0) {
      const item = stream.append();
      item.frame = { ...item.frame, data: 'x'.repeat(100) };
      h.ordered.offer(h.conn, SUBJECT, item);
      offered += 1;
    }
    assert.deepEqual(h.closes, [{ code: 1013, reason: 'slow consumer' }]);
    const cursor = h.conn.cursors.get(SUBJECT);
    assert.ok(cursor !== undefined && cursor.bufferBytes + socket.bufferedAmount <= 4096, `held ${String(cursor?.bufferBytes)} bytes + ${socket.bufferedAmount} in the socket, cap 4096`);
    assert.ok(offered < 20, `closed after ${offered} live messages of ~150 bytes, not after thousands`);
  });
});
