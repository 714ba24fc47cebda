/**
 * End to end on real Docker, through the project's own scripts: deploy 3 replicas → roundrobin spreads
 * two clients over two replicas and they exchange a message → scale to 5 (plans only the 2 new
 * containers; every replica gets connections; nothing drops) → scale to 2 with clients sending
 * (they reconnect; no acknowledged message is lost) → sticky (only the balancer changes; a client
 * returns to its replica) → destroy (nothing with the prefix is left).
 *
 * Hostile clients: right after the deploy, a burst of bad requests of every kind goes through
 * the balancer while a healthy pair of clients exchanges messages; every replica must stay UP in
 * HAProxy's stats, every bad request must get a 4xx, and the healthy clients must be served throughout.
 * The deployment itself is checked too: private state and secrets, stats behind credentials, NATS
 * unprivileged with authenticated routes and monitoring unreachable, metrics off the routed port.
 *
 * The clients are the client library (tests/support/resuming-client.ts): they reconnect and resume by
 * themselves. Runs under its own prefix and OS-chosen ports, so it never touches a user's fleet, and always
 * destroys what it deployed in `after`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { Fleet, type PlannedChange } from '../support/fleet.js';
import { freePort, waitFor } from '../support/ports.js';
import { mintToken } from '../support/tokens.js';
import { repoRoot } from '../support/paths.js';
import { terraformStateFile } from '../../infra/paths.js';
import { acknowledged, ResumingClient } from '../support/resuming-client.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// WSFLEET_E2E_PREFIX lets a second run (e.g. a developer's) proceed beside the suite's own.
const PREFIX = process.env['WSFLEET_E2E_PREFIX'] ?? 'wsfleet-e2e';
const timings: Record<string, number> = {};
/** Low enough that a leaked upgrade counter (one per refused handshake) would fill a replica during the burst. */
const MAX_CONNECTIONS = 150;
const execFileAsync = promisify(execFile);

/** Sends raw HTTP/1.1 bytes and resolves with the status code of the answer (0 when the peer closed first). */
function rawStatus(port: number, request: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (code: number): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(code);
    };
    const timer = setTimeout(() => { done(0); }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m?.[1] !== undefined) done(Number(m[1]));
    });
    socket.on('error', () => { done(0); });
    socket.on('close', () => { done(0); });
  });
}

/** Opens a WebSocket, waits for the welcome, sends `frame` (raw text) and resolves with the next frame. */
async function frameReply(url: string, token: string, frame: string, timeoutMs = 5000): Promise<{ reply: Record<string, unknown> | undefined; closeCode: number | undefined }> {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  try {
    return await new Promise((resolve) => {
      let welcomed = false;
      const timer = setTimeout(() => { resolve({ reply: undefined, closeCode: undefined }); }, timeoutMs);
      ws.on('message', (data: Buffer) => {
        const f = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        if (!welcomed && f['type'] === 'welcome') {
          welcomed = true;
          ws.send(frame);
          return;
        }
        // The connect's own replay marker (protocol v2: the stored-cursor replay) is not an answer to the frame.
        if (welcomed && f['type'] !== 'replayed') {
          clearTimeout(timer);
          resolve({ reply: f, closeCode: undefined });
        }
      });
      ws.on('close', (code) => { clearTimeout(timer); resolve({ reply: undefined, closeCode: code }); });
      ws.on('error', () => undefined);
    });
  } finally {
    ws.terminate();
  }
}

/** Runs `tasks` with at most `concurrency` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tasks.length) {
        const i = next++;
        const task = tasks[i];
        if (task !== undefined) out[i] = await task();
      }
    }),
  );
  return out;
}

async function dockerExec(container: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', ['exec', container, ...args], { timeout: 30_000 });
  return stdout.trim();
}

async function dockerInspect<T>(container: string, format: string): Promise<T> {
  const { stdout } = await execFileAsync('docker', ['inspect', '--format', `{{json ${format}}}`, container], { timeout: 30_000 });
  return JSON.parse(stdout) as T;
}

/** Resource addresses of planned changes, grouped by action, for readable assertions. */
function summarize(changes: PlannedChange[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of changes) (out[c.action] ??= []).push(c.address);
  for (const list of Object.values(out)) list.sort();
  return out;
}

describe('e2e: ws-fleet on Docker', { timeout: 45 * 60_000 }, () => {
  let fleet: Fleet;
  let secret = '';
  const clients: ResumingClient[] = [];
  let downDone = false;

  async function client(user: string, opts: { autoReconnect?: boolean; cookie?: string } = {}): Promise<ResumingClient> {
    const c = new ResumingClient({ url: fleet.wsUrl, token: await mintToken(secret, user), ...opts });
    clients.push(c);
    await c.connect();
    return c;
  }

  async function closeAll(): Promise<void> {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  }

  before(async () => {
    fleet = new Fleet({
      prefix: PREFIX,
      balancerPort: await freePort(),
      statsPort: await freePort(),
      // A short drain keeps the scale-down step quick; replicas and NATS sized for a 2-core CI box.
      // MAX_CONNECTIONS low for the hostile burst (see above); the per-source connection rate high, because
      // every test client shares one source address behind Docker's port publishing and the burst opens
      // hundreds of connections (the limit itself is checked against a real haproxy in the unit tests).
      env: {
        WSFLEET_DRAIN_WINDOW_MS: '3000',
        WSFLEET_WS_MEMORY_MB: '192',
        WSFLEET_NATS_MEMORY_MB: '192',
        WSFLEET_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
        WSFLEET_LB_CONN_RATE_PER_SOURCE_PER10S: '5000',
      },
    });
    // Leftovers of an earlier, interrupted run of this suite (same prefix, never a user's fleet).
    const stale = await fleet.leftovers();
    if ([stale.containers, stale.networks, stale.volumes, stale.images].some((l) => l.length > 0)) await fleet.forceCleanup();
    fleet.writeSettings({ replicas: 3, lbMode: 'roundrobin', natsNodes: 3 });
  });

  after(async () => {
    await closeAll();
    if (!downDone) {
      try {
        await fleet.down();
      } catch (err) {
        console.error(`e2e: down failed, removing by prefix: ${String(err)}`);
      }
      await fleet.forceCleanup();
    }
    fleet.removeFiles();
    console.log(`e2e timings (s): ${JSON.stringify(timings)}`);
  });

  it('deploys 3 replicas, 3 NATS nodes and the balancer', async () => {
    const r = await fleet.up();
    timings['deploy'] = r.seconds;
    assert.match(r.stdout, new RegExp(`balancer: +${fleet.balancerUrl.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, /stats: +http:\/\/127\.0\.0\.1:\d+\/stats/);
    assert.deepEqual(await fleet.runningContainers(), [
      `${PREFIX}-lb`,
      `${PREFIX}-nats-1`,
      `${PREFIX}-nats-2`,
      `${PREFIX}-nats-3`,
      `${PREFIX}-ws-1`,
      `${PREFIX}-ws-2`,
      `${PREFIX}-ws-3`,
    ]);
    secret = fleet.authSecret();
    await waitFor('3 replicas UP in the balancer', async () => (await fleet.upServers()) === 3, 30_000, 250);
    const health = await fetch(`${fleet.balancerUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  it('a second deploy with no change plans no change', async () => {
    const changes = await fleet.plan();
    assert.deepEqual(summarize(changes.filter((c) => c.action !== 'noop')), {});
  });

  it('the deployment keeps its secrets private: state and secrets directories 0700, their files 0600', () => {
    const mode = (f: string): number => fs.statSync(f).mode & 0o777;
    const state = terraformStateFile(PREFIX);
    const stateDir = path.dirname(state);
    const secretsDir = path.dirname(fleet.secretsFile);
    assert.equal(mode(stateDir).toString(8), '700');
    assert.equal(mode(secretsDir).toString(8), '700');
    assert.equal(mode(fleet.secretsFile).toString(8), '600');
    assert.ok(fs.statSync(state).size > 0, 'the state was written');
    assert.equal(mode(state).toString(8), '600', 'Terraform kept the private mode of the state file');
    const backup = `${state}.backup`;
    if (fs.existsSync(backup)) assert.equal(mode(backup).toString(8), '600');
  });

  it('the balancer: stats and exporter need the generated credentials; the replicas\' metrics are not routed', async () => {
    const statsPort = new URL(fleet.statsUrl).port;
    assert.equal((await fetch(fleet.statsUrl)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${statsPort}/metrics`)).status, 401);
    assert.equal((await fetch(fleet.statsUrl, { headers: fleet.statsAuthHeader() })).status, 200);
    const prom = await fetch(`http://127.0.0.1:${statsPort}/metrics`, { headers: fleet.statsAuthHeader() });
    assert.equal(prom.status, 200);
    assert.match(await prom.text(), /haproxy_backend_active_servers/);
    const config = await dockerExec(`${PREFIX}-lb`, ['cat', '/usr/local/etc/haproxy/haproxy.cfg']);
    assert.ok(!config.includes(fleet.secrets().lbStatsPassword), 'no credential in the balancer\'s config');
    // /metrics only on METRICS_PORT, reachable on the fleet network.
    const metricsThroughBalancer = await fetch(`${fleet.balancerUrl}/metrics`);
    assert.notEqual(metricsThroughBalancer.status, 200, 'the replicas\' /metrics is not served through the balancer');
    const scraped = await dockerExec(`${PREFIX}-ws-1`, ['node', '-e', "fetch('http://127.0.0.1:9091/metrics').then(async (r) => console.log(r.status, (await r.text()).length), (e) => console.log('error', e.message))"]);
    assert.match(scraped, /^200 \d+$/, `metrics on the replica's METRICS_PORT (docker exec): ${scraped}`);
  });

  it('containers: no capabilities, no-new-privileges; NATS unprivileged with a read-only root, authenticated routes, monitoring unreachable', async () => {
    for (const name of await fleet.runningContainers()) {
      assert.deepEqual(await dockerInspect<string[]>(name, '.HostConfig.CapDrop'), ['ALL'], `${name} CapDrop`);
      assert.deepEqual(await dockerInspect<string[]>(name, '.HostConfig.SecurityOpt'), ['no-new-privileges:true'], `${name} SecurityOpt`);
      const uid = /^Uid:\s+(\d+)/m.exec(await dockerExec(name, ['cat', '/proc/1/status']))?.[1];
      assert.notEqual(uid, '0', `${name} runs as uid ${String(uid)}`);
      if (name.includes('-nats-') || name.includes('-ws-')) assert.equal(await dockerInspect<boolean>(name, '.HostConfig.ReadonlyRootfs'), true, `${name} read-only root`);
    }
    // From a replica (a container on the fleet network): NATS monitoring answers nothing, a route without
    // the route credentials is refused.
    const probe = `
      const net = require('node:net');
      const monitor = fetch('http://${PREFIX}-nats-1:8222/varz').then((r) => 'monitor ' + r.status, () => 'monitor unreachable');
      const route = new Promise((resolve) => {
        const s = net.connect(6222, '${PREFIX}-nats-1');
        let buf = '';
        s.on('data', (d) => {
          buf += d;
          if (buf.startsWith('INFO') && !s.sent) { s.sent = true; s.write('CONNECT {"verbose":false,"user":"x","pass":"y","name":"rogue"}\\r\\nPING\\r\\n'); }
          if (/-ERR|PONG/.test(buf)) { s.destroy(); resolve(buf.includes('Authorization Violation') ? 'route refused' : 'route accepted'); }
        });
        s.on('error', () => resolve('route error'));
        setTimeout(() => resolve('route timeout'), 5000);
      });
      Promise.all([monitor, route]).then((r) => console.log(r.join(', ')));`;
    assert.equal(await dockerExec(`${PREFIX}-ws-1`, ['node', '-e', probe]), 'monitor unreachable, route refused');
  });

  const burst = { statuses: new Map<string, number[]>(), frames: new Map<string, string[]>(), notUp: [] as string[], sent: 0, acked: 0 };

  it('a burst of bad requests of every kind through the balancer: every replica stays UP and a healthy client is served throughout', { timeout: 180_000 }, async () => {
    const port = Number(new URL(fleet.balancerUrl).port);
    const token = await mintToken(secret, 'mallory');
    const bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const upAtStart = (await fleet.backendServers()).filter((s) => s.status === 'UP').map((s) => s.name);
    assert.equal(upAtStart.length, 3);

    // The healthy side: two clients exchanging direct messages every 100 ms, and a fresh connection every 500 ms.
    const anne = await client('healthy-anne');
    const bob = await client('healthy-bob');
    const control = { stop: false };
    const acked: string[] = [];
    const healthy = (async () => {
      for (let n = 0; !control.stop && n < 3000; n++) {
        const id = `healthy-${n}`;
        burst.sent += 1;
        if (acknowledged(await anne.send('healthy-bob', id))) acked.push(id);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const freshFailures: string[] = [];
    let fresh = 0;
    const connecting = (async () => {
      for (let n = 0; !control.stop && n < 600; n++) {
        const c = new ResumingClient({ url: fleet.wsUrl, token: await mintToken(secret, `fresh-${n}`) });
        try {
          await c.connect();
          fresh += 1;
        } catch (err) {
          freshFailures.push(String(err));
        } finally {
          await c.close();
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const watching = (async () => {
      while (!control.stop) {
        for (const s of await fleet.backendServers().catch(() => [])) {
          if (upAtStart.includes(s.name) && s.status !== 'UP') burst.notUp.push(`${s.name}=${s.status}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const record = (kind: string, status: number): void => {
      const list = burst.statuses.get(kind) ?? [];
      list.push(status);
      burst.statuses.set(kind, list);
    };
    const http = (kind: string, pathname: string, init: RequestInit): (() => Promise<void>) => async () => {
      const res = await fetch(`${fleet.balancerUrl}${pathname}`, { ...init, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      record(kind, res?.status ?? 0);
      await res?.arrayBuffer().catch(() => undefined);
    };
    const raw = (kind: string, request: string): (() => Promise<void>) => async () => {
      record(kind, await rawStatus(port, request));
    };
    const upgrade = (extra: string): string =>
      `GET /ws?token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extra}\r\n`;
    const deep = `{"to":"healthy-bob","data":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const tasks: (() => Promise<void>)[] = [];
    const times = (n: number, make: () => () => Promise<void>): void => {
      for (let i = 0; i < n; i++) tasks.push(make());
    };
    // Handshakes ws refuses on its own: more per replica than MAX_CONNECTIONS, so a counter that never
    // comes back down would leave every replica refusing upgrades.
    times(2 * MAX_CONNECTIONS, () => raw('upgrade without Sec-WebSocket-Key', upgrade('Sec-WebSocket-Version: 13\r\n')));
    times(2 * MAX_CONNECTIONS, () => raw('upgrade with a bad version', upgrade('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n')));
    times(20, () => raw('upgrade without a token', 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    times(30, () => http('bad percent-encoding, unauthenticated', '/rooms/%ZZ/publish', { method: 'POST', body: '{"data":1}', headers: { 'content-type': 'application/json' } }));
    times(30, () => http('bad percent-encoding', '/rooms/%ZZ/publish', { method: 'POST', body: '{"data":1}', headers: bearer }));
    times(30, () => http('bad JSON', '/send', { method: 'POST', body: '{"to":"healthy-bob",', headers: bearer }));
    times(30, () => http('deep JSON', '/send', { method: 'POST', body: deep, headers: bearer }));
    times(30, () => http('unauthenticated send', '/send', { method: 'POST', body: '{"to":"healthy-bob","data":1}', headers: { 'content-type': 'application/json' } }));
    times(30, () => http('invalid token', '/send', { method: 'POST', body: '{"to":"healthy-bob","data":1}', headers: { authorization: 'Bearer not.a.jwt', 'content-type': 'application/json' } }));
    times(30, () => http('forbidden room publish', '/rooms/vault:gold/publish', { method: 'POST', body: '{"data":1}', headers: bearer }));
    const frame = (kind: string, text: string): (() => Promise<void>) => async () => {
      const { reply, closeCode } = await frameReply(fleet.wsUrl, token, text);
      const list = burst.frames.get(kind) ?? [];
      list.push(reply === undefined ? `closed ${String(closeCode)}` : `${String(reply['type'])} ${typeof reply['code'] === 'string' ? reply['code'] : ''}`.trim());
      burst.frames.set(kind, list);
    };
    times(10, () => frame('deep JSON frame', `{"type":"send","to":"healthy-bob","id":"d1","data":${'['.repeat(5000)}${']'.repeat(5000)}}`));
    times(10, () => frame('bad JSON frame', '{"type":"send",'));
    times(10, () => frame('join a forbidden room', '{"type":"join","room":"vault:gold","id":"j1"}'));
    times(10, () => frame('history of a forbidden room', '{"type":"join","room":"vault:gold","after":0,"id":"j2"}'));
    // Shuffled, so every kind hits every replica while the others run.
    for (let i = tasks.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [tasks[i], tasks[j]] = [tasks[j] as () => Promise<void>, tasks[i] as () => Promise<void>];
    }
    const started = Date.now();
    await pool(tasks, 12);
    timings['hostile burst'] = (Date.now() - started) / 1000;
    // The healthy side keeps going a moment after the burst.
    await new Promise((r) => setTimeout(r, 2000));
    control.stop = true;
    await Promise.all([healthy, connecting, watching]);

    console.log(`e2e burst: ${tasks.length} bad requests in ${timings['hostile burst']} s; statuses ${JSON.stringify(Object.fromEntries([...burst.statuses].map(([k, v]) => [k, [...new Set(v)].sort()])))}; frames ${JSON.stringify(Object.fromEntries([...burst.frames].map(([k, v]) => [k, [...new Set(v)]])))}; healthy ${acked.length}/${burst.sent} acked, ${fresh} fresh connections`);
    assert.deepEqual(burst.notUp, [], 'no replica left UP during the burst');
    assert.deepEqual((await fleet.backendServers()).filter((s) => upAtStart.includes(s.name)).map((s) => s.status), ['UP', 'UP', 'UP']);
    assert.deepEqual(anne.closeCodes, [], 'the healthy sender was never disconnected');
    assert.deepEqual(bob.closeCodes, [], 'the healthy receiver was never disconnected');
    assert.equal(acked.length, burst.sent, 'every healthy send acknowledged');
    await waitFor('bob receives every acknowledged message', () => acked.every((id) => bob.received.has(id)), 10_000);
    assert.deepEqual(freshFailures, [], 'every fresh connection during the burst was welcomed');
    assert.ok(fresh >= 5, `${fresh} fresh connections`);
    // After the burst every replica still accepts upgrades: its upgrade counter came back down.
    const after = await Promise.all(Array.from({ length: 6 }, (_, i) => client(`after-burst-${i}`)));
    assert.equal(new Set(after.map((c) => c.server)).size, 3, 'every replica welcomes new connections after the burst');
    await closeAll();
  });

  it('every bad request of the burst got a 4xx, never a 5xx; bad frames got error frames on an open socket', () => {
    const expected: Record<string, number[]> = {
      'upgrade without Sec-WebSocket-Key': [400],
      'upgrade with a bad version': [400],
      'upgrade without a token': [401],
      'bad percent-encoding, unauthenticated': [400, 401],
      'bad percent-encoding': [400],
      'bad JSON': [400],
      'deep JSON': [400],
      'unauthenticated send': [401],
      'invalid token': [401],
      'forbidden room publish': [403],
    };
    const wrong = [...burst.statuses].filter(([kind, statuses]) => statuses.some((st) => !(expected[kind] ?? []).includes(st)));
    assert.deepEqual(Object.fromEntries(wrong.map(([k, v]) => [k, [...new Set(v)].sort()])), {}, 'statuses outside the expected 4xx');
    const frames: Record<string, string> = {
      'deep JSON frame': 'error bad_frame',
      'bad JSON frame': 'error bad_json',
      'join a forbidden room': 'error forbidden',
      'history of a forbidden room': 'error forbidden',
    };
    const wrongFrames = [...burst.frames].filter(([kind, replies]) => replies.some((r) => r !== frames[kind]));
    assert.deepEqual(Object.fromEntries(wrongFrames.map(([k, v]) => [k, [...new Set(v)]])), {}, 'frame replies');
  });

  it('roundrobin: two clients land on different replicas and exchange a message across them', async () => {
    const anne = await client('anne');
    const bob = await client('bob');
    assert.ok(anne.server?.startsWith(`${PREFIX}-ws-`));
    assert.notEqual(anne.server, bob.server, 'roundrobin puts consecutive connections on different replicas');
    const ack = await anne.send('bob', 'anne-to-bob-1');
    assert.equal(ack.type, 'ack');
    assert.equal(ack.delivered, 1);
    await waitFor('bob receives the message', () => bob.received.has('anne-to-bob-1'), 5000);
  });

  it('scaling 3 → 5 plans only the two new containers; every replica then gets connections; none drops', async () => {
    const changes = await fleet.plan({ WSFLEET_REPLICAS: '5' });
    const summary = summarize(changes);
    assert.deepEqual(Object.keys(summary), ['create']);
    assert.equal(summary['create']?.length, 2);
    assert.ok((summary['create'] ?? []).every((a) => /^docker_container\.ws_replica-[45]_/.test(a)), JSON.stringify(summary));

    const [anne, bob] = clients;
    assert.ok(anne && bob);
    const r = await fleet.scale(5);
    timings['scale 3→5'] = r.seconds;
    const started = Date.now();
    await waitFor('5 replicas UP in the balancer', async () => (await fleet.upServers()) === 5, 30_000, 100);
    timings['new replicas routable after apply'] = (Date.now() - started) / 1000;
    assert.ok(anne.isOpen && bob.isOpen, 'existing connections survive scaling up');

    const fresh = await Promise.all(Array.from({ length: 10 }, (_, i) => client(`spread-${i}`)));
    const servers = new Set(fresh.map((c) => c.server));
    assert.deepEqual([...servers].sort(), [1, 2, 3, 4, 5].map((n) => `${PREFIX}-ws-${n}`).sort());
    const ack = await bob.send('anne', 'bob-to-anne-after-scale');
    assert.equal(ack.delivered, 1);
    await waitFor('anne receives after the scale-up', () => anne.received.has('bob-to-anne-after-scale'), 5000);
    await closeAll();
  });

  it('scaling 5 → 2 with clients connected: they reconnect to the remaining replicas and lose no acknowledged message', async () => {
    const receivers = await Promise.all(Array.from({ length: 10 }, (_, i) => client(`rcv-${i}`, { autoReconnect: true })));
    const senders = await Promise.all(Array.from({ length: 2 }, (_, i) => client(`snd-${i}`, { autoReconnect: true })));
    const onDoomed = receivers.filter((c) => /-ws-[345]$/.test(c.server ?? ''));
    assert.ok(onDoomed.length > 0, 'some receivers sit on replicas 3-5');

    const acked = new Map<string, ResumingClient>();
    let sent = 0;
    let stop = false;
    const sendLoop = async (sender: ResumingClient, s: number): Promise<void> => {
      for (let n = 0; !stop && n < 2000; n++) {
        const target = receivers[n % receivers.length];
        assert.ok(target);
        const id = `m-${s}-${n}`;
        if (!sender.isOpen) await sender.waitConnected(30_000);
        sent += 1;
        const ack = await sender.send(`rcv-${n % receivers.length}`, id);
        if (acknowledged(ack)) acked.set(id, target);
        await new Promise((r) => setTimeout(r, 40));
      }
    };
    const loops = senders.map((s, i) => sendLoop(s, i));

    const r = await fleet.scale(2);
    timings['scale 5→2'] = r.seconds;
    // Traffic continues a moment on the two replicas left.
    await new Promise((res) => setTimeout(res, 2000));
    stop = true;
    await Promise.all(loops);

    assert.deepEqual(
      (await fleet.runningContainers()).filter((n) => n.includes('-ws-')),
      [`${PREFIX}-ws-1`, `${PREFIX}-ws-2`],
    );
    for (const c of [...receivers, ...senders]) await c.waitConnected(30_000);
    for (const c of onDoomed) {
      assert.ok(c.reconnects >= 1, `${c.servers.join(' → ')} reconnected`);
      assert.ok(c.closeCodes.includes(1012), `drained with 1012 (got ${c.closeCodes.join(',')})`);
      assert.match(c.server ?? '', /-ws-[12]$/);
    }
    assert.ok(acked.size > 50, `enough acknowledged traffic (${acked.size} of ${sent})`);
    await waitFor(
      'every acknowledged message reaches its recipient',
      () => [...acked].every(([id, target]) => target.received.has(id)),
      20_000,
      100,
    ).catch((err: unknown) => {
      const missing = [...acked].filter(([id, t]) => !t.received.has(id)).map(([id]) => id);
      throw new Error(`${missing.length} acknowledged messages lost (e.g. ${missing.slice(0, 10).join(', ')}): ${String(err)}`);
    });
    await closeAll();
  });

  it('switching to sticky replaces only the balancer; a reconnecting client returns to its replica', async () => {
    const summary = summarize(await fleet.plan({ WSFLEET_LB_MODE: 'sticky' }));
    const touched = new Set(Object.values(summary).flat());
    assert.deepEqual([...touched].map((a) => a.replace(/_[0-9A-F]{8}$/, '')), ['docker_container.balancer_haproxy']);

    const r = await fleet.lb('sticky');
    timings['lb → sticky'] = r.seconds;
    await waitFor('2 replicas UP in the new balancer', async () => (await fleet.upServers()) === 2, 30_000, 100);
    const first = await client('sticky-user');
    assert.ok(first.setCookie?.startsWith('WSFLEET_SRV='), `the upgrade response sets the sticky cookie (got ${String(first.setCookie)})`);
    const home = first.server;
    const cookie = first.setCookie;
    await first.close();
    for (let i = 0; i < 5; i++) {
      const again = await client('sticky-user', { cookie });
      assert.equal(again.server, home, `reconnect ${i + 1} returns to ${String(home)}`);
      await again.close();
    }
    await closeAll();
  });

  it('rolling deploy: a changed server build replaces the replicas one at a time under traffic; 0 lost, one replica\'s sockets reconnect at a time', { timeout: 15 * 60_000 }, async () => {
    await fleet.scale(3);
    await waitFor('3 replicas UP', async () => (await fleet.upServers()) === 3, 30_000, 100);
    // The changed build: the same bundle with one more line, in a context of its own.
    const context = fs.mkdtempSync(path.join(os.tmpdir(), 'wsf-rolling-'));
    fs.cpSync(path.join(repoRoot, 'server', '.image'), context, { recursive: true });
    fs.appendFileSync(path.join(context, 'server.mjs'), `\n// rolled build ${Date.now()}\n`);
    const receivers = await Promise.all(Array.from({ length: 12 }, (_, i) => client(`roll-rcv-${i}`, { autoReconnect: true })));
    const senders = await Promise.all(Array.from({ length: 2 }, (_, i) => client(`roll-snd-${i}`, { autoReconnect: true })));
    const everyone = [...receivers, ...senders];
    assert.equal(new Set(everyone.map((c) => c.server)).size, 3, 'clients on every replica');

    // Disconnects, with the replica each client was on, sampled every 20 ms.
    const disconnects: { at: number; server: string }[] = [];
    const control = { stop: false };
    const watching = (async () => {
      const wasOpen = everyone.map((c) => ({ open: c.isOpen, server: c.server ?? '' }));
      while (!control.stop) {
        everyone.forEach((c, i) => {
          const prev = wasOpen[i];
          if (prev === undefined) return;
          if (prev.open && !c.isOpen) disconnects.push({ at: Date.now(), server: prev.server });
          wasOpen[i] = { open: c.isOpen, server: c.isOpen ? (c.server ?? '') : prev.server };
        });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const acked = new Map<string, ResumingClient>();
    let sent = 0;
    const sendLoop = async (sender: ResumingClient, s: number): Promise<void> => {
      for (let n = 0; !control.stop && n < 5000; n++) {
        const target = receivers[n % receivers.length];
        assert.ok(target);
        const id = `roll-${s}-${n}`;
        if (!sender.isOpen) await sender.waitConnected(30_000);
        sent += 1;
        if (acknowledged(await sender.send(`roll-rcv-${n % receivers.length}`, id))) acked.set(id, target);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const loops = senders.map((c, i) => sendLoop(c, i));

    let r: Awaited<ReturnType<Fleet['rolling']>>;
    try {
      r = await fleet.rolling({ WSFLEET_SERVER_CONTEXT: context });
      timings['rolling deploy'] = r.seconds;
      await new Promise((res) => setTimeout(res, 2000));
    } finally {
      // Stop the traffic and the watcher whatever happened, or a failed roll keeps the file from exiting.
      control.stop = true;
      await Promise.allSettled([...loops, watching]);
    }
    await Promise.all([...loops, watching]); // settled: rethrows a failed send loop's error
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { targetBuild: string; steps: { replica: number; applySeconds: number; routedSeconds: number }[] };
    console.log(`e2e rolling: ${JSON.stringify(report.steps)}; ${acked.size}/${sent} acked; disconnects ${JSON.stringify(disconnects.map((d) => d.server))}`);
    assert.deepEqual(report.steps.map((s) => s.replica), [1, 2, 3], 'one step per replica, in order');

    // Every replica runs the new build; only the new build's image is left.
    for (let n = 1; n <= 3; n++) {
      assert.equal(await dockerInspect<string>(`${PREFIX}-ws-${n}`, '(index .Config.Labels "io.ws-fleet.server-build")'), report.targetBuild, `ws-${n} build`);
    }
    const { stdout: images } = await execFileAsync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', `${PREFIX}-server`]);
    assert.deepEqual(images.trim().split('\n'), [`${PREFIX}-server:${report.targetBuild.slice(0, 12)}`]);

    // At most one replica's sockets reconnecting at a time: the disconnect windows of different replicas never overlap.
    const windows = new Map<string, { from: number; to: number }>();
    for (const d of disconnects) {
      const w = windows.get(d.server);
      windows.set(d.server, w === undefined ? { from: d.at, to: d.at } : { from: Math.min(w.from, d.at), to: Math.max(w.to, d.at) });
    }
    assert.equal(windows.size, 3, `sockets of every replica reconnected once: ${JSON.stringify([...windows])}`);
    const ordered = [...windows].sort((a, b) => a[1].from - b[1].from);
    for (let i = 1; i < ordered.length; i++) {
      const prev = ordered[i - 1];
      const cur = ordered[i];
      assert.ok(prev !== undefined && cur !== undefined && prev[1].to < cur[1].from, `${prev?.[0] ?? ''} and ${cur?.[0] ?? ''} reconnected at the same time: ${JSON.stringify(ordered)}`);
    }
    for (const c of everyone) await c.waitConnected(30_000);
    assert.ok(acked.size > 50, `enough acknowledged traffic (${acked.size} of ${sent})`);
    await waitFor('every acknowledged message reaches its recipient', () => [...acked].every(([id, t]) => t.received.has(id)), 20_000, 100).catch((err: unknown) => {
      const missing = [...acked].filter(([id, t]) => !t.received.has(id)).map(([id]) => id);
      throw new Error(`${missing.length} acknowledged messages lost (e.g. ${missing.slice(0, 10).join(', ')}): ${String(err)}`);
    });
    await closeAll();
    fs.rmSync(context, { recursive: true, force: true });
  });

  it('destroy removes every container, network, volume and image with the prefix', async () => {
    const r = await fleet.down();
    downDone = true;
    timings['destroy'] = r.seconds;
    assert.deepEqual(await fleet.leftovers(), { containers: [], networks: [], volumes: [], images: [] });
  });
});
