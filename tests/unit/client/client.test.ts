/**
 * FleetClient against a fake transport: the test plays the server.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { AuthError, ClosedError, FleetClient, QueueFullError, ServerError, TimeoutError, type FleetClientOptions, type FleetError, type FleetMessage, type ReplayReport } from '../../../client/src/index.js';
import { fakeTransport, until, type FakeSocket, type FakeTransport } from './fake-transport.js';

const open: FleetClient[] = [];
afterEach(async () => {
  mock.restoreAll();
  await Promise.all(open.splice(0).map((c) => c.close()));
});

interface Harness {
  client: FleetClient;
  t: FakeTransport;
  messages: FleetMessage[];
  resumed: ReplayReport[];
  errors: FleetError[];
  states: string[];
}

function harness(opts: Partial<FleetClientOptions> = {}): Harness {
  const t = fakeTransport();
  const client = new FleetClient({ url: 'ws://fleet.test/ws', token: 'tok', WebSocket: t.Impl, reconnect: { initialMs: 5, maxMs: 20 }, idleTimeoutMs: 0, ...opts });
  open.push(client);
  const h: Harness = { client, t, messages: [], resumed: [], errors: [], states: [] };
  client.on('message', (m) => h.messages.push(m));
  client.on('resumed', (r) => h.resumed.push(r));
  client.on('error', (e) => h.errors.push(e));
  client.on('state', (s) => h.states.push(s));
  return h;
}

async function connected(h: Harness, welcome: Record<string, unknown> = {}): Promise<FakeSocket> {
  const p = h.client.connect();
  const s = await h.t.socket(0);
  s.welcome(welcome);
  await p;
  return s;
}

/** Closes socket `index` from the server side and returns the next one, welcomed. */
async function reconnect(h: Harness, s: FakeSocket, index: number, code = 1006, welcome: Record<string, unknown> = {}): Promise<FakeSocket> {
  s.serverClose(code);
  const next = await h.t.socket(index);
  next.welcome({ server: `r${index + 1}`, ...welcome });
  return next;
}

const msg = (seq: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'message', from: 'bob', data: { seq }, ts: 1, seq, ...extra });

describe('client connection', () => {
  it('connects: token as a header with a passed-in WebSocket, state idle → connecting → open', async () => {
    const h = harness();
    assert.equal(h.client.state, 'idle');
    const s = await connected(h);
    assert.deepEqual(s.protocols, ['ws-fleet']);
    assert.equal(s.headers.authorization, 'Bearer tok');
    assert.equal(s.url, 'ws://fleet.test/ws');
    assert.deepEqual(h.states, ['connecting', 'open']);
    assert.equal(h.client.server, 'r1');
  });

  it("token as the second Sec-WebSocket-Protocol entry in 'protocol' mode (the browser's)", async () => {
    const h = harness({ tokenIn: 'protocol' });
    const s = await connected(h);
    assert.deepEqual(s.protocols, ['ws-fleet', 'tok']);
    assert.deepEqual(s.headers, {});
  });

  it('calls the token provider on every connect', async () => {
    let n = 0;
    const h = harness({ token: () => Promise.resolve(`tok${++n}`) });
    const s0 = await connected(h);
    const s1 = await reconnect(h, s0, 1);
    assert.equal(s0.headers.authorization, 'Bearer tok1');
    assert.equal(s1.headers.authorization, 'Bearer tok2');
  });

  it('1012 and 1013 reconnect quickly even with a long backoff', async () => {
    for (const code of [1012, 1013]) {
      const h = harness({ reconnect: { initialMs: 60_000, maxMs: 60_000 } });
      const s = await connected(h);
      const started = Date.now();
      s.serverClose(code, 'service restart');
      assert.equal(h.client.state, 'reconnecting');
      await h.t.socket(1, 1_500);
      assert.ok(Date.now() - started < 1_100, `reconnected after ${Date.now() - started} ms`);
    }
  });

  it('other closes back off: the delay is drawn from [0, ceiling) and grows per failed attempt', async () => {
    mock.method(Math, 'random', () => 0.999);
    const h = harness({ reconnect: { initialMs: 40, maxMs: 1_000, factor: 2 } });
    const s = await connected(h);
    const times: number[] = [Date.now()];
    s.serverClose(1006);
    for (let i = 1; i <= 3; i++) {
      const next = await h.t.socket(i, 3_000);
      times.push(Date.now());
      if (i < 3) next.refuse(503);
    }
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    // ceilings 40, 80, 160 with random → 0.999: delays ≈ 39, 79, 159 ms
    assert.ok((gaps[0] ?? 0) >= 35 && (gaps[0] ?? 0) < 120, `first gap ${gaps[0]}`);
    assert.ok((gaps[1] ?? 0) >= 75, `second gap ${gaps[1]}`);
    assert.ok((gaps[2] ?? 0) >= 155, `third gap ${gaps[2]}`);
    assert.equal(h.client.stats.reconnects, 0, 'no welcome yet on the new sockets');
  });

  it('attempt and disconnect events: each socket opened, each one gone, and whether it had reached its welcome', async () => {
    const h = harness();
    const attempts: { attempt: number; url: string }[] = [];
    const gone: { code: number; welcomed: boolean }[] = [];
    h.client.on('attempt', (a) => attempts.push(a));
    h.client.on('disconnect', (d) => gone.push({ code: d.code, welcomed: d.welcomed }));
    const s0 = await connected(h);
    s0.frame(msg(4));
    s0.serverClose(1006);
    const s1 = await h.t.socket(1);
    s1.serverClose(1006); // fails before its welcome
    const s2 = await h.t.socket(2);
    s2.welcome();
    await until('third welcome', () => h.client.state === 'open');
    assert.deepEqual(attempts, [
      { attempt: 1, url: 'ws://fleet.test/ws' },
      { attempt: 1, url: 'ws://fleet.test/ws?resume=4' },
      { attempt: 2, url: 'ws://fleet.test/ws?resume=4' },
    ]);
    assert.deepEqual(gone, [{ code: 1006, welcomed: true }, { code: 1006, welcomed: false }]);
    assert.deepEqual({ attempts: h.client.stats.attempts, failedAttempts: h.client.stats.failedAttempts, reconnects: h.client.stats.reconnects }, { attempts: 3, failedAttempts: 1, reconnects: 1 });
  });

  it('HTTP 401 on upgrade: connect rejects with AuthError, no reconnect', async () => {
    const h = harness();
    const p = h.client.connect();
    (await h.t.socket(0)).refuse(401);
    await assert.rejects(p, (e: unknown) => e instanceof AuthError && e.code === 'auth' && e.detail?.status === 401);
    assert.equal(h.client.state, 'closed');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(h.t.sockets.length, 1);
    assert.equal(h.errors[0]?.code, 'auth');
  });

  for (const code of [4001, 4003]) {
    it(`close ${code} after open: an auth error event, closed, no reconnect`, async () => {
      const h = harness();
      const s = await connected(h);
      const pending = h.client.send('bob', 1);
      s.serverClose(code, code === 4001 ? 'token expired' : 'forbidden');
      await assert.rejects(pending, AuthError);
      assert.equal(h.client.state, 'closed');
      assert.ok(h.errors.some((e) => e instanceof AuthError && e.detail?.closeCode === code));
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(h.t.sockets.length, 1);
    });
  }

  it('4008 (too many connections) is retried with backoff', async () => {
    const h = harness();
    const s = await connected(h);
    s.serverClose(4008);
    await h.t.socket(1);
    assert.equal(h.client.state, 'reconnecting');
  });

  it('resumes every subject from its last seq: inbox via ?resume=, rooms re-joined with after', async () => {
    const h = harness();
    const s0 = await connected(h);
    const join = h.client.join('chat:lobby');
    await until('join sent', () => s0.ofType('join').length === 1);
    assert.equal(s0.ofType('join')[0]?.after, undefined);
    s0.frame({ type: 'ack', id: s0.ofType('join')[0]?.id, room: 'chat:lobby' });
    await join;
    const quiet = h.client.join('quiet');
    await until('second join sent', () => s0.ofType('join').length === 2);
    s0.frame({ type: 'ack', id: s0.ofType('join')[1]?.id, room: 'quiet' });
    await quiet;
    s0.frame(msg(5));
    s0.frame(msg(8, { room: 'chat:lobby' }));
    const s1 = await reconnect(h, s0, 1);
    assert.equal(new URL(s1.url).searchParams.get('resume'), '5');
    await until('rooms re-joined', () => s1.ofType('join').length === 2);
    const joins = s1.ofType('join');
    assert.deepEqual(joins.find((j) => j.room === 'chat:lobby')?.after, 8);
    assert.equal(joins.find((j) => j.room === 'quiet')?.after, undefined, 'no position known: joined at the tail');
    assert.deepEqual(h.client.resumePositions, { inbox: 5, rooms: { 'chat:lobby': 8 } });
    assert.equal(h.client.stats.reconnects, 1);
  });

  it("a join's ack `after` is the room's position until a message moves it: the rejoin replays what was published while away", async () => {
    const h = harness();
    const s0 = await connected(h, { epoch: 'E', limits: {} });
    const join = h.client.join('chat:quiet');
    await until('join sent', () => s0.ofType('join').length === 1);
    s0.frame({ type: 'ack', id: s0.ofType('join')[0]?.id, room: 'chat:quiet', after: 12 });
    await join;
    assert.deepEqual(h.client.resumePositions.rooms, { 'chat:quiet': 12 });
    const s1 = await reconnect(h, s0, 1, 1006, { epoch: 'E', limits: {} });
    await until('re-joined', () => s1.ofType('join').length === 1);
    assert.equal(s1.ofType('join')[0]?.after, 12, 'no message was received: the ack position is resumed from');
    assert.equal(s1.ofType('join')[0]?.epoch, 'E');
    // A rejoin's ack with a lower `after` (a replica whose tail lags) does not move a known position back.
    s1.frame(msg(15, { room: 'chat:quiet' }));
    s1.frame({ type: 'ack', id: s1.ofType('join')[0]?.id, room: 'chat:quiet', after: 9 });
    await until('position kept', () => h.client.resumePositions.rooms['chat:quiet'] === 15);
  });

  it("a join's ack without `after` (an older server, or no history right) leaves the room without a position", async () => {
    const h = harness();
    const s0 = await connected(h);
    const join = h.client.join('news');
    await until('join sent', () => s0.ofType('join').length === 1);
    s0.frame({ type: 'ack', id: s0.ofType('join')[0]?.id, room: 'news' });
    await join;
    assert.deepEqual(h.client.resumePositions.rooms, {});
    const s1 = await reconnect(h, s0, 1);
    await until('re-joined', () => s1.ofType('join').length === 1);
    assert.equal(s1.ofType('join')[0]?.after, undefined);
  });

  it("a replayed frame's `last` is the position until a message moves it: a client that received nothing resumes after it, not from the stored cursor", async () => {
    const h = harness();
    const s0 = await connected(h, { epoch: 'E', limits: {} });
    // The connect replay from the user's stored cursor found nothing past seq 30.
    s0.frame({ type: 'replayed', last: 30, more: false, recovered: true });
    await until('position taken', () => h.client.resumePositions.inbox === 30);
    // A replayed frame of a room not joined, or with a bad `last`, moves nothing.
    s0.frame({ type: 'replayed', room: 'never-joined', last: 4, more: false, recovered: true });
    s0.frame({ type: 'replayed', last: -1, more: false, recovered: true });
    const s1 = await reconnect(h, s0, 1, 1006, { epoch: 'E', limits: {} });
    assert.equal(new URL(s1.url).searchParams.get('resume'), '30', 'resumes after what this client read, whatever the server last handed to the dropped socket');
    assert.deepEqual(h.client.resumePositions, { inbox: 30, rooms: {}, epoch: 'E' });
    // A lower `last` (a lagging replica's tail) does not move the position back.
    s1.frame(msg(33));
    s1.frame({ type: 'replayed', last: 31, more: false, recovered: true });
    await until('kept', () => h.client.resumePositions.inbox === 33);
  });

  it('resumeFrom positions from an earlier client are used on the first connect and join', async () => {
    const h = harness({ resumeFrom: { inbox: 41, rooms: { lobby: 7 } } });
    const s = await connected(h);
    assert.equal(new URL(s.url).searchParams.get('resume'), '41');
    const joined = h.client.join('lobby').catch((e: unknown) => e);
    await until('join', () => s.ofType('join').length === 1);
    assert.equal(s.ofType('join')[0]?.after, 7);
    await h.client.close();
    assert.ok((await joined) instanceof ClosedError);
  });

  it('de-duplicates and orders by seq per subject', async () => {
    const h = harness();
    const s = await connected(h);
    for (const seq of [1, 2, 2, 5, 3, 5, 6]) s.frame(msg(seq));
    s.frame(msg(2, { room: 'r' }));
    s.frame({ type: 'message', from: 'x', data: 'no seq', ts: 1 });
    assert.deepEqual(h.messages.map((m) => m.seq), [1, 2, 5, 6, 2, undefined]);
    assert.equal(h.client.stats.duplicatesDropped, 3);
  });

  it('v2: follows replayed.more paging, then reports resumed with the count', async () => {
    const h = harness();
    const s0 = await connected(h, { limits: { rooms: 10, replayPage: 2 } });
    s0.frame(msg(3));
    const s1 = await reconnect(h, s0, 1, 1012, { limits: { rooms: 10, replayPage: 2 } });
    s1.frame(msg(4));
    s1.frame(msg(6));
    s1.frame({ type: 'replayed', last: 6, more: true, recovered: true });
    assert.deepEqual(s1.ofType('resume'), [{ type: 'resume', after: 6 }]);
    s1.frame(msg(9));
    s1.frame({ type: 'replayed', last: 9, more: false, recovered: true });
    assert.deepEqual(h.resumed, [{ replayed: 3, recovered: true, pending: 0 }]);
    assert.equal(h.client.stats.replayed, 3);
    assert.deepEqual(h.messages.map((m) => [m.seq, m.replayed === true]), [[3, false], [4, true], [6, true], [9, true]]);
  });

  it('v2: recovered:false (history trimmed) is reported', async () => {
    const h = harness();
    const s0 = await connected(h, { limits: {} });
    s0.frame(msg(3));
    const s1 = await reconnect(h, s0, 1, 1006, { limits: {} });
    s1.frame(msg(50));
    s1.frame({ type: 'replayed', last: 50, more: false, recovered: false });
    assert.deepEqual(h.resumed, [{ replayed: 1, recovered: false, pending: 0 }]);
  });

  it('v1 (no replayed frame): the resume is complete when live messages flow', async () => {
    const h = harness({ replaySettleMs: 10_000 });
    const s0 = await connected(h);
    s0.frame(msg(3));
    const s1 = await reconnect(h, s0, 1);
    s1.frame(msg(4, { ts: Date.now() - 5_000 }));
    s1.frame(msg(5, { ts: Date.now() - 4_000 }));
    assert.equal(h.resumed.length, 0);
    s1.frame(msg(6, { ts: Date.now() + 1 }));
    assert.deepEqual(h.resumed, [{ replayed: 2, recovered: true, pending: 0 }]);
  });

  it('an epoch change is a reset: positions forgotten, everything re-read from 0, recovered:false', async () => {
    const h = harness();
    const s0 = await connected(h, { epoch: 'A', limits: {} });
    void h.client.join('lobby');
    await until('join', () => s0.ofType('join').length === 1);
    s0.frame({ type: 'ack', id: s0.ofType('join')[0]?.id });
    await until('joined', () => h.client.state === 'open');
    s0.frame(msg(500));
    s0.frame(msg(300, { room: 'lobby' }));
    const s1 = await reconnect(h, s0, 1, 1006, { epoch: 'B', limits: {} });
    assert.equal(s1.url, 'ws://fleet.test/ws?resume=500&epoch=A', 'the position goes with the epoch it was taken in');
    assert.deepEqual(s1.ofType('resume'), [], 'the server saw epoch A in the URL and replays the new inbox from its start itself');
    await until('re-join', () => s1.ofType('join').length === 1);
    assert.equal(s1.ofType('join')[0]?.after, 0);
    s1.frame(msg(1));
    assert.equal(h.messages.at(-1)?.seq, 1, 'seq 1 of the new stream is not taken for a repeat');
    s1.frame({ type: 'replayed', last: 1, more: false, recovered: true });
    s1.frame({ type: 'replayed', room: 'lobby', last: 0, more: false, recovered: true });
    assert.deepEqual(h.resumed, [{ replayed: 1, recovered: false, pending: 1 }, { room: 'lobby', replayed: 0, recovered: false, pending: 0 }]);
  });

  it('positions carry the epoch: the URL, joins and page requests send it; resumePositions keeps it, resumeFrom brings it back', async () => {
    const h = harness();
    const s0 = await connected(h, { epoch: 'E1', limits: {} });
    s0.frame(msg(7));
    s0.frame(msg(3, { room: 'lobby' }));
    const s1 = await reconnect(h, s0, 1, 1006, { epoch: 'E1', limits: {} });
    assert.equal(s1.url, 'ws://fleet.test/ws?resume=7&epoch=E1');
    s1.frame({ type: 'replayed', last: 9, more: true, recovered: true });
    await until('next page', () => s1.ofType('resume').length === 1);
    assert.deepEqual(s1.ofType('resume'), [{ type: 'resume', after: 9, epoch: 'E1' }]);
    void h.client.join('lobby');
    await until('join', () => s1.ofType('join').length === 1);
    const join = s1.ofType('join')[0];
    assert.deepEqual({ after: join?.after, epoch: join?.epoch }, { after: 3, epoch: 'E1' });
    s1.frame({ type: 'ack', id: join?.id, room: 'lobby' });
    // The page ended at 9: every seq up to it was written before the replayed frame.
    assert.deepEqual(h.client.resumePositions, { inbox: 9, rooms: { lobby: 3 }, epoch: 'E1' });
    await h.client.close();

    const later = harness({ resumeFrom: { inbox: 7, epoch: 'E1' } });
    const s2 = await connected(later, { epoch: 'E1', limits: {} });
    assert.equal(s2.url, 'ws://fleet.test/ws?resume=7&epoch=E1');
    await later.client.close();
  });

  it('a lost ack is retried with the same id; a late ack settles it', async () => {
    const h = harness({ ackTimeoutMs: 30, sendRetries: 3 });
    const s = await connected(h);
    const p = h.client.send('bob', { text: 'once' });
    await until('two attempts', () => s.ofType('send').length === 2, 1_000);
    const [a, b] = s.ofType('send');
    assert.equal(a?.id, b?.id);
    assert.deepEqual(a, b);
    s.frame({ type: 'ack', id: a?.id, delivered: 1, stored: true, seq: 9, duplicate: true });
    const ack = await p;
    assert.equal(ack.seq, 9);
    assert.equal(ack.duplicate, true);
  });

  it('store_unavailable (the store did not answer in time) is sent again, same id, and the stored ack settles it', async () => {
    const h = harness({ ackTimeoutMs: 5_000, sendRetries: 3 });
    const s = await connected(h);
    const p = h.client.send('bob', { text: 'once' });
    await until('the first attempt', () => s.ofType('send').length === 1, 1_000);
    const first = s.ofType('send')[0];
    s.frame({ type: 'error', id: first?.id, code: 'store_unavailable', message: 'not delivered; send it again', delivered: 0 });
    await until('the second attempt', () => s.ofType('send').length === 2, 2_000);
    assert.deepEqual(s.ofType('send')[1], first, 'the very same frame');
    s.frame({ type: 'ack', id: first?.id, delivered: 1, stored: true, seq: 4 });
    assert.equal((await p).seq, 4);
  });

  it("after a reconnect a room's publishes are written behind its re-join, even when the room token comes late (the server would refuse a publish of a non-member)", async () => {
    const h = harness();
    const s0 = await connected(h);
    let tokens = 0;
    const join = h.client.join('crew', { token: async () => { tokens += 1; await new Promise((r) => setTimeout(r, 20)); return `rt${tokens}`; } });
    await until('join sent', () => s0.ofType('join').length === 1);
    s0.frame({ type: 'ack', id: s0.ofType('join')[0]?.id, room: 'crew', after: 3 });
    await join;
    const inFlight = h.client.publish('crew', { n: 1 });
    const direct = h.client.send('bob', { n: 2 });
    await until('both written', () => s0.ofType('publish').length === 1 && s0.ofType('send').length === 1);
    const s1 = await reconnect(h, s0, 1);
    await until('re-joined and resent', () => s1.ofType('join').length === 1 && s1.ofType('publish').length === 1, 2_000);
    assert.deepEqual(s1.sent.map((f) => f.type), ['send', 'join', 'publish'], 'the direct send goes at once; the publish waits for the join');
    const later = h.client.publish('crew', { n: 3 });
    await until('a new publish goes at once', () => s1.ofType('publish').length === 2);
    for (const f of [s1.ofType('join')[0], ...s1.ofType('publish'), s1.ofType('send')[0]]) s1.frame({ type: 'ack', id: f?.id, room: 'crew', delivered: 1, stored: true, seq: 9 });
    await Promise.all([inFlight, direct, later]);
  });

  it('gives up with TimeoutError after sendRetries', async () => {
    const h = harness({ ackTimeoutMs: 10, sendRetries: 2 });
    const s = await connected(h);
    await assert.rejects(h.client.send('bob', 1), (e: unknown) => e instanceof TimeoutError && e.attempts === 3);
    assert.equal(s.ofType('send').length, 3);
    assert.equal(new Set(s.ofType('send').map((f) => f.id)).size, 1);
  });

  it('an in-flight send is written again, same id, after a reconnect; the ids differ between sends', async () => {
    const h = harness({ ackTimeoutMs: 5_000 });
    const s0 = await connected(h);
    const p1 = h.client.send('bob', 1);
    const p2 = h.client.publish('lobby', 2);
    const s1 = await reconnect(h, s0, 1);
    const before = s0.sent.filter((f) => f.type !== 'ping').map((f) => f.id);
    const after = s1.sent.filter((f) => f.type === 'send' || f.type === 'publish').map((f) => f.id);
    assert.deepEqual(after, before);
    assert.notEqual(before[0], before[1]);
    for (const id of after) s1.frame({ type: 'ack', id, stored: true });
    await Promise.all([p1, p2]);
  });

  it('server error frames reject the request with ServerError and its code', async () => {
    const h = harness();
    const s = await connected(h);
    const p = h.client.publish('secret:room', 1);
    await until('sent', () => s.ofType('publish').length === 1);
    s.frame({ type: 'error', code: 'forbidden', message: 'no grant', id: s.ofType('publish')[0]?.id });
    await assert.rejects(p, (e: unknown) => e instanceof ServerError && e.code === 'forbidden');
  });

  it('the outbound queue is bounded while reconnecting', async () => {
    const h = harness({ queueLimit: 2, reconnect: { initialMs: 10_000, maxMs: 10_000 } });
    const s = await connected(h);
    s.serverClose(1006);
    const queued = [h.client.send('bob', 1), h.client.send('bob', 2)];
    await assert.rejects(h.client.send('bob', 3), (e: unknown) => e instanceof QueueFullError && e.code === 'queue_full');
    await h.client.close();
    for (const q of queued) await assert.rejects(q, ClosedError);
  });

  it('refuses bad input before sending', async () => {
    const h = harness();
    await connected(h);
    await assert.rejects(h.client.send('bad user!', 1), /user id must be/);
    await assert.rejects(h.client.publish('a:b:c', 1), /room must be/);
    await assert.rejects(h.client.join(''), /room must be/);
    assert.throws(() => new FleetClient({ url: 'http://x', token: 't', WebSocket: h.t.Impl }), /ws:\/\/ or wss:\/\//);
    assert.throws(() => new FleetClient({ url: 'ws://x/ws', token: 't', WebSocket: h.t.Impl, queueLimit: 0 }), /queueLimit must be a number > 0, got 0/);
  });

  it('a refresh frame calls the token provider and sends a refresh with the new token', async () => {
    let n = 0;
    const h = harness({ token: () => `tok${++n}` });
    const s = await connected(h);
    s.frame({ type: 'refresh', deadline: Date.now() + 5_000 });
    await until('refresh sent', () => s.ofType('refresh').length === 1);
    assert.equal(s.ofType('refresh')[0]?.token, 'tok2');
    s.frame({ type: 'ack', id: s.ofType('refresh')[0]?.id, exp: Math.floor(Date.now() / 1000) + 3_600 });
  });

  it('refreshes proactively before the welcome exp', async () => {
    let n = 0;
    const h = harness({ token: () => `tok${++n}` });
    const s = await connected(h, { exp: Math.floor(Date.now() / 1000) + 5, limits: {} });
    // 5 s left, margin at least 5 s: the refresh goes at once.
    await until('refresh sent', () => s.ofType('refresh').length === 1, 1_000);
  });

  it('no exp in the welcome (v1): no refresh', async () => {
    const h = harness({ token: () => 'tok' });
    const s = await connected(h);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.ofType('refresh').length, 0);
  });

  it('close(): pending requests reject with ClosedError, socket closed with 1000, no reconnect', async () => {
    const h = harness();
    const s = await connected(h);
    const p = assert.rejects(h.client.send('bob', 1), ClosedError);
    await h.client.close();
    await p;
    assert.equal(s.closedByClient?.code, 1000);
    assert.equal(h.client.state, 'closed');
    assert.equal(h.states.at(-1), 'closed');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.t.sockets.length, 1);
    await assert.rejects(h.client.send('bob', 2), ClosedError);
    await assert.rejects(h.client.connect(), ClosedError);
  });

  it('close() during connecting rejects connect()', async () => {
    const h = harness();
    const p = assert.rejects(h.client.connect(), ClosedError);
    await h.t.socket(0);
    await h.client.close();
    await p;
  });

  it('drops a socket that never sends a welcome and tries again', async () => {
    const h = harness({ connectTimeoutMs: 30 });
    const p = h.client.connect();
    (await h.t.socket(0)).accept();
    const s1 = await h.t.socket(1, 1_000);
    s1.welcome();
    await p;
  });

  it('an unreadable frame is an error event, not a crash', async () => {
    const h = harness();
    const s = await connected(h);
    s.raw('not json');
    s.raw(JSON.stringify([1, 2]));
    assert.equal(h.errors.filter((e) => e.code === 'protocol').length, 2);
    assert.equal(h.client.state, 'open');
  });
});

describe('client liveness', () => {
  it('pings once nothing has come for idleTimeoutMs, stays open while pongs come, and drops the socket after another idleTimeoutMs of silence', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      // One millisecond at a time, so every timer runs at its own time (a timer set by a callback too).
      const tick = (ms: number): void => { for (let i = 0; i < ms; i++) mock.timers.tick(1); };
      const h = harness({ idleTimeoutMs: 1000 });
      const disconnects: string[] = [];
      h.client.on('disconnect', (d) => { disconnects.push(d.reason); });
      const s = await connected(h);
      tick(500);
      s.frame(msg(1));
      // Quiet since t=500: the ping falls due at t=1500, not a whole idleTimeoutMs after the first look.
      tick(999);
      assert.equal(s.ofType('ping').length, 0, 'no ping while traffic is recent');
      tick(2);
      assert.equal(s.ofType('ping').length, 1, 'a ping once quiet for idleTimeoutMs');
      s.frame({ type: 'pong' });
      tick(1010);
      assert.equal(s.ofType('ping').length, 2, 'the next ping after the pong, once quiet again');
      assert.equal(s.readyState, 1, 'answered pings keep the socket');
      // No answer to the second ping: dropped when quiet for twice idleTimeoutMs since the pong (t=3501).
      tick(3499 - 2511);
      assert.equal(s.readyState, 1, 'not before twice idleTimeoutMs');
      tick(10);
      assert.notEqual(s.readyState, 1, 'dropped after twice idleTimeoutMs without anything received');
      assert.match(disconnects[0] ?? '', /^nothing received for 20\d\d ms$/);
    } finally {
      mock.timers.reset();
    }
  });
});
