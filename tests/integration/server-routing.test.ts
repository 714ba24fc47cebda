/**
 * Any user is reachable from any replica. Real 3-node NATS JetStream cluster, 3 real replicas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { readMetric } from '../support/metrics.js';
import { waitFor } from '../support/ports.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

let fleet: ProcessFleet;
const open: TestClient[] = [];

async function client(replica: number, user: string): Promise<TestClient> {
  const r = fleet.replicas[replica - 1];
  assert.ok(r, `replica ${replica}`);
  const token = await mintToken(TEST_SECRET, user);
  const c = await connectClient(`${r.wsUrl}?token=${token}`);
  open.push(c);
  return c;
}

/** Waits until every replica's routing view shows `user` on `servers` (presence KV watch). */
async function presenceKeys(user: string): Promise<string[]> {
  const kv = await new Kvm(fleet.observer).open('wsf_presence');
  const keys: string[] = [];
  for await (const k of await kv.keys(`${user}.*`)) keys.push(k);
  return keys.sort();
}

describe('server routing across replicas', { timeout: 120_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(3);
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('A on replica 1 reaches B on replica 2 over server.<B replica> only', async () => {
    const seen: string[] = [];
    const sub = fleet.observer.subscribe('server.>', { callback: (_e, m) => { seen.push(m.subject); } });
    const anne = await client(1, 'anne');
    const bob = await client(2, 'bob');
    assert.equal(anne.welcome.server, 'r1');
    assert.equal(bob.welcome.server, 'r2');
    await waitFor('bob in presence', async () => (await presenceKeys('bob')).length === 1);
    await new Promise((r) => setTimeout(r, 200)); // the replicas' KV watches catch up
    const ack = await anne.request({ type: 'send', to: 'bob', data: { text: 'hello bob' } });
    assert.deepEqual({ type: ack.type, delivered: ack.delivered }, { type: 'ack', delivered: 1 });
    const msg = await bob.next((f) => f.type === 'message', 3000, 'message for bob');
    assert.deepEqual(msg.data, { text: 'hello bob' });
    assert.equal(msg.from, 'anne');
    assert.equal(typeof msg.ts, 'number');
    await fleet.observer.flush();
    sub.unsubscribe();
    assert.deepEqual(seen, ['server.r2'], 'exactly one publish, to the replica holding bob');
  });

  it('a user connected on two replicas gets the message on both; the ack counts 2', async () => {
    const carol2 = await client(2, 'carol');
    const carol3 = await client(3, 'carol');
    const dave = await client(1, 'dave');
    await waitFor('carol on 2 replicas', async () => (await presenceKeys('carol')).length === 2);
    await new Promise((r) => setTimeout(r, 200));
    const ack = await dave.request({ type: 'send', to: 'carol', data: 42 });
    assert.equal(ack.type, 'ack');
    assert.equal(ack.delivered, 2);
    assert.equal((await carol2.next((f) => f.type === 'message')).data, 42);
    assert.equal((await carol3.next((f) => f.type === 'message')).data, 42);
  });

  it('a user with two sockets on one replica and one elsewhere: all three, ack 3', async () => {
    const e1 = await client(1, 'erin');
    const e2 = await client(1, 'erin');
    const e3 = await client(3, 'erin');
    const sender = await client(2, 'frank');
    await waitFor('erin on 2 replicas', async () => (await presenceKeys('erin')).length === 2);
    await new Promise((r) => setTimeout(r, 200));
    const ack = await sender.request({ type: 'send', to: 'erin', data: 'x' });
    assert.equal(ack.delivered, 3);
    await Promise.all([e1, e2, e3].map((c) => c.next((f) => f.type === 'message')));
  });

  it('POST /send to replica 3 reaches a user on replica 1', async () => {
    const gina = await client(1, 'gina');
    await waitFor('gina in presence', async () => (await presenceKeys('gina')).length === 1);
    await new Promise((r) => setTimeout(r, 200));
    const r3 = fleet.replicas[2];
    assert.ok(r3);
    const res = await fetch(`${r3.url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await mintToken(TEST_SECRET, 'hank')}` },
      body: JSON.stringify({ to: 'gina', data: { via: 'http' } }),
    });
    assert.equal(res.status, 202);
    const accepted = (await res.json()) as { delivered: number; stored: boolean; seq: number };
    assert.deepEqual({ delivered: accepted.delivered, stored: accepted.stored }, { delivered: 1, stored: true });
    assert.equal(typeof accepted.seq, 'number');
    const msg = await gina.next((f) => f.type === 'message');
    assert.deepEqual(msg.data, { via: 'http' });
    assert.equal(msg.from, 'hank');
    const missing = await fetch(`${r3.url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await mintToken(TEST_SECRET, 'hank')}` },
      body: JSON.stringify({ to: 'nobody_here', data: 1 }),
    });
    assert.equal(missing.status, 202, 'a user connected nowhere: stored for their next connect');
    assert.deepEqual(await missing.json().then((b) => { const { delivered, stored } = b as { delivered: number; stored: boolean }; return { delivered, stored }; }), { delivered: 0, stored: true });
  });

  it('a room with members on 3 replicas: all get it; after leave, that member no longer does', async () => {
    const m1 = await client(1, 'ivan');
    const m2 = await client(2, 'judy');
    const m3 = await client(3, 'kim');
    for (const m of [m1, m2, m3]) assert.equal((await m.request({ type: 'join', room: 'lobby' })).type, 'ack');
    await new Promise((r) => setTimeout(r, 100)); // room subscriptions reach the cluster
    const ack = await m1.request({ type: 'publish', room: 'lobby', data: 'first' });
    assert.equal(ack.type, 'ack');
    for (const m of [m1, m2, m3]) {
      const f = await m.next((x) => x.type === 'message' && x.data === 'first', 3000, 'room message');
      assert.equal(f.room, 'lobby');
      assert.equal(f.from, 'ivan');
    }
    assert.equal((await m3.request({ type: 'leave', room: 'lobby' })).type, 'ack');
    await new Promise((r) => setTimeout(r, 100));
    await m2.request({ type: 'publish', room: 'lobby', data: 'second' });
    await m1.next((x) => x.data === 'second', 3000, 'second on m1');
    await m2.next((x) => x.data === 'second', 3000, 'second on m2');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(m3.frames.some((f) => f.data === 'second'), false, 'a member who left gets nothing more');
  });

  it('a room message published the moment a join is acknowledged reaches the new member (20 rooms, no pause)', async () => {
    const publisher = await client(1, 'pia');
    const joiner = await client(2, 'quinn');
    const missing: string[] = [];
    for (let i = 0; i < 20; i++) {
      const room = `rush-${i}`;
      assert.equal((await publisher.request({ type: 'join', room })).type, 'ack');
      assert.equal((await joiner.request({ type: 'join', room })).type, 'ack');
      assert.equal((await publisher.request({ type: 'publish', room, data: `now-${i}` })).type, 'ack');
    }
    for (let i = 0; i < 20; i++) {
      await joiner.next((f) => f.type === 'message' && f.data === `now-${i}`, 3000, `room message ${i}`).catch(() => { missing.push(`rush-${i}`); });
    }
    assert.deepEqual(missing, [], 'every message published after the join\'s ack reached the member');
  });

  it('a send made the moment the recipient is welcomed on another replica reaches them, live or by the tail check (20 users, no pause)', async (t) => {
    const sender = await client(1, 'rhea');
    const acks: { delivered: unknown; stored: unknown }[] = [];
    for (let i = 0; i < 20; i++) {
      const recipient = await client(2 + (i % 2), `fresh-${i}`);
      const ack = await sender.request({ type: 'send', to: `fresh-${i}`, data: `hi-${i}` });
      acks.push({ delivered: ack.delivered, stored: ack.stored });
      // Read after the send, so the read adds no pause before it.
      assert.deepEqual(await presenceKeys(`fresh-${i}`), [`fresh-${i}.${String(recipient.welcome.server)}`], `fresh-${i}'s entry is stored`);
      await recipient.next((f) => f.type === 'message' && f.data === `hi-${i}`, 3000, `message for fresh-${i}`);
    }
    for (const ack of acks) assert.ok(ack.delivered === 1 || (ack.delivered === 0 && ack.stored === true), `every send is delivered live or stored for the tail check: ${JSON.stringify(ack)}`);
    // The ack counts what the sender's routing view held; it follows the store by one KV watch push, so under load a
    // send can still beat it (1 of 20 once in CI): then the recipient's tail check delivers it, as asserted above.
    t.diagnostic(`delivered live at the ack: ${acks.filter((a) => a.delivered === 1).length} of ${acks.length}`);
  });

  it('room traffic reaches only replicas with members of that room', async () => {
    const [r1, r2, r3] = fleet.replicas;
    assert.ok(r1 && r2 && r3);
    const received = () => Promise.all([r2, r3].map((r) => readMetric(r.url, 'wsfleet_cross_replica_received_total', { kind: 'room' })));
    const before = await received();
    const only = await client(1, 'lena');
    const other = await client(2, 'omar');
    await only.request({ type: 'join', room: 'quiet' });
    await other.request({ type: 'join', room: 'elsewhere' });
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) assert.equal((await only.request({ type: 'publish', room: 'quiet', data: i })).type, 'ack');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await received(), before, 'replicas 2 and 3 (no member of "quiet") received none of its messages');
    assert.equal(only.frames.filter((f) => f.type === 'message' && f.room === 'quiet').length, 5);
  });

  it('kill -9 of a replica: within 10 s sends to its users answer delivered 0 and its presence is gone', async () => {
    const max = await client(2, 'max');
    const sender = await client(1, 'nina');
    await waitFor('max in presence', async () => (await presenceKeys('max')).length === 1);
    assert.ok(max.welcome.server === 'r2');
    const r2 = fleet.replicas[1];
    assert.ok(r2);
    const killedAt = Date.now();
    await r2.kill();
    const ack = await sender.request({ type: 'send', to: 'max', data: 'are you there' }, 8000);
    assert.equal(ack.type, 'ack', 'no hang, no error: the replica is gone, so are its sockets');
    assert.equal(ack.delivered, 0);
    await waitFor('presence of the dead replica purged', async () => (await presenceKeys('max')).length === 0, 10_000, 250);
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed < 10_000, `purged after ${elapsed} ms`);
  });
});
