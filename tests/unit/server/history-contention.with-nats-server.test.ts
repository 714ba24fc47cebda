/**
 * Appends to one subject from many replicas at once, on a real 3-node cluster (R3): each is
 * conditional on the subject's tail, so all but one of those in flight lose each round and try
 * again after the tail the refusal names. Every append must land once, chained, however many
 * rounds it loses while the others make progress (publishers of one room spread over replicas).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { loadConfig } from '../../../server/src/config.js';
import { History } from '../../../server/src/history.js';
import { createLogger } from '../../../server/src/logger.js';
import { Metrics } from '../../../server/src/metrics.js';
import { openStreams } from '../../../server/src/nats-setup.js';
import { startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';

const log = createLogger('test', 'silent');
const WRITERS = 8;
const EACH = 40;
let cluster: NatsCluster;
const conns: NatsConnection[] = [];

describe('history: one subject appended to by many replicas at once', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startNatsCluster({ nodes: 3, name: `hc${process.pid}` });
  });
  after(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await cluster.stop();
  });

  it(`${WRITERS} writers × ${EACH} appends to one room: every append lands once, each chained to the one before`, async () => {
    const config = loadConfig({ SERVER_ID: 's1', NATS_URLS: cluster.urls.join(','), NATS_USER: cluster.user, NATS_PASSWORD: cluster.password, AUTH_SECRET: 'x'.repeat(32), JETSTREAM_REPLICAS: '3' });
    const writers: History[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const nc = await connect({ servers: [cluster.urls[w % cluster.urls.length] ?? ''], user: cluster.user, pass: cluster.password });
      conns.push(nc);
      if (w === 0) await openStreams(nc, config, log);
      writers.push(await History.open(nc, config, log, new Metrics(`s${w}`)));
    }
    const subject = 'roomlog.contended';
    const results = await Promise.allSettled(writers.flatMap((h, w) => Array.from({ length: EACH }, (_, i) =>
      h.append(subject, { kind: 'room', room: 'contended', from: `w${w}`, data: { w, i }, ts: Date.now() }, `w${w}:${i}`))));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${results.length} appends failed`);
    const seqs = results.map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq).sort((a, b) => a - b);
    assert.equal(new Set(seqs).size, WRITERS * EACH, 'each stored once');
    const reader = writers[0];
    assert.ok(reader);
    const stored: Awaited<ReturnType<History['page']>> = [];
    // Read in pages (a page holds READ_BATCH_MAX at most), bounded.
    for (let round = 0; round < 10 && stored.length < WRITERS * EACH; round++) stored.push(...(await reader.page(subject, stored.at(-1)?.seq ?? 0, WRITERS * EACH - stored.length)));
    assert.equal(stored.length, WRITERS * EACH);
    let prev = 0;
    for (const e of stored) {
      assert.equal(e.message.prev, prev, `seq ${e.seq} follows ${prev}`);
      prev = e.seq;
    }
  });
});
