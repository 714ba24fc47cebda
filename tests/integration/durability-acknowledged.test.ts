/**
 * Nothing acknowledged is lost or doubled, by someone else's traffic or by a retry with the same id.
 * Real 3-node NATS JetStream cluster (R3 streams: direct reads may be answered by a follower),
 * real replicas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { readMetric } from '../support/metrics.js';
import { waitFor } from '../support/ports.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';
import { connectClient, type Frame, type TestClient } from '../support/ws-client.js';
import { subjects } from '../../server/src/subjects.js';

const PAGE = 100;
const PER_USER = 1000;
const ENV = {
  RATE_LIMIT_PER_SEC: '100000',
  RATE_LIMIT_BURST: '100000',
  REPLAY_PAGE_SIZE: String(PAGE),
  HISTORY_MAX_MSGS_PER_USER: String(PER_USER),
  HISTORY_MAX_BYTES: String(16 * 1024 * 1024),
};

let fleet: ProcessFleet;
let jsm: JetStreamManager;
const closers: (() => Promise<void>)[] = [];

async function client(replica: Replica, user: string, query = ''): Promise<TestClient> {
  const c = await connectClient(`${replica.wsUrl}?token=${await mintToken(TEST_SECRET, user)}${query}`);
  closers.push(() => c.close());
  return c;
}

function messages(c: TestClient, room?: string): Frame[] {
  return c.frames.filter((f) => f.type === 'message' && f.room === room);
}

function seqs(c: TestClient, room?: string): number[] {
  return messages(c, room).map((f) => f.seq as number);
}

/** Sends a frame with the caller's id and waits for the answer that follows it. */
async function sendWithId(c: TestClient, frame: Record<string, unknown>, id: string, timeoutMs = 10_000): Promise<Frame> {
  const before = c.frames.length;
  c.send({ ...frame, id });
  return c.next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id && c.frames.indexOf(f) >= before, timeoutMs, `answer to ${id}`);
}

/** How many messages the stream holds on one subject. */
async function storedOn(stream: string, subject: string): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

/** Follows `replayed` frames: asks the next page with `resume` while `more`, until the last page. */
async function readAllPages(c: TestClient, room?: string, maxPages = 50): Promise<Frame[]> {
  const pages: Frame[] = [];
  for (let i = 0; i < maxPages; i++) {
    const seen = pages.length;
    const page = await c.next((f) => f.type === 'replayed' && f.room === room && c.frames.filter((g) => g.type === 'replayed' && g.room === room).indexOf(f) === seen, 15_000, `replayed page ${seen + 1}`);
    pages.push(page);
    if (page.more !== true) return pages;
    c.send({ type: 'resume', after: page.last, ...(room === undefined ? {} : { room }) });
  }
  throw new Error(`more than ${maxPages} pages`);
}

describe('durability: retries stored once, full history refuses, replays complete and paged', { timeout: 300_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(2, ENV);
    jsm = await jetstreamManager(fleet.observer);
  });
  after(async () => {
    for (const c of closers) await c().catch(() => undefined);
    await fleet.stop();
  });

  it('the streams refuse when full (discard new, per subject too) and remember message ids', async () => {
    for (const name of ['WSF_INBOX', 'WSF_ROOMS']) {
      const { config } = await jsm.streams.info(name);
      assert.equal(config.discard, 'new', name);
      assert.equal(config.discard_new_per_subject, true, name);
      assert.equal(config.max_msgs_per_subject, PER_USER, name);
      assert.ok(config.duplicate_window > 0, name);
    }
    for (const bucket of ['KV_wsf_presence', 'KV_wsf_replicas', 'KV_wsf_cursors']) {
      const { config } = await jsm.streams.info(bucket);
      assert.ok(config.max_bytes > 0, `${bucket} has a byte cap (${config.max_bytes})`);
      assert.equal(config.max_msgs_per_subject, 1, bucket);
    }
  });

  it('a send retried after a lost ack (same id, another connection and replica) is stored once and acked duplicate with the original seq', async () => {
    const [r1, r2] = fleet.replicas;
    assert.ok(r1 && r2);
    const rcv = await client(r2, 'dup_rcv');
    const first = await client(r1, 'dup_snd');
    const ack1 = await sendWithId(first, { type: 'send', to: 'dup_rcv', data: { n: 1 } }, 'c-1');
    assert.equal(ack1.type, 'ack');
    assert.equal(ack1.stored, true);
    assert.equal(ack1.duplicate, undefined);
    // The ack was "lost": the client reconnects elsewhere and sends the same message with the same id.
    await first.close();
    const again = await client(r2, 'dup_snd');
    const ack2 = await sendWithId(again, { type: 'send', to: 'dup_rcv', data: { n: 1 } }, 'c-1');
    assert.equal(ack2.type, 'ack');
    assert.equal(ack2.duplicate, true);
    assert.equal(ack2.seq, ack1.seq, 'the original seq');
    // The same id for another message (other data) or another recipient is a new message, not a repeat.
    const other = await sendWithId(again, { type: 'send', to: 'dup_rcv', data: { n: 2 } }, 'c-1');
    assert.equal(other.duplicate, undefined);
    assert.ok((other.seq as number) > (ack1.seq as number));
    await waitFor('two messages', () => messages(rcv).length >= 2, 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(messages(rcv).map((m) => (m.data as { n: number }).n), [1, 2], 'the repeat was not delivered again');
    assert.equal(await storedOn('WSF_INBOX', 'inbox.dup_rcv'), 2, 'stored once each');

    // Rooms: the same for a publish.
    await rcv.request({ type: 'join', room: 'dup_room' });
    await again.request({ type: 'join', room: 'dup_room' }); // publishing takes membership (namespace policy)
    const p1 = await sendWithId(again, { type: 'publish', room: 'dup_room', data: 'x' }, 'p-1');
    const p2 = await sendWithId(again, { type: 'publish', room: 'dup_room', data: 'x' }, 'p-1');
    assert.equal(p2.duplicate, true);
    assert.equal(p2.seq, p1.seq);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(messages(rcv, 'dup_room').length, 1);
    assert.equal(await storedOn('WSF_ROOMS', subjects.roomLog('dup_room')), 1);
  });

  it('paged replay: more than two pages of history, each message once, in order, then live', async () => {
    const [r1, r2] = fleet.replicas;
    assert.ok(r1 && r2);
    const sender = await client(r1, 'pg_snd');
    const total = PAGE * 2 + 37;
    const acks = await Promise.all(Array.from({ length: total }, (_, n) => sender.request({ type: 'send', to: 'pg_rcv', data: { n } }, 15_000)));
    assert.ok(acks.every((a) => a.type === 'ack' && a.stored === true));
    const rcv = await client(r2, 'pg_rcv', '&resume=0');
    const firstPage = await rcv.next((f) => f.type === 'replayed', 10_000);
    assert.equal(firstPage.more, true);
    assert.equal(messages(rcv).length, PAGE);
    // Live while the client has not asked for the next page: held back, it comes in a later page.
    const live = await sender.request({ type: 'send', to: 'pg_rcv', data: { n: total } });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(messages(rcv).length, PAGE, 'nothing written past the page until the client asks');
    const pages = await readAllPages(rcv);
    assert.deepEqual(pages.map((p) => p.more), [true, true, false]);
    assert.ok(pages.every((p) => p.recovered === true));
    const after = await sender.request({ type: 'send', to: 'pg_rcv', data: { n: total + 1 } });
    await waitFor('live after the last page', () => messages(rcv).length === total + 2, 5000);
    assert.deepEqual(messages(rcv).map((m) => (m.data as { n: number }).n), Array.from({ length: total + 2 }, (_, i) => i));
    assert.deepEqual(seqs(rcv), [...acks.map((a) => a.seq as number), live.seq as number, after.seq as number]);
    assert.equal(pages.at(-1)?.last, live.seq);
  });

  it('a replay racing appends (25 rounds): every acknowledged message arrives once, in order', async () => {
    const [r1, r2] = fleet.replicas;
    assert.ok(r1 && r2);
    const sender = await client(r1, 'race_snd');
    for (let round = 0; round < 25; round++) {
      const user = `race_${round}`;
      const before = await Promise.all(Array.from({ length: 5 }, (_, n) => sender.request({ type: 'send', to: user, data: { n } })));
      // Connect (a resume from 0 with the leader's tail) while more appends land.
      const during = Array.from({ length: 10 }, (_, n) => sender.request({ type: 'send', to: user, data: { n: 5 + n } }));
      const rcv = await client(r2, user, '&resume=0');
      const acks = [...before, ...(await Promise.all(during))];
      assert.ok(acks.every((a) => a.type === 'ack' && a.stored === true), `round ${round}: all stored`);
      const want = acks.map((a) => a.seq as number).sort((a, b) => a - b);
      await waitFor(`round ${round}: all 15`, () => messages(rcv).length >= 15, 5000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}: got ${JSON.stringify(seqs(rcv))}, want ${JSON.stringify(want)}`);
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(seqs(rcv), want, `round ${round}: once each, in order`);
      await rcv.close();
    }
  });

  it('the stored cursor after a slow-consumer terminate: bytes thrown away are replayed on the next connect', async () => {
    const slowHost = await fleet.addReplica('slowhost', { ...ENV, MAX_BUFFERED_BYTES: String(256 * 1024) });
    const [r1] = fleet.replicas;
    assert.ok(r1);
    const slow = await client(slowHost, 'sc_rcv');
    const sender = await client(r1, 'sc_snd');
    await new Promise((r) => setTimeout(r, 300));
    slow.ws.pause();
    const blob = 'y'.repeat(16 * 1024);
    const acks: Frame[] = [];
    for (let i = 0; i < 600; i++) {
      acks.push(await sender.request({ type: 'send', to: 'sc_rcv', data: { i, blob } }, 15_000));
      if (i % 50 === 49 && (await readMetric(slowHost.url, 'wsfleet_slow_consumer_closes_total')) >= 1) break;
    }
    await waitFor('slow consumer cut', async () => (await readMetric(slowHost.url, 'wsfleet_slow_consumer_closes_total')) >= 1, 10_000);
    assert.ok(acks.every((a) => a.type === 'ack' && a.stored === true));
    // terminate() follows the 1013 after 1 s; then the client reads what reached it.
    await new Promise((r) => setTimeout(r, 1500));
    slow.ws.resume();
    const { code } = await slow.closed;
    assert.ok(code === 1013 || code === 1006, `closed ${code}`);
    const got = new Set(seqs(slow));
    const sent = acks.map((a) => a.seq as number);
    assert.ok(got.size < sent.length, `the slow client missed some (${got.size} of ${sent.length})`);
    await new Promise((r) => setTimeout(r, 500)); // the cursor is saved on close
    const next = await client(r1, 'sc_rcv');
    await readAllPages(next);
    const replayed = new Set(seqs(next));
    const missing = sent.filter((s) => !got.has(s) && !replayed.has(s));
    const gotMax = Math.max(0, ...got);
    assert.deepEqual(missing, [], `nothing lost: first connection had ${got.size} (up to ${gotMax}, gaps ${JSON.stringify(sent.filter((s) => s < gotMax && !got.has(s)))}), replay ${replayed.size} from ${Math.min(...replayed)}; sent ${sent[0]}..${sent.at(-1)}`);
    const firstReplayed = Math.min(...replayed);
    assert.ok(firstReplayed <= Math.max(0, ...got) + sent.length, 'sanity');
    // The cursor is at most what the client received: the replay starts right after something it has (or earlier).
    const receivedBefore = sent.filter((s) => s < firstReplayed);
    assert.ok(receivedBefore.every((s) => got.has(s)), 'the stored cursor did not count bytes the client never got');
  });

  it('a full history refuses new messages with not_stored, and keeps every acknowledged one of other users', async () => {
    const [r1, r2] = fleet.replicas;
    assert.ok(r1 && r2);
    const keeper = await client(r1, 'full_keep_snd');
    const kept = await Promise.all(Array.from({ length: 20 }, (_, n) => keeper.request({ type: 'send', to: 'full_kept', data: { n } })));
    assert.ok(kept.every((a) => a.stored === true));

    // One recipient's share: per-subject limit.
    const flooder = await client(r2, 'full_flooder');
    const fill = await Promise.all(Array.from({ length: PER_USER - (await storedOn('WSF_INBOX', 'inbox.full_one')) }, (_, n) => flooder.request({ type: 'send', to: 'full_one', data: { n } }, 20_000)));
    assert.ok(fill.every((a) => a.type === 'ack' && a.stored === true), 'up to the limit: stored');
    const refused = await flooder.request({ type: 'send', to: 'full_one', data: { n: 'over' } });
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'not_stored');
    assert.match(String(refused.message), /full/);
    assert.equal(await storedOn('WSF_INBOX', 'inbox.full_one'), PER_USER, 'nothing evicted on that subject either');

    // The whole stream: one user's large messages to many recipients until the store refuses.
    const blob = 'z'.repeat(60 * 1024);
    let refusedAt = -1;
    for (let i = 0; i < 400 && refusedAt < 0; i++) {
      const a = await flooder.request({ type: 'send', to: `full_many_${i % 50}`, data: { i, blob } }, 20_000);
      if (a.type === 'error') {
        assert.equal(a.code, 'not_stored');
        assert.match(String(a.message), /full/);
        refusedAt = i;
      }
    }
    assert.ok(refusedAt > 0, 'the stream filled up and refused');
    // Another user's acknowledged messages are all still there: a new connection replays them from 0.
    const reader = await client(r1, 'full_kept', '&resume=0');
    await readAllPages(reader);
    assert.deepEqual(seqs(reader), kept.map((a) => a.seq as number));
    assert.equal(await storedOn('WSF_INBOX', 'inbox.full_kept'), 20);
  });
  it('a send the store cannot take in time (2 of 3 NATS nodes down) is answered store_unavailable, over WebSocket and HTTP, and delivered nowhere', async (t) => {
    const [r1, r2] = fleet.replicas;
    assert.ok(r1 && r2);
    const rcv = await client(r2, 'su_rcv');
    const snd = await client(r1, 'su_snd');
    const warm = await sendWithId(snd, { type: 'send', to: 'su_rcv', data: { n: 0 } }, 'su-0');
    assert.equal(warm.stored, true);
    await waitFor('the first message', () => messages(rcv).length === 1, 5000);
    let down = true;
    t.after(async () => { if (down) { await fleet.nats.startNode(1); await fleet.nats.startNode(2); } }); // even when an assertion below fails
    await fleet.nats.killNode(1);
    await fleet.nats.killNode(2);
    const [refused, overHttp] = await Promise.all([
      sendWithId(snd, { type: 'send', to: 'su_rcv', data: { n: 1 } }, 'su-1', 30_000),
      fetch(`${r1.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await mintToken(TEST_SECRET, 'su_snd')}` }, body: JSON.stringify({ to: 'su_rcv', data: { n: 'http' } }), signal: AbortSignal.timeout(30_000) }),
    ]);
    assert.equal(refused.type, 'error', `not acknowledged without a store: ${JSON.stringify(refused)}`);
    assert.equal(refused.code, 'store_unavailable');
    assert.equal(refused.delivered, 0);
    assert.equal(overHttp.status, 503, 'the deployment\'s matter, not the client\'s');
    assert.equal(overHttp.headers.get('retry-after'), '1');
    assert.deepEqual(await overHttp.json(), { error: 'store_unavailable', message: refused.message, delivered: 0 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(messages(rcv).length, 1, 'no live-only copy was delivered');
    await fleet.nats.startNode(1);
    await fleet.nats.startNode(2);
    down = false;
    // Not asserted here yet: the same frame sent again once the quorum is back is meant to be stored once
    // (the client library's retry; unit-tested in tests/unit/client and seen in the chaos run). In 2 of 6
    // runs of this file that retry got no answer for 90 s after the two nodes came back: an open defect
    // (session 5's note), not to be hidden behind a passing check.
  });
});
