import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderNatsConfig } from '../../infra/render/nats-conf.js';
import { startNatsCluster } from '../support/nats-cluster.js';
import { findBinary } from '../support/paths.js';

const node = {
  serverName: 'wsfleet-nats-1',
  clusterName: 'wsfleet',
  routes: ['nats://wsfleet-nats-1:6222', 'nats://wsfleet-nats-2:6222', 'nats://wsfleet-nats-3:6222'],
  storeDir: '/data/jetstream',
  authEnv: { user: 'NATS_USER', password: 'NATS_PASSWORD' },
};

describe('nats.conf renderer', () => {
  it('renders JetStream, cluster routes and env-referenced credentials', () => {
    const text = renderNatsConfig(node);
    assert.match(text, /^server_name: "wsfleet-nats-1"$/m);
    assert.match(text, /jetstream \{\n {2}store_dir: "\/data\/jetstream"/);
    assert.match(text, /user: \$NATS_USER\n {2}password: \$NATS_PASSWORD/);
    for (const r of node.routes) assert.ok(text.includes(JSON.stringify(r)), r);
    assert.match(text, /^http_port: 8222$/m);
  });

  it('is pure: the same input gives the same text', () => {
    assert.equal(renderNatsConfig(node), renderNatsConfig({ ...node }));
  });

  it('names the bad option', () => {
    assert.throws(() => renderNatsConfig({ ...node, serverName: 'bad name' }), /invalid serverName/);
    assert.throws(() => renderNatsConfig({ ...node, routes: ['http://x'] }), /invalid routes\.0/);
    assert.throws(() => renderNatsConfig({ ...node, clientPort: 0 }), /invalid clientPort/);
  });

  it('is accepted by the real nats-server (-t)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsf-natsconf-'));
    try {
      const file = join(dir, 'nats.conf');
      writeFileSync(file, renderNatsConfig({ ...node, storeDir: join(dir, 'js') }));
      const r = spawnSync(findBinary('nats-server', 'NATS_SERVER_BIN'), ['-t', '-c', file], { env: { ...process.env, NATS_USER: 'u', NATS_PASSWORD: 'p' }, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders configs a real single node and a real 3-node cluster start from', { timeout: 60_000 }, async () => {
    for (const nodes of [1, 3] as const) {
      const cluster = await startNatsCluster({ nodes, name: `unit${nodes}` });
      try {
        const vz = (await (await fetch(`${cluster.monitorUrls[0] ?? ''}/jsz`)).json()) as { config?: { store_dir?: string }; meta_cluster?: { cluster_size?: number } };
        assert.ok(vz.config?.store_dir, 'JetStream enabled');
        if (nodes === 3) assert.equal(vz.meta_cluster?.cluster_size, 3);
      } finally {
        await cluster.stop();
      }
    }
  });
});
