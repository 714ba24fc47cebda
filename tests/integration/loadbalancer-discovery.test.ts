/**
 * Replicas come and go behind the balancer: HAProxy's server-template + resolvers discovery, for real, with a stub
 * DNS server standing in for Docker's (same A-record answers for the replicas' alias). Replicas listen on
 * distinct loopback addresses (127.0.0.2, .3, .4) and one port, as containers on a network would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HAPROXY_NAMES, renderHaproxyConfig } from '../../loadbalancer/src/index.js';
import {
  connectThroughBalancer,
  cookiePair,
  fetchServerStates,
  startHaproxy,
  startStubDns,
  type BalancedClient,
  type HaproxyProcess,
  type StubDns,
} from '../support/haproxy.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { freePort, waitFor } from '../support/ports.js';
import { startReplica, type Replica } from '../support/replica.js';
import { mintToken, TEST_SECRET } from '../support/tokens.js';

const SERVICE = 'ws-svc';
const BACKEND = HAPROXY_NAMES.backend;

let nats: NatsCluster;
let dns: StubDns;
let lb: HaproxyProcess;
let wsUrl: string;
let statsUrl: string;
let replicaPort: number;
const replicas: Replica[] = [];
const clients: BalancedClient[] = [];
let userSeq = 0;

async function replicaOn(id: string, ip: string): Promise<Replica> {
  const r = await startReplica({
    id,
    natsUrls: nats.urls,
    natsUser: nats.user,
    natsPassword: nats.password,
    port: replicaPort,
    waitReady: false,
    env: { HOST: ip, LOG_LEVEL: 'warn' },
  });
  replicas.push(r);
  const early = r.exited.then((code) => {
    throw new Error(`replica ${id} exited with ${code}; see ${r.logFile}`);
  });
  await Promise.race([waitFor(`${id} ready on ${ip}`, async () => (await fetch(`http://${ip}:${replicaPort}/readyz`)).status === 200, 30_000, 100), early]);
  early.catch(() => undefined);
  return r;
}

async function connect(headers: Record<string, string> = {}): Promise<BalancedClient> {
  userSeq += 1;
  const token = await mintToken(TEST_SECRET, `disc-user-${userSeq}`);
  const c = await connectThroughBalancer(wsUrl, { authorization: `Bearer ${token}`, ...headers });
  clients.push(c);
  return c;
}

/** Slot name → replica address as HAProxy sees it, for slots that have one and are UP. */
async function upSlots(): Promise<Map<string, string>> {
  const up = new Map<string, string>();
  for (const [name, s] of await fetchServerStates(statsUrl, BACKEND)) if (s.status === 'UP') up.set(name, s.address);
  return up;
}

void describe('DNS discovery through a server template', { timeout: 180_000 }, () => {
  before(async () => {
    nats = await startNatsCluster({ nodes: 1, name: 'lbdisc' });
    dns = await startStubDns();
    replicaPort = await freePort();
    await Promise.all([replicaOn('d-1', '127.0.0.2'), replicaOn('d-2', '127.0.0.3')]);
    dns.setRecords(SERVICE, ['127.0.0.2', '127.0.0.3']);
    const frontendPort = await freePort();
    const statsPort = await freePort();
    const config = renderHaproxyConfig({
      mode: 'sticky',
      frontend: { address: '127.0.0.1', port: frontendPort },
      stats: { address: '127.0.0.1', port: statsPort },
      backend: {
        kind: 'dns',
        serviceName: SERVICE,
        port: replicaPort,
        slots: 4,
        resolver: { nameservers: [`127.0.0.1:${dns.port}`], holdObsolete: '1s' },
      },
      sticky: { dynamicCookieKey: 'test-dynamic-cookie-key' },
    });
    lb = await startHaproxy({ config, frontendPort, name: 'haproxy-discovery' });
    wsUrl = `ws://127.0.0.1:${frontendPort}/ws`;
    statsUrl = `http://127.0.0.1:${statsPort}/stats`;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await lb.stop();
    await Promise.all(replicas.map((r) => r.stop(3000)));
    await dns.stop();
    await nats.stop();
  });

  void it('finds the replicas by name, routes to them and keeps a client on its replica with a dynamic cookie', async () => {
    await waitFor('both replicas UP through DNS', async () => (await upSlots()).size === 2, 15_000, 100);
    const addresses = [...(await upSlots()).values()].sort();
    assert.deepEqual(addresses, [`127.0.0.2:${replicaPort}`, `127.0.0.3:${replicaPort}`]);
    const states = await fetchServerStates(statsUrl, BACKEND);
    assert.equal(states.size, 4, 'four template slots');
    assert.equal([...states.values()].filter((s) => s.status.startsWith('MAINT')).length, 2, 'unused slots wait in maintenance');

    const spread = await Promise.all(Array.from({ length: 10 }, () => connect()));
    assert.deepEqual([...new Set(spread.map((c) => c.server))].sort(), ['d-1', 'd-2']);

    const first = await connect();
    const cookie = cookiePair(first.setCookie, 'WSFLEET_SRV');
    assert.ok(cookie !== undefined && /^WSFLEET_SRV=[0-9a-f]{16}$/.test(cookie), `dynamic cookie: ${JSON.stringify(first.setCookie)}`);
    for (let i = 0; i < 5; i++) {
      const again = await connect({ cookie });
      assert.equal(again.server, first.server);
      await again.close();
    }
  });

  void it('routes new connections to a replica added to DNS within 5 s of it being ready, dropping none', async () => {
    const before = clients.filter((c) => c.ws.readyState === c.ws.OPEN);
    await replicaOn('d-3', '127.0.0.4');
    const readyAt = Date.now();
    dns.setRecords(SERVICE, ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    let landed: BalancedClient | undefined;
    while (landed === undefined && Date.now() - readyAt < 8000) {
      const c = await connect();
      if (c.server === 'd-3') landed = c;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = Date.now() - readyAt;
    console.log(`discovery: first connection on the new replica ${elapsed} ms after it answered /readyz 200`);
    assert.ok(landed !== undefined && elapsed <= 5000, `new replica got its first connection after ${elapsed} ms`);
    assert.ok(before.every((c) => c.ws.readyState === c.ws.OPEN), 'no existing connection dropped');
  });

  void it('stops routing to a replica that left DNS while its open sockets stay', async () => {
    const onLeaving = clients.filter((c) => c.server === 'd-1' && c.ws.readyState === c.ws.OPEN);
    assert.ok(onLeaving.length > 0);
    dns.setRecords(SERVICE, ['127.0.0.3', '127.0.0.4']);
    const leftAt = Date.now();
    await waitFor('the slot of 127.0.0.2 to leave the backend', async () => ![...(await upSlots()).values()].includes(`127.0.0.2:${replicaPort}`), 10_000, 100);
    console.log(`discovery: replica removed from DNS left the backend after ${Date.now() - leftAt} ms`);
    const after = await Promise.all(Array.from({ length: 20 }, () => connect()));
    assert.equal(after.filter((c) => c.server === 'd-1').length, 0);
    assert.ok(onLeaving.every((c) => c.ws.readyState === c.ws.OPEN), 'sockets on the removed replica were not cut');
    await Promise.all(onLeaving.slice(0, 3).map((c) => c.ping()));
  });
});
