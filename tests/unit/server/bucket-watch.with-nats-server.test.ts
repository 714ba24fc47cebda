/**
 * The bucket watch on a real 3-node nats-server cluster: it delivers every key's current entry,
 * then each change once and in order; and when the NATS node holding its consumer is killed, it
 * goes on seeing changes within seconds (nats.js's `kv.watch()` stays silent for a minute then).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { BucketWatch, type BucketEntry } from '../../../server/src/bucket-watch.js';
import { createLogger } from '../../../server/src/logger.js';
import { startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';
import { waitFor } from '../../support/ports.js';

const CLUSTER = `bw${process.pid}`;
const BUCKET = 'bw_test';
const log = createLogger('test', 'silent');

let cluster: NatsCluster;
const conns: NatsConnection[] = [];

async function client(urls: string[]): Promise<NatsConnection> {
  const nc = await connect({ servers: urls, user: cluster.user, pass: cluster.password, reconnectTimeWait: 200, maxReconnectAttempts: -1 });
  conns.push(nc);
  return nc;
}

/** Puts until the bucket takes the write (a stream leader may be being elected), bounded. */
async function putEventually(nc: NatsConnection, key: string, value: string): Promise<void> {
  const kv = await new Kvm(nc).open(BUCKET);
  await waitFor(`put ${key}`, async () => kv.put(key, value, { timeout: 1000 }).then(() => true, () => false), 30_000, 200);
}

describe('bucket watch', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startNatsCluster({ nodes: 3, name: CLUSTER });
    const nc = await client(cluster.urls);
    await new Kvm(nc).create(BUCKET, { replicas: 3, history: 1 });
  });
  after(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await cluster.stop();
  });

  it('delivers the current entries, then every change once, in order, with its operation', async () => {
    const writer = await client(cluster.urls);
    const kv = await new Kvm(writer).open(BUCKET);
    await kv.put('a.r1', '1');
    await kv.put('a.r1', '2'); // only the last value is current
    await kv.put('b.r2', 'x');
    const seen: BucketEntry[] = [];
    const watch = new BucketWatch({ js: jetstream(await client(cluster.urls)), bucket: BUCKET, log, heartbeatMs: 1000 });
    await watch.start((e) => { seen.push(e); });
    try {
      assert.equal(seen.length, 2, 'start settles once the current entries are delivered');
      await kv.delete('a.r1');
      await kv.purge('b.r2');
      await kv.put('c.r3', 'y');
      await waitFor('the changes', () => seen.length >= 5, 10_000);
      assert.deepEqual(seen.map((e) => [e.key, e.operation, new TextDecoder().decode(e.value)]), [
        ['a.r1', 'PUT', '2'],
        ['b.r2', 'PUT', 'x'],
        ['a.r1', 'DEL', ''],
        ['b.r2', 'PURGE', ''],
        ['c.r3', 'PUT', 'y'],
      ]);
      const revisions = seen.map((e) => e.revision);
      assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y), 'in stream order');
    } finally {
      watch.stop();
      for (const k of ['c.r3']) await kv.purge(k);
    }
  });

  it('start settles after the current entries, however many; on an empty set at once', async () => {
    const writer = await client(cluster.urls);
    const kv = await new Kvm(writer).open(BUCKET);
    const keys = Array.from({ length: 300 }, (_, i) => `many.k${i}`);
    for (const k of keys) await kv.put(k, 'v');
    const seen: BucketEntry[] = [];
    const watch = new BucketWatch({ js: jetstream(await client(cluster.urls)), bucket: BUCKET, log, heartbeatMs: 1000 });
    try {
      await watch.start((e) => { if (e.key.startsWith('many.')) seen.push(e); });
      assert.equal(seen.length, keys.length, 'every current entry delivered before start settled');
    } finally {
      watch.stop();
      for (const k of keys) await kv.purge(k);
    }
    const empty = new BucketWatch({ js: jetstream(await client(cluster.urls)), bucket: `${BUCKET}_empty`, log, heartbeatMs: 1000 });
    await new Kvm(writer).create(`${BUCKET}_empty`, { replicas: 1, history: 1 });
    const started = Date.now();
    await empty.start(() => undefined, 3000);
    empty.stop();
    assert.ok(Date.now() - started < 2000, `an empty bucket: settled after ${Date.now() - started} ms, not at the 3 s fallback`);
  });

  it('goes on seeing changes within seconds when the NATS node holding its consumer is killed', async (t) => {
    const seen: BucketEntry[] = [];
    const watch = new BucketWatch({ js: jetstream(await client(cluster.urls)), bucket: BUCKET, log, heartbeatMs: 1000 });
    void watch.start((e) => { seen.push(e); });
    let killed = -1;
    try {
      await putEventually(await client(cluster.urls), 'before.r1', '1');
      await waitFor('the watch running', () => seen.some((e) => e.key === 'before.r1'), 10_000);
      const jsm = await jetstreamManager(await client(cluster.urls));
      const holders: string[] = [];
      for await (const ci of jsm.consumers.list(`KV_${BUCKET}`)) holders.push(ci.cluster?.leader ?? '');
      assert.equal(holders.length, 1, `one consumer, the watch's (a stopped watch deletes its own): ${JSON.stringify(holders)}`);
      killed = Number(/-n(\d)$/.exec(holders[0] ?? '')?.[1] ?? '0') - 1;
      assert.ok(killed >= 0, `the consumer's node is named: ${holders[0] ?? ''}`);
      await cluster.killNode(killed);
      const killedAt = Date.now();
      const writer = await client(cluster.urls.filter((_, i) => i !== killed));
      await putEventually(writer, 'after.r1', '2');
      await waitFor('the change after the kill', () => seen.some((e) => e.key === 'after.r1'), 20_000, 100);
      const tookMs = Date.now() - killedAt;
      // nats.js's kv.watch() needs two missed 30 s heartbeats (about 60 s) here.
      t.diagnostic(`change seen ${tookMs} ms after the consumer's node was killed`);
      assert.ok(tookMs < 20_000, `seen ${tookMs} ms after the kill`);
      const keys = seen.map((e) => `${e.key}@${e.revision}`);
      assert.equal(new Set(keys).size, keys.length, `no entry twice: ${JSON.stringify(keys)}`);
    } finally {
      watch.stop();
      if (killed >= 0) await cluster.startNode(killed);
    }
  });
});
