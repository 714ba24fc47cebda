/**
 * Issue 11, "limits that hold", with real processes: rooms per connection (the default 128),
 * connections per user, the per-user rate limit shared by WebSocket and HTTP, and the replica's
 * outbound buffer budget. (The upgrade counter: security-bad-requests; bounded KV buckets:
 * durability-acknowledged.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { readMetric } from '../support/metrics.js';
import type { Replica } from '../support/replica.js';
import { TEST_NAMESPACES, TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, upgradeStatus, type Frame, type TestClient } from '../support/ws-client.js';

const NAMESPACES = {
  ...TEST_NAMESPACES,
  // Live only: the buffer-budget test's megabytes are not written to the history.
  live: { join: 'authenticated', history: 'none', publish: 'members', keepHistory: false, historyMaxAgeSec: 60, historyMaxMsgs: 10 },
};
const USER_RATE = { USER_RATE_LIMIT_PER_SEC: '1', USER_RATE_LIMIT_BURST: '5' };

let fleet: ProcessFleet;
/** Default rooms-per-connection (128); the per-user rate limit at 1/s with a burst of 5; 2 connections per user. */
let r1: Replica;
const open: TestClient[] = [];

async function client(replica: Replica, user: string): Promise<TestClient> {
  const c = await connectClient(`${replica.wsUrl}?token=${signToken(TEST_SECRET, user)}`);
  open.push(c);
  return c;
}

async function httpSend(replica: Replica, user: string, body: unknown): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${replica.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, user)}` }, body: JSON.stringify(body) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

describe('limits that hold', { timeout: 180_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(0, { NAMESPACES: JSON.stringify(NAMESPACES) }, { natsNodes: 1 });
    // The per-connection frame bucket is opened wide so that only the limits under test answer.
    r1 = await fleet.addReplica('lim1', { RATE_LIMIT_PER_SEC: '10000', RATE_LIMIT_BURST: '10000', MAX_CONNECTIONS_PER_USER: '2', ...USER_RATE });
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('rooms per connection: the default 128, then too_many_rooms; a joined room and a freed slot still join', async () => {
    const c = await client(r1, 'rooms_user');
    assert.deepEqual(c.welcome.limits, { rooms: 128 }, 'the welcome frame tells the limit');
    for (let i = 0; i < 128; i++) {
      const a = await c.request({ type: 'join', room: `cap${i}` });
      assert.equal(a.type, 'ack', `join ${i}: ${JSON.stringify(a)}`);
    }
    const refused = await c.request({ type: 'join', room: 'cap128' });
    assert.deepEqual([refused.type, refused.code], ['error', 'too_many_rooms']);
    assert.match(String(refused.message), /at most 128 rooms/);
    assert.equal((await c.request({ type: 'join', room: 'cap5' })).type, 'ack', 'joining a room it is in again is no new room');
    assert.equal((await c.request({ type: 'leave', room: 'cap0' })).type, 'ack');
    assert.equal((await c.request({ type: 'join', room: 'cap128' })).type, 'ack', 'a slot freed by leave');
    assert.equal((await c.request({ type: 'join', room: 'cap129' })).code, 'too_many_rooms');
    // Another connection of the same user has its own 128.
    assert.equal((await (await client(r1, 'rooms_user')).request({ type: 'join', room: 'cap129' })).type, 'ack');
  });

  it('connections per user: past MAX_CONNECTIONS_PER_USER the upgrade is 429 too_many_connections; others are not affected; a close frees the slot', async () => {
    const a = await client(r1, 'conn_user');
    await client(r1, 'conn_user');
    const url = `${r1.wsUrl}?token=${signToken(TEST_SECRET, 'conn_user')}`;
    const third = await upgradeStatus(url);
    assert.equal(third.status, 429);
    assert.equal((third.body as { error?: string }).error, 'too_many_connections');
    assert.equal(third.headers['retry-after'], '5');
    assert.equal((await client(r1, 'conn_other')).welcome.type, 'welcome', 'another user connects');
    assert.ok((await readMetric(r1.url, 'wsfleet_upgrades_rejected_total', { reason: 'too_many_connections' })) >= 1);
    await a.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await upgradeStatus(url)).status, 101, 'the closed connection no longer counts');
    assert.equal((await fetch(`${r1.url}/readyz`)).status, 200);
  });

  it('the per-user rate limit is one budget for WebSocket and HTTP sends: HTTP 429 with Retry-After, WebSocket rate_limited', async () => {
    const httpBefore = await readMetric(r1.url, 'wsfleet_rate_limited_total', { transport: 'http' });
    const wsBefore = await readMetric(r1.url, 'wsfleet_rate_limited_total', { transport: 'ws' });
    // WebSocket traffic spends the budget: HTTP is refused after it.
    const ws = await client(r1, 'rate_a');
    for (let i = 0; i < 5; i++) assert.equal((await ws.request({ type: 'send', to: 'rate_sink', data: i })).type, 'ack', `ws send ${i} within the burst`);
    const http = await httpSend(r1, 'rate_a', { to: 'rate_sink', data: 'http' });
    assert.equal(http.status, 429);
    assert.equal(http.body.error, 'rate_limited');
    assert.ok(Number(http.retryAfter) >= 1, `Retry-After ${http.retryAfter}`);
    // A second connection of the same user does not get a budget of its own.
    const ws2 = await client(r1, 'rate_a');
    assert.equal((await ws2.request({ type: 'send', to: 'rate_sink', data: 'x' })).code, 'rate_limited');
    // And the other way round: HTTP spends it, WebSocket (send and publish) is refused.
    for (let i = 0; i < 5; i++) assert.equal((await httpSend(r1, 'rate_b', { to: 'rate_sink', data: i })).status, 202, `http send ${i} within the burst`);
    const wsb = await client(r1, 'rate_b');
    assert.equal((await wsb.request({ type: 'send', to: 'rate_sink', data: 'ws' })).code, 'rate_limited');
    assert.equal((await wsb.request({ type: 'join', room: 'rate_room' })).type, 'ack', 'joining is not a send');
    assert.equal((await wsb.request({ type: 'publish', room: 'rate_room', data: 'p' })).code, 'rate_limited');
    assert.ok((await readMetric(r1.url, 'wsfleet_rate_limited_total', { transport: 'http' })) > httpBefore);
    assert.ok((await readMetric(r1.url, 'wsfleet_rate_limited_total', { transport: 'ws' })) >= wsBefore + 3);
    // The budget refills at the configured rate: after Retry-After, a send is accepted again.
    await new Promise((r) => setTimeout(r, Number(http.retryAfter) * 1000 + 100));
    assert.equal((await httpSend(r1, 'rate_a', { to: 'rate_sink', data: 'later' })).status, 202);
    // Other users were never limited by these two.
    assert.equal((await httpSend(r1, 'rate_c', { to: 'rate_sink', data: 'c' })).status, 202);
  });

  it('the replica buffer budget: a consumer that stops reading is closed 1013, the others keep being served', async () => {
    const budget = await fleet.addReplica('lim_budget', {
      RATE_LIMIT_PER_SEC: '100000',
      RATE_LIMIT_BURST: '100000',
      // The per-socket cap is far above the replica's budget: only the budget can close here.
      MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
      MAX_BUFFERED_BYTES_TOTAL: String(1024 * 1024),
    });
    const slow = await client(budget, 'budget_slow');
    const fast = await client(budget, 'budget_fast');
    const sender = await client(budget, 'budget_sender');
    for (const c of [slow, fast, sender]) assert.equal((await c.request({ type: 'join', room: 'live:budget' })).type, 'ack');
    slow.ws.pause();
    const blob = 'b'.repeat(32 * 1024);
    const acks: Frame[] = [];
    let closedAt = -1;
    for (let i = 0; i < 1500 && closedAt < 0; i++) {
      acks.push(await sender.request({ type: 'publish', room: 'live:budget', data: { i, blob } }, 10_000));
      if (i % 20 === 19 && (await readMetric(budget.url, 'wsfleet_buffer_budget_closes_total')) >= 1) closedAt = i;
    }
    assert.ok(closedAt >= 0, 'the replica went over its budget and closed the lagging socket');
    assert.equal(await readMetric(budget.url, 'wsfleet_slow_consumer_closes_total'), 0, 'the per-socket cap was not what closed it');
    // Served throughout, and after: every message reached the consumer that reads.
    for (let i = 0; i < 5; i++) acks.push(await sender.request({ type: 'publish', room: 'live:budget', data: { i: `after${i}`, blob: '' } }));
    assert.ok(acks.every((a) => a.type === 'ack' && a.stored === false), 'a live-only namespace stores nothing');
    const want = acks.length;
    await fast.next(() => fast.frames.filter((f) => f.type === 'message').length >= want, 10_000, `${want} messages on the fast consumer`);
    assert.equal(fast.frames.filter((f) => f.type === 'message').length, want);
    assert.equal(fast.ws.readyState, fast.ws.OPEN);
    slow.ws.resume();
    const { code, reason } = await slow.closed;
    assert.ok(code === 1013 || code === 1006, `closed ${code}`);
    if (code === 1013) assert.match(reason, /budget/);
    assert.equal((await fetch(`${budget.url}/readyz`)).status, 200);
  });
});
