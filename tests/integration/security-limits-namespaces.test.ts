/**
 * Issue 11, the namespace's own limits, with real processes: whether history is kept
 * (keepHistory), for how long (historyMaxAgeSec: each message's Nats-TTL), how much
 * (historyMaxMsgs: a full room refuses, nothing is evicted), and maxMembers. A full quota is
 * the sender's matter: WebSocket `not_stored`, HTTP 429 `not_stored` with Retry-After, never 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { waitFor } from '../support/ports.js';
import type { Replica } from '../support/replica.js';
import { TEST_NAMESPACES, TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';
import { subjects } from '../../server/src/subjects.js';
import { HISTORY_DEFAULTS } from '../../server/src/store-capacity.js';

const asMembers = { join: 'authenticated', history: 'members', publish: 'members' } as const;
const NAMESPACES = {
  ...TEST_NAMESPACES,
  live: { join: 'authenticated', history: 'none', publish: 'members', keepHistory: false, historyMaxAgeSec: 3600, historyMaxMsgs: 1000 },
  brief: { ...asMembers, keepHistory: true, historyMaxAgeSec: 2, historyMaxMsgs: 1000 },
  small: { ...asMembers, keepHistory: true, historyMaxAgeSec: 3600, historyMaxMsgs: 3 },
  capped: { ...asMembers, keepHistory: true, historyMaxAgeSec: 3600, historyMaxMsgs: 1000, maxMembers: 2 },
};

const INBOX_MAX = 20;

let fleet: ProcessFleet;
let r1: Replica;
let jsm: JetStreamManager;
const clients: TestClient[] = [];

async function client(user: string): Promise<TestClient> {
  const c = await connectClient(`${r1.wsUrl}?token=${signToken(TEST_SECRET, user)}`);
  clients.push(c);
  return c;
}

async function publishHttp(user: string, room: string, data: unknown): Promise<{ status: number; retryAfter: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${r1.url}/rooms/${encodeURIComponent(room)}/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, user)}` }, body: JSON.stringify({ data }) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, unknown> };
}

/** Messages the rooms stream holds for one room. */
async function storedIn(room: string): Promise<number> {
  const subject = subjects.roomLog(room);
  const info = await jsm.streams.info('WSF_ROOMS', { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

describe('namespace limits: history kept or not, for how long, how much; members', { timeout: 120_000 }, () => {
  before(async () => {
    // HISTORY_MAX_MSGS_PER_USER: a recipient's inbox is full after 20 (the namespaces' larger counts are capped to it).
    fleet = await startProcessFleet(1, { NAMESPACES: JSON.stringify(NAMESPACES), RATE_LIMIT_PER_SEC: '10000', RATE_LIMIT_BURST: '10000', HISTORY_MAX_MSGS_PER_USER: String(INBOX_MAX) }, { natsNodes: 1 });
    const first = fleet.replicas[0];
    assert.ok(first);
    r1 = first;
    jsm = await jetstreamManager(fleet.observer);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await fleet.stop();
  });

  it('keepHistory false: messages are delivered live and nothing is stored, over WebSocket and HTTP', async () => {
    const member = await client('live_member');
    const sender = await client('live_sender');
    for (const c of [member, sender]) assert.equal((await c.request({ type: 'join', room: 'live:news' })).type, 'ack');
    const ack = await sender.request({ type: 'publish', room: 'live:news', data: 'ws' });
    assert.deepEqual([ack.type, ack.stored, ack.seq], ['ack', false, undefined]);
    const http = await publishHttp('live_sender', 'live:news', 'http');
    assert.equal(http.status, 202);
    assert.equal(http.body.stored, false);
    for (const data of ['ws', 'http']) {
      const m = await member.next((f) => f.type === 'message' && f.data === data);
      assert.equal(m.seq, undefined, 'not sequenced: there is no history to resume from');
    }
    assert.equal(await storedIn('live:news'), 0);
    assert.equal((await member.request({ type: 'resume', room: 'live:news', after: 0 })).code, 'forbidden', 'no history to read');
  });

  it('historyMaxAgeSec: each message lives the namespace\'s time, while other namespaces keep theirs', async () => {
    const c = await client('brief_user');
    assert.equal((await c.request({ type: 'join', room: 'brief:r' })).type, 'ack');
    assert.equal((await c.request({ type: 'join', room: 'kept_r' })).type, 'ack');
    for (const data of ['b1', 'b2']) {
      const a = await c.request({ type: 'publish', room: 'brief:r', data });
      assert.deepEqual([a.type, a.stored], ['ack', true]);
    }
    assert.equal((await c.request({ type: 'publish', room: 'kept_r', data: 'k' })).stored, true);
    const ttl = (await jsm.streams.getMessage('WSF_ROOMS', { last_by_subj: subjects.roomLog('brief:r') }))?.header.get('Nats-TTL');
    assert.equal(ttl, '2s', 'the message carries its namespace\'s age as its TTL');
    assert.equal(await storedIn('brief:r'), 2);
    await waitFor('brief messages aged out', async () => (await storedIn('brief:r')) === 0, 15_000, 250);
    assert.equal(await storedIn('kept_r'), 1, 'the default namespace (an hour) keeps its message');
    // A replay after the age finds nothing to send.
    const late = await client('brief_late');
    assert.equal((await late.request({ type: 'join', room: 'brief:r', after: 0 })).type, 'ack');
    await late.next((f) => f.type === 'replayed' && f.room === 'brief:r', 5000, 'the replay\'s end');
    assert.equal(late.frames.filter((f) => f.type === 'message').length, 0);
  });

  it('historyMaxMsgs: a full room refuses (WebSocket not_stored, HTTP 429 not_stored with Retry-After) and keeps what it had', async () => {
    const c = await client('small_user');
    assert.equal((await c.request({ type: 'join', room: 'small:r' })).type, 'ack');
    const kept: number[] = [];
    for (let i = 0; i < 3; i++) {
      const a = await c.request({ type: 'publish', room: 'small:r', data: i });
      assert.deepEqual([a.type, a.stored], ['ack', true], JSON.stringify(a));
      kept.push(a.seq as number);
    }
    const refused = await c.request({ type: 'publish', room: 'small:r', data: 'over' });
    assert.deepEqual([refused.type, refused.code, refused.delivered], ['error', 'not_stored', 0]);
    assert.match(String(refused.message), /history full for this room/);
    const http = await publishHttp('small_user', 'small:r', 'over-http');
    assert.equal(http.status, 429, 'a full quota is not a server fault');
    assert.equal(http.body.error, 'not_stored');
    assert.equal(http.body.message, refused.message, 'the same answer as over WebSocket');
    const retry = Number(http.retryAfter);
    assert.ok(retry > 3500 && retry <= 3600, `Retry-After is when the oldest message ages out (${http.retryAfter})`);
    assert.equal(await storedIn('small:r'), 3, 'nothing evicted');
    assert.equal(c.frames.filter((f) => f.type === 'message' && (f.data === 'over' || f.data === 'over-http')).length, 0, 'refused messages reached nobody');
    const reader = await client('small_reader');
    assert.equal((await reader.request({ type: 'join', room: 'small:r', after: 0 })).type, 'ack');
    await reader.next((f) => f.type === 'replayed' && f.room === 'small:r');
    assert.deepEqual(reader.frames.filter((f) => f.type === 'message').map((f) => f.seq), kept);
    // The quota is per room: another room of the namespace still stores.
    assert.equal((await c.request({ type: 'publish', room: 'small:other', data: 1 })).type, 'error', 'not a member of small:other');
    assert.equal((await publishHttp('small_user', 'small:other', 1)).status, 202);
  });

  it('a full inbox (the stream\'s per-subject limit): WebSocket not_stored, HTTP 429 not_stored with Retry-After, the same message', async () => {
    const sender = await client('inbox_sender');
    for (let i = 0; i < INBOX_MAX; i++) {
      const res = await fetch(`${r1.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, 'inbox_sender')}` }, body: JSON.stringify({ to: 'inbox_away', data: i }) });
      assert.equal(res.status, 202, `send ${i} fits`);
    }
    const ws = await sender.request({ type: 'send', to: 'inbox_away', data: 'over' });
    assert.deepEqual([ws.type, ws.code], ['error', 'not_stored']);
    assert.match(String(ws.message), /history full for this recipient/);
    const res = await fetch(`${r1.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, 'inbox_sender')}` }, body: JSON.stringify({ to: 'inbox_away', data: 'over' }) });
    assert.equal(res.status, 429);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual([body.error, body.message], ['not_stored', ws.message]);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry > HISTORY_DEFAULTS.maxAgeSec - 300 && retry <= HISTORY_DEFAULTS.maxAgeSec, `Retry-After: the oldest ages out with HISTORY_MAX_AGE_SEC (${retry})`);
    const info = await jsm.streams.info('WSF_INBOX', { subjects_filter: subjects.inbox('inbox_away') });
    assert.equal(info.state.subjects?.[subjects.inbox('inbox_away')], INBOX_MAX, 'nothing evicted');
    assert.equal((await fetch(`${r1.url}/readyz`)).status, 200);
  });

  it('maxMembers: a full room refuses a join with room_full until a member leaves', async () => {
    const [a, b, c] = [await client('cap_a'), await client('cap_b'), await client('cap_c')];
    assert.equal((await a.request({ type: 'join', room: 'capped:r' })).type, 'ack');
    assert.equal((await b.request({ type: 'join', room: 'capped:r' })).type, 'ack');
    const refused = await c.request({ type: 'join', room: 'capped:r' });
    assert.deepEqual([refused.type, refused.code], ['error', 'room_full']);
    assert.match(String(refused.message), /maximum of 2 members/);
    assert.equal((await a.request({ type: 'join', room: 'capped:r' })).type, 'ack', 'a member joining again is not a new member');
    assert.equal((await c.request({ type: 'join', room: 'capped:other' })).type, 'ack', 'the limit is per room');
    assert.equal((await b.request({ type: 'leave', room: 'capped:r' })).type, 'ack');
    assert.equal((await c.request({ type: 'join', room: 'capped:r' })).type, 'ack', 'the slot left by b');
    await a.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await b.request({ type: 'join', room: 'capped:r' })).type, 'ack', 'a closed connection is no member');
  });
});
