/**
 * The NATS nodes' file store against what the replicas reserve in it, with the real nats-server: a node
 * sized by NATS_JETSTREAM_LIMITS creates every bucket and both streams at the server's default history
 * cap; a node of the old size (1 GiB) refuses the second stream. And the stored size of a message of the
 * load runner's shape, which the default window's arithmetic (server/src/store-capacity.ts) rests on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NATS_JETSTREAM_LIMITS } from '../../../infra/nats-store.js';
import { loadConfig } from '../../../server/src/config.js';
import { History } from '../../../server/src/history.js';
import { createLogger } from '../../../server/src/logger.js';
import { Metrics } from '../../../server/src/metrics.js';
import { openBuckets, openStreams } from '../../../server/src/nats-setup.js';
import { HISTORY_DEFAULTS, jetstreamReservationBytes } from '../../../server/src/store-capacity.js';
import { startNatsCluster } from '../../support/nats-cluster.js';

const log = createLogger('test', 'silent');

async function withNode<T>(fileBytes: number, name: string, fn: (urls: { config: ReturnType<typeof loadConfig>; connect: () => ReturnType<typeof connect> }) => Promise<T>): Promise<T> {
  const cluster = await startNatsCluster({ nodes: 1, name, jetstreamMaxFileBytes: fileBytes });
  try {
    const config = loadConfig({ SERVER_ID: 's1', NATS_URLS: cluster.urls.join(','), NATS_USER: cluster.user, NATS_PASSWORD: cluster.password, AUTH_SECRET: 'x'.repeat(32) });
    return await fn({ config, connect: () => connect({ servers: cluster.urls, user: cluster.user, pass: cluster.password }) });
  } finally {
    await cluster.stop();
  }
}

describe('NATS node file store', { timeout: 120_000 }, () => {
  it('holds what the replicas reserve at the default history cap; the old 1 GiB store did not', async () => {
    assert.ok(NATS_JETSTREAM_LIMITS.jetstreamMaxFileBytes >= jetstreamReservationBytes(HISTORY_DEFAULTS.maxBytes));
    await withNode(NATS_JETSTREAM_LIMITS.jetstreamMaxFileBytes, `ns${process.pid}a`, async ({ config, connect: open }) => {
      assert.equal(config.history.maxBytes, HISTORY_DEFAULTS.maxBytes, 'the server default');
      const nc = await open();
      try {
        await openBuckets(nc, config);
        await openStreams(nc, config, log);
        const jsm = await jetstreamManager(nc);
        for (const name of ['WSF_INBOX', 'WSF_ROOMS']) {
          const info = await jsm.streams.info(name);
          assert.equal(info.config.max_bytes, HISTORY_DEFAULTS.maxBytes, name);
          assert.equal(info.config.max_age, HISTORY_DEFAULTS.maxAgeSec * 1e9, name);
        }
      } finally {
        await nc.close();
      }
    });
    await withNode(1024 ** 3, `ns${process.pid}b`, async ({ config, connect: open }) => {
      const nc = await open();
      try {
        await openBuckets(nc, config);
        await assert.rejects(openStreams(nc, config, log), /insufficient storage|resources/i);
      } finally {
        await nc.close();
      }
    });
  });

  it('a direct message of the load runner\'s shape takes about 420 B stored (the default window\'s arithmetic)', async () => {
    await withNode(NATS_JETSTREAM_LIMITS.jetstreamMaxFileBytes, `ns${process.pid}c`, async ({ config, connect: open }) => {
      const nc = await open();
      try {
        await openStreams(nc, config, log);
        const history = await History.open(nc, config, log, new Metrics('s1'));
        const n = 2000;
        for (let i = 0; i < n; i++) {
          const to = `load-649d8d17-${i % 200}`;
          const data = { r: '649d8d17', m: `${1000 + (i % 200)}.${i}`, t: Date.now(), p: 'x'.repeat(64) };
          await history.append(`inbox.${to}`, { kind: 'direct', to, from: `load-649d8d17-${(i + 1) % 200}`, data, ts: Date.now() }, `load-649d8d17-${(i + 1) % 200}:${i}`);
        }
        const state = (await (await jetstreamManager(nc)).streams.info('WSF_INBOX')).state;
        const perMessage = state.bytes / state.messages;
        console.log(`stored: ${state.messages} messages, ${state.bytes} B, ${perMessage.toFixed(0)} B per message`);
        assert.equal(state.messages, n);
        assert.ok(perMessage > 300 && perMessage < 550, `${perMessage.toFixed(0)} B per stored message: docs/design.md "Retention" and store-capacity.ts say 419`);
      } finally {
        await nc.close();
      }
    });
  });
});
