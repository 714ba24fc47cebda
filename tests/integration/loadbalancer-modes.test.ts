/**
 * Each balancing mode does what it says: a real haproxy process, rendered by loadbalancer/src, in front of
 * 3 real ws-fleet replicas (static server list), with a real NATS JetStream node behind them.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { HAPROXY_NAMES, LoadBalancerSettingsError, renderHaproxyConfig, type LbMode } from '../../loadbalancer/src/index.js';
import {
  connectThroughBalancer,
  cookiePair,
  fetchServerStates,
  startStaticBalancer,
  waitForServerStatus,
  type BalancedClient,
  type StaticBalancer,
} from '../support/haproxy.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { freePort, waitFor } from '../support/ports.js';
import { startReplica, type Replica } from '../support/replica.js';
import { mintToken, TEST_SECRET } from '../support/tokens.js';

const BACKEND = HAPROXY_NAMES.backend;

let nats: NatsCluster;
/** Everything a test started, stopped in after() even when the test failed half-way. */
const cleanups: (() => Promise<unknown>)[] = [];
const openClients: BalancedClient[] = [];

type Balancer = StaticBalancer;

async function replica(id: string, env: Record<string, string> = {}, port?: number): Promise<Replica> {
  const r = await startReplica({
    id,
    natsUrls: nats.urls,
    natsUser: nats.user,
    natsPassword: nats.password,
    ...(port === undefined ? {} : { port }),
    env: { AUTH_ALLOW_DEV_USER: 'false', LOG_LEVEL: 'warn', ...env },
  });
  cleanups.push(() => r.stop(3000));
  return r;
}

async function balancer(mode: LbMode, servers: { name: string; port: number }[]): Promise<Balancer> {
  const lb = await startStaticBalancer({ mode, servers, name: `haproxy-${mode}` });
  cleanups.push(() => lb.stop());
  return lb;
}

let userSeq = 0;
async function connect(lb: Balancer, headers: Record<string, string> = {}): Promise<BalancedClient> {
  userSeq += 1;
  const token = await mintToken(TEST_SECRET, `lb-user-${userSeq}`);
  const client = await connectThroughBalancer(lb.wsUrl, { authorization: `Bearer ${token}`, ...headers });
  openClients.push(client);
  return client;
}

/** Opens `count` connections, `concurrency` at a time; returns them in order. */
async function connectMany(lb: Balancer, count: number, concurrency = 20): Promise<BalancedClient[]> {
  const clients: BalancedClient[] = [];
  for (let i = 0; i < count; i += concurrency) {
    const batch = await Promise.all(Array.from({ length: Math.min(concurrency, count - i) }, () => connect(lb)));
    clients.push(...batch);
  }
  return clients;
}

function countByServer(clients: readonly BalancedClient[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of clients) counts[c.server] = (counts[c.server] ?? 0) + 1;
  return counts;
}

async function closeAll(clients: readonly BalancedClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

async function waitAllUp(lb: Balancer, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((n) => waitForServerStatus(lb.statsUrl, BACKEND, n, 'UP', 15_000)));
}

void describe('HAProxy in front of 3 real replicas', { timeout: 240_000 }, () => {
  before(async () => {
    nats = await startNatsCluster({ nodes: 1, name: 'lbmodes' });
  });

  // Each test's clients, balancer and replicas go when the test ends, even when it failed half-way.
  afterEach(async () => {
    await Promise.all(openClients.splice(0).map((c) => c.close()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  after(async () => {
    await nats.stop();
  });

  void it('roundrobin: 300 connections land within ±20% of 100 per replica, and each is logged', async () => {
    const replicas = await Promise.all(['rr-1', 'rr-2', 'rr-3'].map((id) => replica(id)));
    const lb = await balancer('roundrobin', replicas.map((r) => ({ name: r.id, port: r.port })));
    await waitAllUp(lb, replicas.map((r) => r.id));

    const clients = await connectMany(lb, 300);
    const counts = countByServer(clients);
    console.log(`roundrobin distribution of 300: ${JSON.stringify(counts)}`);
    assert.deepEqual(Object.keys(counts).sort(), ['rr-1', 'rr-2', 'rr-3']);
    for (const [server, n] of Object.entries(counts)) assert.ok(n >= 80 && n <= 120, `${server} got ${n}`);

    // The replica the balancer logged for each connection is the one that sent the welcome frame.
    // Closed in small batches: HAProxy writes stdout without blocking, so a burst of hundreds of lines
    // beyond the pipe's buffer would be dropped (and counted in haproxy_process_dropped_logs_total).
    for (let i = 0; i < clients.length; i += 25) {
      await closeAll(clients.slice(i, i + 25));
      await new Promise((r) => setTimeout(r, 20));
    }
    const dropped = async (): Promise<string> => {
      const metrics = await (await fetch(lb.statsUrl.replace(/\/stats$/, '/metrics'))).text();
      return /^haproxy_process_dropped_logs_total \S+/m.exec(metrics)?.[0] ?? 'no dropped-logs metric';
    };
    await waitFor('300 WebSocket log lines', () => lb.proc.connectionLog().filter((l) => l.status === 101).length >= 300, 10_000, 100).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; ${await dropped()}`);
    });
    const logged = lb.proc.connectionLog().filter((l) => l.status === 101);
    const loggedCounts: Record<string, number> = {};
    for (const l of logged) loggedCounts[l.server] = (loggedCounts[l.server] ?? 0) + 1;
    assert.deepEqual(loggedCounts, counts);
    for (const l of logged) {
      assert.equal(l.path, '/ws');
      assert.equal(l.backend, BACKEND);
      assert.equal(l.client_ip, '127.0.0.1');
      assert.ok(l.duration_ms >= 0 && l.response_ms >= 0, JSON.stringify(l));
    }
  });

  void it('leastconn: with one replica already holding 100 connections, the next 100 go to the other two', async () => {
    const first = await replica('lc-1');
    const laterPorts = [await freePort(), await freePort()];
    const lb = await balancer('leastconn', [
      { name: 'lc-1', port: first.port },
      { name: 'lc-2', port: laterPorts[0] ?? 0 },
      { name: 'lc-3', port: laterPorts[1] ?? 0 },
    ]);
    // lc-2 and lc-3 are not running yet: HAProxy marks them down, so the first 100 all land on lc-1.
    await waitForServerStatus(lb.statsUrl, BACKEND, 'lc-2', 'DOWN');
    await waitForServerStatus(lb.statsUrl, BACKEND, 'lc-3', 'DOWN');
    await waitForServerStatus(lb.statsUrl, BACKEND, 'lc-1', 'UP');
    const held = await connectMany(lb, 100);
    assert.deepEqual(countByServer(held), { 'lc-1': 100 });

    await Promise.all([replica('lc-2', {}, laterPorts[0]), replica('lc-3', {}, laterPorts[1])]);
    await waitAllUp(lb, ['lc-2', 'lc-3']);
    const next = await connectMany(lb, 100);
    const counts = countByServer(next);
    console.log(`leastconn: 100 held on lc-1, next 100 went ${JSON.stringify(counts)}`);
    assert.equal(counts['lc-1'], undefined, `lc-1 got ${String(counts['lc-1'])} of the next 100`);
    assert.equal((counts['lc-2'] ?? 0) + (counts['lc-3'] ?? 0), 100);
    assert.ok((counts['lc-2'] ?? 0) >= 40 && (counts['lc-3'] ?? 0) >= 40, JSON.stringify(counts));
    const states = await fetchServerStates(lb.statsUrl, BACKEND);
    assert.equal(states.get('lc-1')?.current, 100);
    await closeAll([...held, ...next]);
  });

  void it('sticky: a reconnecting client returns to its replica; with that replica gone it lands on another at once', async () => {
    const replicas = await Promise.all(['st-1', 'st-2', 'st-3'].map((id) => replica(id, { DRAIN_WINDOW_MS: '500' })));
    const byId = new Map(replicas.map((r) => [r.id, r]));
    const lb = await balancer('sticky', replicas.map((r) => ({ name: r.id, port: r.port })));
    await waitAllUp(lb, replicas.map((r) => r.id));

    const firstConn = await connect(lb);
    const home = firstConn.server;
    const cookie = cookiePair(firstConn.setCookie, 'WSFLEET_SRV');
    assert.equal(cookie, `WSFLEET_SRV=${home}`, `Set-Cookie on the 101: ${JSON.stringify(firstConn.setCookie)}`);
    await firstConn.close();

    for (let i = 0; i < 10; i++) {
      const again = await connect(lb, { cookie });
      assert.equal(again.server, home, `reconnect ${i + 1} went to ${again.server}, not ${home}`);
      assert.deepEqual(again.setCookie, [], 'indirect: no new cookie while the client already has a valid one');
      await again.close();
    }
    // Without the cookie, leastconn spreads clients: stickiness comes from the cookie, not from chance.
    const strangers = await connectMany(lb, 6, 6);
    assert.ok(new Set(strangers.map((c) => c.server)).size >= 2, JSON.stringify(countByServer(strangers)));
    await closeAll(strangers);

    // Graceful stop (SIGTERM, drain, exit 0): the next reconnect with the old cookie lands elsewhere.
    assert.equal(await byId.get(home)?.stop(10_000), 0);
    let t0 = Date.now();
    const moved = await connect(lb, { cookie });
    const movedMs = Date.now() - t0;
    assert.notEqual(moved.server, home);
    assert.equal(cookiePair(moved.setCookie, 'WSFLEET_SRV'), `WSFLEET_SRV=${moved.server}`, 'a fresh cookie names the new replica');
    await moved.close();

    // SIGKILL, reconnect at once (before any health check can notice): redispatched, no error.
    const secondHome = moved.server;
    const secondCookie = `WSFLEET_SRV=${secondHome}`;
    await byId.get(secondHome)?.kill();
    t0 = Date.now();
    const rescued = await connect(lb, { cookie: secondCookie });
    const rescuedMs = Date.now() - t0;
    console.log(`sticky: home ${home}; after stop -> ${moved.server} in ${movedMs} ms; after kill -> ${rescued.server} in ${rescuedMs} ms`);
    assert.ok(![home, secondHome].includes(rescued.server), rescued.server);
    assert.ok(movedMs < 2000 && rescuedMs < 2000, `reconnects took ${movedMs} / ${rescuedMs} ms`);
    await rescued.close();
  });

  void it('a draining replica (/readyz 503) gets no new connections while its open sockets stay until it closes them', async () => {
    const replicas = await Promise.all(['dr-1', 'dr-2', 'dr-3'].map((id) => replica(id, { DRAIN_WINDOW_MS: '20000' })));
    const lb = await balancer('leastconn', replicas.map((r) => ({ name: r.id, port: r.port })));
    await waitAllUp(lb, replicas.map((r) => r.id));
    const existing = await connectMany(lb, 60);
    const onDraining = existing.filter((c) => c.server === 'dr-1');
    assert.ok(onDraining.length >= 15, `dr-1 holds ${onDraining.length}`);
    const closes = onDraining.map((c) => c.closed.then((ev) => ({ ...ev, at: Date.now() })));

    const sigterm = Date.now();
    replicas[0]?.signal('SIGTERM');
    // The signal reaches the process asynchronously: an upgrade it answered before its handler ran is
    // not a connection made while draining. Draining starts when its own /readyz says 503.
    const drainingUrl = replicas[0]?.url ?? '';
    await waitFor('dr-1 draining (/readyz 503)', async () => (await fetch(`${drainingUrl}/readyz`).then((r) => r.status, () => 0)) === 503, 3000, 10);
    // New connections while the balancer has not noticed yet and after: none may land on dr-1
    // (a 503 upgrade refusal is replayed on another replica) and none may fail.
    const during: BalancedClient[] = [];
    let markedDownAfterMs = -1;
    let openWhenMarkedDown: BalancedClient[] = [];
    while (Date.now() - sigterm < 4000) {
      during.push(...(await Promise.all(Array.from({ length: 5 }, () => connect(lb)))));
      if (markedDownAfterMs < 0 && (await fetchServerStates(lb.statsUrl, BACKEND)).get('dr-1')?.status.startsWith('DOWN') === true) {
        markedDownAfterMs = Date.now() - sigterm;
        openWhenMarkedDown = onDraining.filter((c) => c.ws.readyState === c.ws.OPEN);
        // Marked down, its tunnels still carry frames (a socket the replica closes meanwhile is excused).
        await Promise.all(
          openWhenMarkedDown.slice(0, 5).map((c) =>
            c.ping().catch((err: unknown) => {
              if (c.ws.readyState === c.ws.OPEN) throw err;
            }),
          ),
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const counts = countByServer(during);
    console.log(
      `drain: dr-1 marked DOWN ${markedDownAfterMs} ms after SIGTERM, ${openWhenMarkedDown.length}/${onDraining.length} of its sockets open then; ` +
        `${during.length} new connections in 4 s went ${JSON.stringify(counts)}`,
    );
    assert.ok(markedDownAfterMs > 0 && markedDownAfterMs <= 3000, `marked down after ${markedDownAfterMs} ms`);
    assert.equal(counts['dr-1'], undefined, `dr-1 got ${String(counts['dr-1'])} new connections while draining`);
    // Being marked down cut none of its tunnels: only the replica's own spread-out closes took some.
    assert.ok(openWhenMarkedDown.length >= onDraining.length / 2, `${openWhenMarkedDown.length}/${onDraining.length} open when marked down`);

    // The replica closes them itself, with 1012, spread over its drain window, then exits 0.
    assert.equal(await replicas[0]?.exited, 0);
    const closed = await Promise.all(closes);
    assert.deepEqual([...new Set(closed.map((c) => c.code))], [1012]);
    const spreadMs = Math.max(...closed.map((c) => c.at)) - Math.min(...closed.map((c) => c.at));
    assert.ok(spreadMs > 1000, `closes spread over ${spreadMs} ms`);
    await closeAll([...existing, ...during]);
  });

  void it('rejects an invalid mode or timeout at render time, naming it', () => {
    const backend = { kind: 'static' as const, servers: [{ name: 'a', host: '127.0.0.1', port: 1 }] };
    assert.throws(() => renderHaproxyConfig({ mode: 'fastest' as LbMode, backend }), (err: unknown) => {
      assert.ok(err instanceof LoadBalancerSettingsError);
      assert.match(err.message, /mode: must be one of roundrobin, leastconn, sticky \(got "fastest"\)/);
      return true;
    });
    assert.throws(() => renderHaproxyConfig({ mode: 'sticky', backend, timeouts: { tunnel: '-1h' } }), /timeouts\.tunnel: is not a duration .*\(got "-1h"\)/);
  });
});
