/**
 * Fleet membership against an in-memory stand-in for the wsf_replicas bucket: a heartbeat carries
 * the replica's load, live() reads the others' from theirs, and a replica whose heartbeat went
 * stale is reported dead (so presence can purge it) and purged, while a fresh one never is; a
 * bucket where no heartbeat lands (no leader) judges nobody dead; a replica purged while it lives
 * hears of it on its next heartbeat.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { FleetMembership } from '../../../server/src/fleet-membership.js';
import { createLogger } from '../../../server/src/logger.js';

interface Stored { value: string; created: Date; revision: number }

/** The few KV calls membership makes, on a Map; `failWrites` stands for a bucket without a leader. */
class FakeBucket {
  readonly entries = new Map<string, Stored>();
  readonly purged: string[] = [];
  failWrites = false;
  private seq = 0;

  put(key: string, value: string): Promise<number> {
    if (this.failWrites) return Promise.reject(new Error('no leader'));
    this.seq += 1;
    this.entries.set(key, { value, created: new Date(), revision: this.seq });
    return Promise.resolve(this.seq);
  }

  update(key: string, value: string, revision: number): Promise<number> {
    if (this.failWrites) return Promise.reject(new Error('no leader'));
    const last = this.entries.get(key)?.revision ?? this.seq + 1;
    if (last !== revision) {
      return Promise.reject(new JetStreamApiError({ code: 400, err_code: JetStreamApiCodes.StreamWrongLastSequence, description: `wrong last sequence: ${last}` }));
    }
    return this.put(key, value);
  }

  get(key: string): Promise<{ key: string; operation: 'PUT'; created: Date; string: () => string } | null> {
    const e = this.entries.get(key);
    return Promise.resolve(e === undefined ? null : { key, operation: 'PUT', created: e.created, string: () => e.value });
  }

  keys(): Promise<AsyncIterable<string>> {
    const keys = [...this.entries.keys()][Symbol.iterator]();
    return Promise.resolve({ [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve(keys.next()) }) });
  }

  delete(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }

  purge(key: string): Promise<void> {
    this.purged.push(key);
    this.entries.delete(key);
    this.seq += 1; // the purge marker takes a sequence of its own
    return Promise.resolve();
  }
}

const idle = (): Promise<{ connections: number; messagesInPerSec: number; messagesOutPerSec: number }> => Promise.resolve({ connections: 0, messagesInPerSec: 0, messagesOutPerSec: 0 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const log = createLogger('test', 'silent');
const timing = { heartbeatIntervalMs: 20, replicaDeadAfterMs: 150 };

describe('fleet membership', () => {
  it("writes its load in its heartbeat and reads the other replicas' from theirs", async () => {
    const bucket = new FakeBucket();
    await bucket.put('r2', JSON.stringify({ at: Date.now(), connections: 7, messagesInPerSec: 1.5, messagesOutPerSec: 3 }));
    await bucket.put('r3', JSON.stringify({ at: Date.now() })); // an older version's heartbeat: alive, no numbers
    const m = new FleetMembership({ replicas: bucket as unknown as KV, serverId: 'r1', timing, log, load: () => Promise.resolve({ connections: 2, messagesInPerSec: 0, messagesOutPerSec: 4.5 }) });
    await m.start();
    try {
      const own = JSON.parse(bucket.entries.get('r1')?.value ?? '{}') as Record<string, unknown>;
      assert.deepEqual({ ...own, at: 0 }, { at: 0, connections: 2, messagesInPerSec: 0, messagesOutPerSec: 4.5 });
      assert.equal(m.healthy, true);
      const live = m.live().sort((a, b) => a.id.localeCompare(b.id));
      assert.deepEqual(live.map((r) => [r.id, r.load]), [
        ['r1', { connections: 2, messagesInPerSec: 0, messagesOutPerSec: 4.5 }],
        ['r2', { connections: 7, messagesInPerSec: 1.5, messagesOutPerSec: 3 }],
        ['r3', undefined],
      ]);
    } finally {
      await m.stop();
    }
    assert.equal(bucket.entries.has('r1'), false, 'stop removes the heartbeat');
  });

  it('a replica whose heartbeat goes stale is reported dead and purged; a fresh one is not', async () => {
    const bucket = new FakeBucket();
    await bucket.put('gone', JSON.stringify({ at: Date.now() }));
    const m = new FleetMembership({ replicas: bucket as unknown as KV, serverId: 'r1', timing, log, load: idle });
    const dead: string[] = [];
    let ticks = 0;
    m.onTick(() => { ticks += 1; });
    m.onReplicaDead((server) => { dead.push(server); return Promise.resolve(); });
    await m.start();
    try {
      assert.equal(m.isAlive('gone'), true);
      // 'fresh' keeps heartbeating; 'gone' stopped.
      const keepAlive = setInterval(() => { void bucket.put('fresh', JSON.stringify({ at: Date.now() })); }, 10);
      for (let i = 0; i < 100 && dead.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      clearInterval(keepAlive);
      assert.deepEqual(dead, ['gone']);
      assert.deepEqual(bucket.purged, ['gone']);
      assert.equal(m.isAlive('gone'), true, 'forgotten once purged: unknown is not dead');
      assert.ok(m.live().some((r) => r.id === 'fresh'));
      assert.ok(ticks > 0);
    } finally {
      await m.stop();
    }
  });
  it('while no heartbeat lands (the bucket has no leader), nobody is judged dead, however long it lasts', async () => {
    const bucket = new FakeBucket();
    await bucket.put('r2', JSON.stringify({ at: Date.now() }));
    const m = new FleetMembership({ replicas: bucket as unknown as KV, serverId: 'r1', timing, log, load: idle });
    const dead: string[] = [];
    m.onReplicaDead((server) => { dead.push(server); return Promise.resolve(); });
    await m.start();
    try {
      bucket.failWrites = true; // reads still answer (from a follower), writes do not
      await sleep(timing.replicaDeadAfterMs * 3);
      assert.deepEqual(dead, []);
      assert.deepEqual(bucket.purged, []);
      assert.equal(m.isAlive('r2'), true, 'r2 is as fresh as the bucket\'s newest heartbeat');
      assert.equal(m.healthy, false, 'our own heartbeat did not land: not healthy');
    } finally {
      bucket.failWrites = false;
      await m.stop();
    }
  });

  it('a replica whose heartbeat another purged (judged it dead) hears of it on its next heartbeat', async () => {
    const bucket = new FakeBucket();
    const m = new FleetMembership({ replicas: bucket as unknown as KV, serverId: 'r1', timing, log, load: idle });
    let calls = 0;
    const purgedCalls = (): number => calls;
    m.onPurged(() => { calls += 1; });
    await m.start();
    try {
      await sleep(timing.heartbeatIntervalMs * 3);
      assert.equal(purgedCalls(), 0, 'its own heartbeats in a row are not a purge');
      await bucket.purge('r1');
      for (let i = 0; i < 50 && purgedCalls() === 0; i++) await sleep(10);
      assert.equal(purgedCalls(), 1);
      assert.ok(bucket.entries.has('r1'), 'the heartbeat is written again');
      await sleep(timing.heartbeatIntervalMs * 3);
      assert.equal(purgedCalls(), 1, 'and the heartbeats go on on top of the new one');
    } finally {
      await m.stop();
    }
  });
});
