/**
 * Streams and buckets made by an older version (discard old, no per-subject refusal, unbounded
 * buckets) are brought to this version's settings when a replica starts. Real single-node NATS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { startReplica, type Replica } from '../support/replica.js';

let nats: NatsCluster;
let nc: NatsConnection;
let jsm: JetStreamManager;
let replica: Replica | undefined;

describe('durability: an older deployment\'s streams and buckets are updated', { timeout: 120_000 }, () => {
  before(async () => {
    nats = await startNatsCluster({ nodes: 1, name: `up${process.pid}` });
    nc = await connect({ servers: nats.urls, user: nats.user, pass: nats.password });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await replica?.stop(3000);
    await nc.close();
    await nats.stop();
  });

  it('discard old becomes discard new per subject; unbounded buckets get byte caps', async () => {
    // What the previous version created.
    for (const [name, subject] of [['WSF_INBOX', 'inbox.*'], ['WSF_ROOMS', 'roomlog.*']] as const) {
      await jsm.streams.add({ name, subjects: [subject], discard: 'old', max_bytes: 8 * 1024 * 1024, max_msgs_per_subject: 10_000, allow_direct: true, storage: 'file', num_replicas: 1 });
    }
    await new Kvm(nc).create('wsf_cursors', { history: 1, replicas: 1 });
    const old = await jsm.streams.info('WSF_INBOX');
    assert.equal(old.config.discard, 'old');

    replica = await startReplica({ id: 'up1', natsUrls: nats.urls, natsUser: nats.user, natsPassword: nats.password, env: { HISTORY_MAX_MSGS_PER_USER: '50', HISTORY_MAX_BYTES: String(8 * 1024 * 1024) } });
    for (const name of ['WSF_INBOX', 'WSF_ROOMS']) {
      const { config } = await jsm.streams.info(name);
      assert.equal(config.discard, 'new', name);
      assert.equal(config.discard_new_per_subject, true, name);
      assert.equal(config.max_msgs_per_subject, 50, name);
      assert.ok(config.duplicate_window > 0, name);
    }
    const cursors = await jsm.streams.info('KV_wsf_cursors');
    assert.ok(cursors.config.max_bytes > 0, `cursor bucket capped (${cursors.config.max_bytes})`);
    assert.ok(cursors.config.max_age > 0, 'cursor bucket has an age');
    assert.equal((await fetch(`${replica.url}/readyz`)).status, 200);
  });
});
