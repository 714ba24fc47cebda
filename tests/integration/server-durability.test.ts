/**
 * Nothing lost when replicas come and go: history and resume, a drain spread over its window, a slow
 * consumer cut at its buffer cap, a replica judged dead while it lives, a NATS node or the sender's
 * replica killed under traffic. Real 3-node NATS JetStream cluster, real replicas; the receivers are
 * the client library (tests/support/resuming-client.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kvm } from '@nats-io/kv';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { readMetric } from '../support/metrics.js';
import { waitFor } from '../support/ports.js';
import { ResumingClient, rotating } from '../support/resuming-client.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';
import { connectClient, type Frame, type TestClient } from '../support/ws-client.js';

let fleet: ProcessFleet;
const closers: (() => Promise<void>)[] = [];
const FAST = { RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };

function live(): Replica[] {
  return fleet.replicas.filter((r) => !dead.has(r.id));
}
const dead = new Set<string>();

/** Like a well-behaved client: an upgrade refused with 503 (replica momentarily not ready) is tried again. */
async function retrying503<T>(connect: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (attempt >= 10 || !(err instanceof Error) || !/HTTP 503/.test(err.message)) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function client(replica: Replica, user: string): Promise<TestClient> {
  const url = `${replica.wsUrl}?token=${await mintToken(TEST_SECRET, user)}`;
  const c = await retrying503(() => connectClient(url));
  closers.push(() => c.close());
  return c;
}

/** A resuming client (the client library) that moves to the next of `urls` whenever its socket closes. */
async function receiver(user: string, urls: () => string[]): Promise<ResumingClient> {
  const r = new ResumingClient({ url: rotating(urls), token: await mintToken(TEST_SECRET, user), autoReconnect: true });
  await retrying503(() => r.connect());
  closers.push(() => r.close());
  return r;
}

/** Like the client library: a send answered store_unavailable is sent again, same id, after a pause (bounded). */
async function sendUntilStored(sender: TestClient, frame: Record<string, unknown>, timeoutMs: number): Promise<Frame> {
  for (let attempt = 1; ; attempt++) {
    const answer = await sender.request(frame, timeoutMs);
    if (answer.type !== 'error' || answer.code !== 'store_unavailable' || attempt >= 5) return answer;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Sends `count` direct messages {n} at `perSec`, not waiting for acks; resolves with the acks by n. */
async function sendPaced(sender: TestClient, to: string, count: number, perSec: number, onSent?: (n: number) => void): Promise<Map<number, Frame>> {
  const acks = new Map<number, Frame>();
  const pending: Promise<void>[] = [];
  const interval = 1000 / perSec;
  const start = Date.now();
  for (let n = 0; n < count; n++) {
    const due = start + n * interval;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(sendUntilStored(sender, { type: 'send', to, data: { n }, id: `paced-${to}-${n}` }, 15_000).then((f) => { acks.set(n, f); }, () => undefined));
    onSent?.(n);
  }
  await Promise.all(pending);
  return acks;
}

function ns(r: ResumingClient): number[] {
  return r.messages.map((m) => (m.data as { n: number }).n);
}

describe('durability: history, resume, drain, slow consumers', { timeout: 300_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(3, FAST);
  });
  after(async () => {
    for (const c of closers) await c().catch(() => undefined);
    await fleet.stop();
  });

  it('recipient replica SIGKILLed mid-stream: the recipient resumes elsewhere and ends with all 1000, once each, in order', async () => {
    const [r1, r2, r3] = fleet.replicas;
    assert.ok(r1 && r2 && r3);
    const victim = await fleet.addReplica('victim', FAST);
    const rcv = await receiver('k_rcv', () => [victim.wsUrl, r3.wsUrl, r2.wsUrl]);
    assert.equal(rcv.servers[0], 'victim');
    const sender = await client(r1, 'k_snd');
    await waitFor('presence', () => true);
    await new Promise((r) => setTimeout(r, 300));
    const acks = await sendPaced(sender, 'k_rcv', 1000, 200, (n) => {
      if (n === 300) { dead.add('victim'); void victim.kill(); }
    });
    assert.equal(acks.size, 1000, 'every message acknowledged');
    assert.ok([...acks.values()].every((a) => a.type === 'ack' && a.stored === true));
    await waitFor('all 1000 received', () => rcv.messages.length >= 1000, 20_000, 100);
    assert.deepEqual(ns(rcv), Array.from({ length: 1000 }, (_, i) => i), 'all of them, once each, in the sender\'s order');
    assert.ok(rcv.reconnects >= 1, 'it did reconnect');
    assert.notEqual(rcv.servers.at(-1), 'victim');
  });

  it('an offline user gets what was sent meanwhile on connect, and only what is new on the next one', async () => {
    const [r1, r2] = live();
    assert.ok(r1 && r2);
    const sender = await client(r1, 'o_snd');
    for (const n of [1, 2, 3]) {
      const ack = await sender.request({ type: 'send', to: 'o_rcv', data: { n } });
      assert.deepEqual([ack.type, ack.delivered, ack.stored], ['ack', 0, true]);
    }
    const first = await client(r2, 'o_rcv');
    await waitFor('3 stored messages', () => first.frames.filter((f) => f.type === 'message').length === 3, 5000);
    assert.deepEqual(first.frames.filter((f) => f.type === 'message').map((f) => (f.data as { n: number }).n), [1, 2, 3]);
    await first.close();
    await new Promise((r) => setTimeout(r, 300)); // the cursor is written on close
    for (const n of [4, 5]) await sender.request({ type: 'send', to: 'o_rcv', data: { n } });
    const second = await client(r1, 'o_rcv');
    await waitFor('2 new messages', () => second.frames.filter((f) => f.type === 'message').length >= 2, 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(second.frames.filter((f) => f.type === 'message').map((f) => (f.data as { n: number }).n), [4, 5], 'no repeat of what the first connection had');
  });

  it('resume by frame and for rooms: missed messages in order, then live ones, no repeats', async () => {
    const [r1, r2] = live();
    assert.ok(r1 && r2);
    const member = await client(r2, 'rs_member');
    const poster = await client(r1, 'rs_poster');
    await member.request({ type: 'join', room: 'resumable' });
    await poster.request({ type: 'join', room: 'resumable' }); // publishing takes membership (namespace policy)
    const acks: Frame[] = [];
    for (let n = 0; n < 5; n++) acks.push(await poster.request({ type: 'publish', room: 'resumable', data: n }));
    const seqs = acks.map((a) => a.seq as number);
    assert.ok(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] ?? 0)), 'room seqs increase');
    await waitFor('5 room messages', () => member.frames.filter((f) => f.room === 'resumable' && f.type === 'message').length === 5);
    const late = await client(r1, 'rs_late');
    await late.request({ type: 'join', room: 'resumable', after: seqs[1] ?? 0 });
    await waitFor('replayed 3', () => late.frames.filter((f) => f.type === 'message').length === 3);
    await poster.request({ type: 'publish', room: 'resumable', data: 5 });
    await waitFor('then live', () => late.frames.filter((f) => f.type === 'message').length === 4);
    assert.deepEqual(late.frames.filter((f) => f.type === 'message').map((f) => f.data), [2, 3, 4, 5]);
    const notMember = await late.request({ type: 'resume', room: 'elsewhere', after: 0 });
    assert.equal(notMember.code, 'not_member');
    // Inbox resume by frame: ask again from the start, get everything again in order.
    for (let n = 0; n < 3; n++) await poster.request({ type: 'send', to: 'rs_late', data: n });
    await waitFor('3 direct', () => late.frames.filter((f) => f.type === 'message' && f.room === undefined).length === 3);
    const firstSeq = late.frames.find((f) => f.type === 'message' && f.room === undefined)?.seq as number;
    await late.request({ type: 'resume', after: firstSeq });
    await waitFor('2 replayed', () => late.frames.filter((f) => f.type === 'message' && f.room === undefined).length === 5);
  });

  it('SIGTERM to a replica holding 500 clients: 1012 spread over the drain window, they reconnect elsewhere and lose nothing; exit 0', async () => {
    const others = live();
    const drainer = await fleet.addReplica('drainer', { ...FAST, DRAIN_WINDOW_MS: '3000' });
    const urls = (): string[] => [drainer.wsUrl, ...others.map((r) => r.wsUrl)];
    const receivers: ResumingClient[] = [];
    for (let i = 0; i < 500; i += 50) {
      receivers.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => receiver(`d_${i + j}`, urls)))));
    }
    assert.ok(receivers.every((r) => r.servers[0] === 'drainer'));
    assert.equal(await readMetric(drainer.url, 'wsfleet_connections'), 500);
    const sender = await client(others[0] as Replica, 'd_sender');
    const sendRound = async (round: number): Promise<void> => {
      await Promise.all(receivers.map((_, i) => sender.request({ type: 'send', to: `d_${i}`, data: { n: round } }, 15_000)));
    };
    await sendRound(0);
    const sigtermAt = Date.now();
    drainer.signal('SIGTERM');
    await waitFor('readyz 503 at once', async () => (await fetch(`${drainer.url}/readyz`).catch(() => null))?.status === 503, 1000, 20);
    await sendRound(1);
    await new Promise((r) => setTimeout(r, 1500));
    await sendRound(2);
    const code = await drainer.exited;
    dead.add('drainer');
    assert.equal(code, 0, 'exits 0');
    await Promise.all(receivers.map((r) => r.settled()));
    await sendRound(3);
    await waitFor('every client has all 4 rounds', () => receivers.every((r) => r.messages.length >= 4), 20_000, 100).catch((err: unknown) => {
      const short = receivers.filter((r) => r.messages.length < 4).slice(0, 5).map((r) => ({ got: ns(r), servers: r.servers, codes: r.closeCodes, reconnects: r.reconnects, dup: r.duplicates }));
      throw new Error(`${(err as Error).message}; ${receivers.filter((r) => r.messages.length < 4).length} short, e.g. ${JSON.stringify(short)}`);
    });
    for (const r of receivers) {
      assert.deepEqual(ns(r), [0, 1, 2, 3]);
      assert.equal(r.closeCodes[0], 1012);
      assert.notEqual(r.servers.at(-1), 'drainer');
    }
    const closeTimes = receivers.map((r) => (r.closeTimes[0] ?? 0) - sigtermAt);
    const spread = Math.max(...closeTimes) - Math.min(...closeTimes);
    assert.ok(spread > 1000, `closes spread over the window (spread ${spread} ms)`);
    assert.ok(Math.max(...closeTimes) < 3000 + 1500, `all closed within the window (last at ${Math.max(...closeTimes)} ms)`);
    for (const r of receivers) await r.close();
  });

  it('a client that stops reading is cut at the buffer cap; memory stays bounded; others keep normal latency', async () => {
    const slowHost = await fleet.addReplica('slowhost', { ...FAST, MAX_BUFFERED_BYTES: String(512 * 1024), MAX_PAYLOAD_BYTES: String(128 * 1024) });
    const slow = await client(slowHost, 'slow_reader');
    const healthy = await client(slowHost, 'healthy_reader');
    const sender = await client(live()[0] as Replica, 'slow_sender');
    await new Promise((r) => setTimeout(r, 300));
    const rssBefore = await readMetric(slowHost.url, 'process_resident_memory_bytes');
    slow.ws.pause();
    const blob = 'x'.repeat(60 * 1024);
    const flood = (async () => {
      for (let i = 0; i < 400; i++) await sender.request({ type: 'send', to: 'slow_reader', data: { i, blob } }, 15_000);
    })();
    const rtts: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      healthy.send({ type: 'ping', id: `hp${i}` });
      await healthy.next((f) => f.type === 'pong' && f.id === `hp${i}`, 5000);
      rtts.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 25));
    }
    await flood;
    await waitFor('slow consumer closed', async () => (await readMetric(slowHost.url, 'wsfleet_slow_consumer_closes_total')) >= 1, 10_000);
    const rssAfter = await readMetric(slowHost.url, 'process_resident_memory_bytes');
    assert.ok(rssAfter - rssBefore < 100 * 1024 * 1024, `memory bounded: grew ${Math.round((rssAfter - rssBefore) / 1048576)} MiB for ~24 MiB sent to a non-reader`);
    rtts.sort((a, b) => a - b);
    const p95 = rtts[Math.floor(rtts.length * 0.95)] ?? Infinity;
    assert.ok(p95 < 500, `the healthy client's ping p95 stayed normal: ${p95.toFixed(1)} ms`);
    slow.ws.resume();
    const { code } = await slow.closed;
    assert.ok(code === 1013 || code === 1006, `slow client closed (${code})`);
  });

  it('a replica judged dead while it lives (paused past the dead-after) gets what was sent to its users meanwhile', async () => {
    // The judge and the judged on a short dead-after; the suite's other replicas (6 s) never judge.
    const quick = { ...FAST, HEARTBEAT_INTERVAL_MS: '200', REPLICA_DEAD_AFTER_MS: '1000' };
    const judge = await fleet.addReplica('judge', quick);
    const judged = await fleet.addReplica('judged', quick);
    const rcv = await receiver('j_rcv', () => [judged.wsUrl]);
    const sender = await client(judge, 'j_snd');
    await new Promise((r) => setTimeout(r, 1500)); // the judge's heartbeats land for a dead-after
    const send = async (n: number): Promise<Frame> => sender.request({ type: 'send', to: 'j_rcv', data: { n }, id: `judged-${n}` }, 10_000);
    for (let n = 0; n < 3; n++) assert.equal((await send(n)).delivered, 1);
    const presence = await new Kvm(fleet.observer).open('wsf_presence');
    judged.signal('SIGSTOP');
    try {
      await waitFor('the judge purged the paused replica\'s presence', async () => {
        const e = await presence.get('j_rcv.judged');
        return e === null || e.operation !== 'PUT';
      }, 10_000, 100);
      for (let n = 3; n < 6; n++) {
        const ack = await send(n);
        assert.equal(ack.type, 'ack', JSON.stringify(ack));
        assert.equal(ack.delivered, 0, 'the judge skips a replica it judged dead: stored only');
      }
    } finally {
      judged.signal('SIGCONT');
    }
    await waitFor('all 6 at the receiver, which never reconnected', () => rcv.messages.length >= 6, 10_000).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: got ${JSON.stringify(ns(rcv))}`);
    });
    assert.deepEqual(ns(rcv), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(rcv.servers, ['judged']);
  });

  it('one NATS node of three killed during traffic: acknowledged messages keep arriving, none lost', async (t) => {
    const [a, b] = live();
    assert.ok(a && b);
    const rcv = await receiver('n_rcv', () => [b.wsUrl, a.wsUrl]);
    const sender = await client(a, 'n_snd');
    await new Promise((r) => setTimeout(r, 300));
    t.after(() => fleet.nats.startNode(0)); // even when an assertion below fails: later tests need all 3 nodes
    const acks = await sendPaced(sender, 'n_rcv', 400, 100, (n) => {
      if (n === 100) void fleet.nats.killNode(0);
    });
    const acked = [...acks.entries()].filter(([, f]) => f.type === 'ack').map(([n]) => n);
    const unacked = Array.from({ length: 400 }, (_, n) => n).filter((n) => acks.get(n)?.type !== 'ack').map((n) => ({ n, answer: acks.get(n) ?? 'no answer in 15 s' }));
    assert.equal(acked.length, 400, `every send is acknowledged: appends wait out the JetStream leader election; not: ${JSON.stringify(unacked.slice(0, 5))}`);
    await waitFor('every acknowledged message received', () => {
      const got = new Set(ns(rcv));
      return acked.every((n) => got.has(n));
    }, 30_000, 200).catch((err: unknown) => {
      const got = new Set(ns(rcv));
      const missing = acked.filter((n) => !got.has(n));
      throw new Error(`${(err as Error).message}: ${missing.length} missing, first ${JSON.stringify(missing.slice(0, 10))}; received ${rcv.messages.length} (${rcv.unsequenced} without seq), servers ${JSON.stringify(rcv.servers)}, dup ${rcv.duplicates}, acks ${JSON.stringify(missing.slice(0, 3).map((n) => acks.get(n)))}`);
    });
  });

  it('the sender\'s replica killed right after its acks: every acknowledged message still reaches the recipient', async () => {
    const [stable] = live();
    assert.ok(stable);
    const doomed = await fleet.addReplica('doomed', FAST);
    const rcv = await receiver('s_rcv', () => [stable.wsUrl]);
    const sender = await client(doomed, 's_snd');
    await new Promise((r) => setTimeout(r, 300));
    const acks = await sendPaced(sender, 's_rcv', 200, 400);
    await doomed.kill();
    dead.add('doomed');
    assert.equal([...acks.values()].filter((f) => f.type === 'ack').length, 200);
    await waitFor('all 200', () => rcv.messages.length >= 200, 10_000);
    assert.deepEqual(ns(rcv), Array.from({ length: 200 }, (_, i) => i));
  });
});
