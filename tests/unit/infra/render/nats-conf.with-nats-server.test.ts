import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROUTE_PINGS_MAX, ROUTE_PING_INTERVAL, formatRoutesValue, renderNatsConfig } from '../../../../infra/render/nats-conf.js';
import { startNatsCluster } from '../../../support/nats-cluster.js';
import { findBinary } from '../../../support/paths.js';

const node = {
  serverName: 'wsfleet-nats-1',
  clusterName: 'wsfleet',
  cluster: { routesEnv: 'NATS_ROUTES', authEnv: { user: 'NATS_ROUTE_USER', password: 'NATS_ROUTE_PASSWORD' } },
  storeDir: '/data/jetstream',
  authEnv: { user: 'NATS_USER', password: 'NATS_PASSWORD' },
};

/** Sends a route CONNECT with the given credentials to a cluster port and returns the server's first reply line after INFO. */
async function routeConnect(port: number, user: string, pass: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => { socket.destroy(); resolve(buf); }, 3000);
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.startsWith('INFO') && !buf.includes('CONNECT sent')) {
        buf += 'CONNECT sent\n';
        socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, user, pass, tls_required: false, name: 'rogue' })}\r\nPING\r\n`);
      }
      if (/-ERR|PONG/.test(buf)) { clearTimeout(timer); socket.destroy(); resolve(buf); }
    });
    socket.on('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

describe('nats.conf renderer', () => {
  it('renders JetStream, authenticated routes from the environment, env-referenced credentials and monitoring on loopback', () => {
    const text = renderNatsConfig(node);
    assert.match(text, /^server_name: "wsfleet-nats-1"$/m);
    assert.match(text, /jetstream \{\n {2}store_dir: "\/data\/jetstream"/);
    assert.match(text, /^authorization \{\n {2}user: \$NATS_USER\n {2}password: \$NATS_PASSWORD\n\}/m);
    assert.match(text, /cluster \{[^}]*authorization \{\n {4}user: \$NATS_ROUTE_USER\n {4}password: \$NATS_ROUTE_PASSWORD\n {2}\}\n {2}routes: \$NATS_ROUTES\n {2}ping_interval: "2s"\n {2}ping_max: 2\n\}/);
    assert.match(text, /^http: "127\.0\.0\.1:8222"$/m);
    assert.doesNotMatch(text, /nats:\/\//, 'no route URL (they carry the credentials) in the file');
  });

  it('a single node has no cluster block', () => {
    const { cluster: _cluster, ...single } = node;
    assert.doesNotMatch(renderNatsConfig(single), /cluster|routes/);
  });

  it('formats the routes variable with the credentials in each URL', () => {
    assert.equal(formatRoutesValue(['nats://a:6222', 'nats://b-2:6222'], 'u', 'p'), '["nats://u:p@a:6222","nats://u:p@b-2:6222"]');
    assert.throws(() => formatRoutesValue(['http://x'], 'u', 'p'), /invalid routes\.0/);
    assert.throws(() => formatRoutesValue([], 'u', 'p'), /invalid routes/);
  });

  it('is pure: the same input gives the same text', () => {
    assert.equal(renderNatsConfig(node), renderNatsConfig({ ...node }));
  });

  it('names the bad option', () => {
    assert.throws(() => renderNatsConfig({ ...node, serverName: 'bad name' }), /invalid serverName/);
    assert.throws(() => renderNatsConfig({ ...node, cluster: { ...node.cluster, routesEnv: 'bad-name' } }), /invalid cluster\.routesEnv/);
    assert.throws(() => renderNatsConfig({ ...node, clientPort: 0 }), /invalid clientPort/);
  });

  it('is accepted by the real nats-server (-t)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsf-natsconf-'));
    try {
      const file = join(dir, 'nats.conf');
      writeFileSync(file, renderNatsConfig({ ...node, storeDir: join(dir, 'js') }));
      const env = { ...process.env, NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_ROUTE_USER: 'ru', NATS_ROUTE_PASSWORD: 'rp', NATS_ROUTES: formatRoutesValue(['nats://127.0.0.1:6222'], 'ru', 'rp') };
      const r = spawnSync(findBinary('nats-server', 'NATS_SERVER_BIN'), ['-t', '-c', file], { env, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders configs a real single node and a real 3-node cluster start from; routes need the route credentials', { timeout: 60_000 }, async () => {
    for (const nodes of [1, 3] as const) {
      const cluster = await startNatsCluster({ nodes, name: `unit${nodes}` });
      try {
        const vz = (await (await fetch(`${cluster.monitorUrls[0] ?? ''}/jsz`)).json()) as { config?: { store_dir?: string }; meta_cluster?: { cluster_size?: number } };
        assert.ok(vz.config?.store_dir, 'JetStream enabled');
        if (nodes === 3) {
          assert.equal(vz.meta_cluster?.cluster_size, 3);
          for (const mon of cluster.monitorUrls) {
            const rz = (await (await fetch(`${mon}/routez`)).json()) as { num_routes: number };
            assert.ok(rz.num_routes >= 2, `${mon}: ${rz.num_routes} routes (authenticated routes to both peers)`);
          }
          const port = cluster.clusterPorts[0] ?? 0;
          assert.match(await routeConnect(port, 'intruder', 'guess'), /-ERR 'Authorization Violation'/);
          assert.match(await routeConnect(port, cluster.routeUser, 'wrong'), /-ERR 'Authorization Violation'/);
          assert.match(await routeConnect(port, '', ''), /-ERR 'Authorization Violation'/);
        }
      } finally {
        await cluster.stop();
      }
    }
  });

  it('a node that stops answering (SIGSTOP: its sockets stay open, as in a partition) loses its routes within the route ping bound, not after 30 s × 2', { timeout: 60_000 }, async () => {
    const cluster = await startNatsCluster({ nodes: 3, name: 'unitping' });
    const routesTo = async (mon: string, peer: string): Promise<number> => {
      const rz = (await (await fetch(`${mon}/routez`)).json()) as { routes?: { remote_name?: string }[] };
      return (rz.routes ?? []).filter((r) => r.remote_name === peer).length;
    };
    try {
      const mon = cluster.monitorUrls[0] ?? '';
      const peer = ((await (await fetch(`${cluster.monitorUrls[2] ?? ''}/varz`)).json()) as { server_name: string }).server_name;
      assert.ok(await routesTo(mon, peer) > 0, `node 1 has routes to ${peer}`);
      const boundMs = (Number.parseFloat(ROUTE_PING_INTERVAL) * (ROUTE_PINGS_MAX + 1)) * 1000;
      cluster.pauseNode(2);
      const paused = Date.now();
      let goneAfterMs = -1;
      while (Date.now() - paused < boundMs + 10_000) {
        if (await routesTo(mon, peer) === 0) {
          goneAfterMs = Date.now() - paused;
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      cluster.resumeNode(2);
      assert.ok(goneAfterMs >= 0, `node 1 still routed to the silent ${peer} ${boundMs + 10_000} ms after it stopped answering`);
      assert.ok(goneAfterMs <= boundMs + 4_000, `routes dropped after ${goneAfterMs} ms (bound ${boundMs} ms + 4 s of slack)`);
      console.log(`route to a silent node dropped after ${goneAfterMs} ms`);
    } finally {
      cluster.resumeNode(2);
      await cluster.stop();
    }
  });
});
