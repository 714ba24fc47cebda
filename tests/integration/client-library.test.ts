/**
 * The client library (client/src) against real replicas and a real 3-node NATS cluster, as processes:
 * cross-replica direct messages, a room across replicas, and a replica SIGKILLed under a client that
 * then resumes on another replica with nothing lost and nothing doubled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import net from 'node:net';
import { Kvm } from '@nats-io/kv';
import WebSocket from 'ws';
import { FleetClient, type FleetMessage, type ReplayReport } from '../../client/src/index.js';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { waitFor } from '../support/ports.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';

let fleet: ProcessFleet;
const clients: FleetClient[] = [];
const FAST = { RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };

interface Probe {
  client: FleetClient;
  messages: FleetMessage[];
  resumed: ReplayReport[];
  states: string[];
}

/** A client that connects to the first live replica of `order` (asked again on every reconnect). */
async function probe(user: string, order: () => Replica[]): Promise<Probe> {
  const token = await mintToken(TEST_SECRET, user);
  const client = new FleetClient({
    url: () => (order()[0] ?? assert.fail('no live replica')).wsUrl,
    token: () => token,
    WebSocket,
    reconnect: { initialMs: 50, maxMs: 500 },
    ackTimeoutMs: 3_000,
    sendRetries: 3,
  });
  clients.push(client);
  const p: Probe = { client, messages: [], resumed: [], states: [] };
  client.on('message', (m) => { p.messages.push(m); });
  client.on('resumed', (r) => { p.resumed.push(r); });
  client.on('state', (s) => { p.states.push(s); });
  await client.connect();
  return p;
}

const dead = new Set<string>();
const live = (): Replica[] => fleet.replicas.filter((r) => !dead.has(r.id));
const replica = (i: number): Replica => fleet.replicas[i] ?? assert.fail(`no replica ${i}`);

describe('client library against real replicas', { timeout: 120_000 }, () => {
  before(async () => { fleet = await startProcessFleet(3, FAST); });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await fleet.stop();
  });

  it('sends direct messages across replicas and gets acks with seqs', async () => {
    const anne = await probe('c-anne', () => [replica(0)]);
    const bob = await probe('c-bob', () => [replica(1)]);
    assert.equal(anne.client.server, 'r1');
    assert.equal(bob.client.server, 'r2');
    const ack = await anne.client.send('c-bob', { text: 'hi bob' });
    assert.equal(ack.stored, true);
    assert.equal(typeof ack.seq, 'number');
    await waitFor('bob gets the message', () => bob.messages.length === 1, 5_000);
    const got = bob.messages[0] ?? assert.fail('no message');
    assert.deepEqual(got.data, { text: 'hi bob' });
    assert.equal(got.from, 'c-anne');
    assert.equal(got.seq, ack.seq);
    await bob.client.send('c-anne', { text: 'hi anne' });
    await waitFor('anne gets the answer', () => anne.messages.length === 1, 5_000);
    assert.deepEqual(anne.messages[0]?.data, { text: 'hi anne' });
  });

  it('publishes to a room whose members are on different replicas', async () => {
    const a = await probe('c-ra', () => [replica(0)]);
    const b = await probe('c-rb', () => [replica(2)]);
    await a.client.join('c-lobby');
    await b.client.join('c-lobby');
    const ack = await a.client.publish('c-lobby', { n: 1 });
    assert.equal(ack.room, 'c-lobby');
    await waitFor('both members get it', () => a.messages.length === 1 && b.messages.length === 1, 5_000);
    const got = b.messages[0] ?? assert.fail('no message');
    assert.equal(got.room, 'c-lobby');
    assert.equal(got.seq, ack.seq);
  });

  it('resumes on another replica after a SIGKILL: every message once, in order', async () => {
    const victim = replica(2);
    const sender = await probe('c-sender', () => [replica(0)]);
    // The receiver prefers the victim; once it is dead, the next live replica.
    const receiver = await probe('c-recv', () => [victim, ...live().filter((r) => r !== victim)].filter((r) => !dead.has(r.id)));
    await receiver.client.join('c-room');
    await sender.client.join('c-room'); // publishing takes membership (namespace policy)
    assert.equal(receiver.client.server, victim.id);
    const total = 120;
    const sends: Promise<unknown>[] = [];
    for (let n = 0; n < total; n++) {
      if (n === 40) {
        dead.add(victim.id);
        await victim.kill();
      }
      sends.push(sender.client.send('c-recv', { n }));
      sends.push(sender.client.publish('c-room', { n }));
      await new Promise((r) => setTimeout(r, 10));
    }
    const acks = await Promise.allSettled(sends);
    const failed = acks.filter((a) => a.status === 'rejected');
    assert.equal(failed.length, 0, `every send is acknowledged: ${JSON.stringify(failed.slice(0, 3))}`);
    await waitFor('the receiver has every message', () => receiver.messages.length >= 2 * total, 20_000).catch(() => undefined);
    const direct = receiver.messages.filter((m) => m.room === undefined).map((m) => (m.data as { n: number }).n);
    const room = receiver.messages.filter((m) => m.room === 'c-room').map((m) => (m.data as { n: number }).n);
    const expected = Array.from({ length: total }, (_, n) => n);
    assert.deepEqual(direct, expected, 'direct messages: each once, in order');
    assert.deepEqual(room, expected, 'room messages: each once, in order');
    assert.notEqual(receiver.client.server, victim.id);
    assert.ok(receiver.client.stats.reconnects >= 1);
    assert.ok(receiver.states.includes('reconnecting'));
    await waitFor('a resumed report for the inbox', () => receiver.resumed.some((r) => r.room === undefined), 5_000);
    assert.ok(receiver.resumed.every((r) => r.recovered));
    // Messages sent while it was away came in the replay, not live.
    assert.ok(receiver.client.stats.replayed > 0, `some messages were replayed: ${JSON.stringify(receiver.client.stats)} ${JSON.stringify(receiver.resumed)}`);
  });

  it('a member that got nothing in a room before its replica died still gets what was published while it was away', async () => {
    const victim = replica(1);
    let victimDead = false;
    const sender = await probe('c-q-sender', () => [replica(0)]);
    // Until the test lets it move, the receiver keeps trying its dead replica: every publish below
    // lands while it is away, so only a rejoin from its position can bring them.
    const receiver = await probe('c-q-recv', () => [victimDead ? replica(0) : victim]);
    await receiver.client.join('c-quiet');
    await sender.client.join('c-quiet');
    assert.equal(receiver.client.server, victim.id);
    assert.equal(typeof receiver.client.resumePositions.rooms['c-quiet'], 'number', "the join's ack gave the room a position");
    dead.add(victim.id);
    await victim.kill();
    await waitFor('the receiver notices', () => receiver.client.state === 'reconnecting', 5_000);
    const total = 20;
    for (let n = 0; n < total; n++) await sender.client.publish('c-quiet', { n });
    victimDead = true;
    await waitFor('the receiver has every message', () => receiver.messages.length >= total, 15_000).catch(() => undefined);
    assert.deepEqual(receiver.messages.map((m) => (m.data as { n: number }).n), Array.from({ length: total }, (_, n) => n));
    assert.ok(receiver.messages.every((m) => m.replayed === true), 'they came in the replay');
  });

  it('a client that got nothing on its inbox resumes after its replay\'s end, not from the stored cursor: a message the dropped socket took but never handed over still arrives', async () => {
    // A TCP proxy in front of a replica that can stop handing the server's bytes to the client: the message
    // then reaches the kernel (the server counts it in the stored cursor) but never the client.
    const r1 = live()[0] ?? assert.fail('a live replica');
    let swallow = false;
    const pairs: net.Socket[] = [];
    const proxy = net.createServer((down) => {
      const up = net.connect(r1.port, '127.0.0.1');
      pairs.push(down, up);
      down.pipe(up);
      up.on('data', (d: Buffer) => { if (!swallow) down.write(d); });
      for (const s of [down, up]) s.on('error', () => undefined);
    });
    await new Promise<void>((r) => { proxy.listen(0, '127.0.0.1', r); });
    const proxyUrl = `ws://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/ws`;
    let direct = false;
    const unread = await probe('c-unread', () => [{ ...r1, wsUrl: direct ? r1.wsUrl : proxyUrl }]);
    await waitFor('the connect replay ended', () => unread.resumed.length >= 1, 5_000);
    assert.equal(unread.messages.length, 0);
    // Nothing is read from now on; the reconnect waits until the cursor is stored.
    swallow = true;
    let reconnects = 0;
    unread.client.on('attempt', () => { reconnects += 1; });
    const sender = await probe('c-unread-sender', () => [r1]);
    const ack = await sender.client.send('c-unread', { n: 1 });
    assert.equal(ack.delivered, 1, `written to the socket on ${r1.id}`);
    const cursors = await new Kvm(fleet.observer).open('wsf_cursors');
    await new Promise((r) => setTimeout(r, 200));
    for (const s of pairs) s.destroy();
    proxy.close();
    await waitFor('the stored cursor counts the message', async () => (await cursors.get('c-unread'))?.json<{ seq: number }>().seq === ack.seq, 5_000);
    direct = true;
    await waitFor('the message arrives after the reconnect', () => unread.messages.length === 1, 10_000);
    assert.ok(reconnects >= 1);
    assert.equal(unread.messages[0]?.seq, ack.seq);
  });
});

