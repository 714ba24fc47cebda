/**
 * End to end on a 3-node Docker Swarm built by the test from namespaced dockerds (tests/support/swarm-nodes.ts),
 * deployed with the project's own deploy command (engine swarm):
 * deploy → clients through HAProxy land on replicas on at least two nodes and exchange direct and room
 * messages → scale 3 → 6 (one in-place update) → 2 under traffic, 0 lost → drain a node: its ws tasks move,
 * NATS keeps a quorum, clients resume, 0 lost → crash a node (SIGKILL of its dockerd and all it ran):
 * 0 acknowledged lost, the dead replicas' presence purged within 10 s, tasks rescheduled → destroy: nothing
 * with the prefix left on any node. Needs root (network namespaces, a bridge, iptables).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SwarmNodes } from '../support/swarm-nodes.js';
import { run } from '../support/fleet.js';
import { mintToken } from '../support/tokens.js';
import { deploymentLeftovers, outputsFile, settingsFile, terraformStateFile } from '../../infra/paths.js';
import { readSecrets } from '../../infra/secrets.js';
import { connectClient } from '../support/ws-client.js';
import { acknowledged, ResumingClient } from '../support/resuming-client.js';

const PREFIX = 'wsf-swarm-e2e';
const BALANCER_PORT = 18080;
const STATS_PORT = 18404;
const timings: Record<string, number> = {};

describe('e2e: ws-fleet on a 3-node Docker Swarm', { timeout: 20 * 60_000 }, () => {
  const swarm = new SwarmNodes({ prefix: 'wsfsw' });
  let env: NodeJS.ProcessEnv = {};
  let secret = '';
  let wsUrl = '';
  let statsUrl = '';
  let deployed = false;
  const clients: ResumingClient[] = [];

  async function cli(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<string> {
    const started = Date.now();
    const r = await run(process.execPath, ['--import', 'tsx', 'infra/cli/fleet.ts', ...args], { ...env, ...extra }, 12 * 60_000);
    timings[args.join(' ')] = (Date.now() - started) / 1000;
    if (r.code !== 0) throw new Error(`fleet.ts ${args.join(' ')} exited ${String(r.code)}\n${r.stderr.slice(-5000)}`);
    return r.stdout;
  }

  async function client(user: string, autoReconnect = true): Promise<ResumingClient> {
    const c = new ResumingClient({ url: wsUrl, token: await mintToken(secret, user), autoReconnect, connectTimeoutMs: 8000 });
    clients.push(c);
    await c.connect();
    return c;
  }

  /** Running ws tasks: slot → swarm node id. */
  async function wsTasks(): Promise<Map<number, string>> {
    const ids = (await swarm.docker(1, ['service', 'ps', '-q', '--filter', 'desired-state=running', `${PREFIX}-ws`])).split('\n').filter((l) => l !== '');
    const out = new Map<number, string>();
    for (const id of ids) {
      const [slot, node, state] = (await swarm.docker(1, ['inspect', '--format', '{{.Slot}} {{.NodeID}} {{.Status.State}}', id])).trim().split(' ');
      if (state === 'running') out.set(Number(slot), node ?? '');
    }
    return out;
  }

  async function upServers(): Promise<number> {
    try {
      const text = await (await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(3000) })).text();
      return text.split('\n').filter((l) => l.startsWith('ws_replicas,ws') && l.split(',')[17] === 'UP').length;
    } catch {
      return 0;
    }
  }

  async function settled(replicas: number, what: string, timeoutMs = 180_000): Promise<void> {
    await swarm.waitFor(`${what}: ${replicas} ws tasks running and UP in HAProxy`, async () => (await wsTasks()).size === replicas && (await upServers()) === replicas, timeoutMs);
  }

  /**
   * Smoke-level traffic while `during` runs: 4 senders each send a direct message every 100 ms to one of
   * 2 receivers; every acknowledged id must reach its receiver (live, or replayed on resume).
   */
  async function underTraffic(name: string, during: () => Promise<void>): Promise<void> {
    const receivers = [await client(`${name}-r1`), await client(`${name}-r2`)];
    const senders = await Promise.all([1, 2, 3, 4].map((i) => client(`${name}-s${i}`)));
    const acked = new Map<string, ResumingClient>();
    let stop = false;
    let sent = 0;
    const loops = senders.map(async (s, i) => {
      for (let n = 0; !stop && n < 5000; n++) {
        const to = receivers[(i + n) % 2];
        if (to === undefined) break;
        const id = `${name}-${i}-${n}`;
        sent += 1;
        const ack = await s.send(`${name}-r${((i + n) % 2) + 1}`, id, 5000);
        if (acknowledged(ack)) acked.set(id, to);
        await new Promise((r) => setTimeout(r, ack.type === 'ack' ? 100 : 300));
      }
    });
    try {
      await during();
    } finally {
      await new Promise((r) => setTimeout(r, 2000));
      stop = true;
      await Promise.all(loops);
    }
    for (const r of receivers) await r.waitConnected(30_000);
    const lostNow = (): string[] => [...acked].filter(([id, r]) => !r.received.has(id)).map(([id]) => id);
    // Replays after a resume arrive shortly after the reconnect.
    await swarm.waitFor(`${name}: every acknowledged message received`, () => Promise.resolve(lostNow().length === 0), 20_000, 250).catch(() => undefined);
    const lost = lostNow();
    console.log(`${name}: sent ${sent}, acknowledged ${acked.size}, lost ${lost.length}, reconnects ${[...receivers, ...senders].map((c) => c.reconnects).join('/')}`);
    assert.ok(acked.size > 20, `${name}: traffic flowed (${acked.size} acknowledged)`);
    assert.deepEqual(lost.slice(0, 10), [], `${name}: ${lost.length} acknowledged messages lost`);
    await Promise.all([...receivers, ...senders].map((c) => c.close()));
  }

  before(async () => {
    const t = Date.now();
    await swarm.start();
    timings['swarm start'] = (Date.now() - t) / 1000;
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSFLEET_') && !k.startsWith('TF_VAR_')));
    env = {
      ...clean,
      WSFLEET_PREFIX: PREFIX,
      WSFLEET_ENGINE: 'swarm',
      WSFLEET_BIND_ADDRESS: '0.0.0.0',
      WSFLEET_SWARM_MANAGER: swarm.manager.endpoint,
      WSFLEET_SWARM_NODES: swarm.nodes.map((n) => n.endpoint).join(','),
      WSFLEET_NATS_PLACEMENT: swarm.nodes.map((n) => `id:${n.nodeId}`).join(','),
      WSFLEET_BALANCER_PORT: String(BALANCER_PORT),
      WSFLEET_STATS_PORT: String(STATS_PORT),
      WSFLEET_DRAIN_WINDOW_MS: '3000',
      WSFLEET_WS_MEMORY_MB: '192',
      WSFLEET_NATS_MEMORY_MB: '192',
      WSFLEET_WS_CPUS: '0.3',
      WSFLEET_NATS_CPUS: '0.3',
    };
    fs.rmSync(settingsFile(PREFIX), { force: true });
    fs.rmSync(terraformStateFile(PREFIX), { force: true });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (deployed) await cli(['down']).catch((err: unknown) => { console.error(`swarm e2e: down failed: ${String(err)}`); });
    await swarm.cleanup();
    const { files, dirs } = deploymentLeftovers(PREFIX);
    for (const f of files) fs.rmSync(f, { force: true });
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    console.log(`swarm e2e timings (s): ${JSON.stringify(timings)}`);
  });

  it('deploys: services on the swarm, HAProxy answering on the manager node', async () => {
    deployed = true;
    await cli(['up'], { WSFLEET_REPLICAS: '3' });
    const outputs = JSON.parse(fs.readFileSync(outputsFile(PREFIX), 'utf8')) as Record<string, { value: unknown }>;
    assert.equal(outputs['balancer_url']?.value, `http://${swarm.manager.address}:${BALANCER_PORT}`);
    wsUrl = String(outputs['websocket_url']?.value);
    statsUrl = String(outputs['stats_url']?.value);
    secret = readSecrets(PREFIX).authSecret;
    const services = (await swarm.docker(1, ['service', 'ls', '--format', '{{.Name}} {{.Replicas}}'])).trim().split('\n').sort();
    assert.deepEqual(services, [`${PREFIX}-lb 1/1`, `${PREFIX}-nats-1 1/1`, `${PREFIX}-nats-2 1/1`, `${PREFIX}-nats-3 1/1`, `${PREFIX}-ws 3/3`]);
    for (let n = 1; n <= 3; n++) {
      const task = (await swarm.docker(1, ['service', 'ps', '-q', '--filter', 'desired-state=running', `${PREFIX}-nats-${n}`])).trim();
      const node = (await swarm.docker(1, ['inspect', '--format', '{{.NodeID}}', task])).trim();
      assert.equal(swarm.indexOfNodeId(node), n, `NATS ${n} pinned to node ${n}`);
    }
    await settled(3, 'deploy');
  });

  it('clients through HAProxy land on replicas on at least two nodes and exchange direct and room messages', async () => {
    const tasks = await wsTasks();
    const seen = new Set<string>();
    const nodesSeen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const c = await client(`spread-${i}`, false);
      const server = c.server ?? '';
      seen.add(server);
      const slot = Number(/-(\d+)$/.exec(server)?.[1]);
      nodesSeen.add(tasks.get(slot) ?? '?');
    }
    assert.ok(seen.size >= 2, `replicas seen: ${[...seen].join(', ')}`);
    assert.ok([...nodesSeen].filter((n) => n !== '?').length >= 2, `nodes seen: ${[...nodesSeen].join(', ')}`);

    const alice = await client('alice', false);
    const bob = await client('bob', false);
    const ack = await alice.send('bob', 'hello-bob');
    assert.ok(acknowledged(ack), JSON.stringify(ack));
    await swarm.waitFor('bob got the direct message', () => Promise.resolve(bob.received.has('hello-bob')), 5000, 50);

    const [t1, t2] = await Promise.all(['carol', 'dave'].map(async (u) => connectClient(`${wsUrl}?token=${await mintToken(secret, u)}`)));
    assert.ok(t1 && t2);
    try {
      for (const t of [t1, t2]) {
        const joined = await t.request({ type: 'join', room: 'lobby' });
        assert.equal(joined['type'], 'ack', JSON.stringify(joined));
      }
      const published = await t1.request({ type: 'publish', room: 'lobby', data: { hi: 'room' } });
      assert.equal(published['type'], 'ack', JSON.stringify(published));
      const msg = await t2.next((f) => f.type === 'message' && f['room'] === 'lobby', 5000, 'room message');
      assert.deepEqual(msg['data'], { hi: 'room' });
    } finally {
      await Promise.all([t1.close(), t2.close()]);
    }
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('scale 3 → 6 (one in-place update of the ws service) → 2 under traffic: 0 lost', async () => {
    const plan = await cli(['plan-json'], { WSFLEET_REPLICAS: '6' });
    const changes = plan
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type?: string; change?: { action: string; resource: { addr: string } } })
      .filter((m) => m.type === 'planned_change')
      .map((m) => `${m.change?.action ?? '?'} ${m.change?.resource.addr ?? '?'}`);
    assert.equal(changes.length, 1, changes.join('\n'));
    assert.match(changes[0] ?? '', /^update docker_service\.ws_service_/);

    await underTraffic('scale', async () => {
      await cli(['scale', '6']);
      await settled(6, 'scaled to 6');
      await cli(['scale', '2']);
      await settled(2, 'scaled to 2');
    });
  });

  it('drain a node: its ws tasks move, NATS keeps a quorum, clients resume, 0 lost', async () => {
    await cli(['scale', '3']);
    await settled(3, 'back to 3');
    const node2 = swarm.node(2).nodeId;
    await underTraffic('drain', async () => {
      await swarm.docker(1, ['node', 'update', '--availability', 'drain', node2]);
      await swarm.waitFor('no ws task on the drained node', async () => {
        const tasks = await wsTasks();
        return tasks.size === 3 && ![...tasks.values()].includes(node2);
      }, 120_000);
      await settled(3, 'after the drain');
    });
    const nats2 = (await swarm.docker(1, ['service', 'ls', '--filter', `name=${PREFIX}-nats-2`, '--format', '{{.Replicas}}'])).trim();
    assert.equal(nats2, '0/1', 'NATS 2 cannot run elsewhere (pinned); the cluster ran on the other two');
    await swarm.docker(1, ['node', 'update', '--availability', 'active', node2]);
    await swarm.waitFor('NATS 2 back on its node', async () => (await swarm.docker(1, ['service', 'ls', '--filter', `name=${PREFIX}-nats-2`, '--format', '{{.Replicas}}'])).trim() === '1/1', 120_000);
    // Its healthcheck needs JetStream up before the next node may go.
    await new Promise((r) => setTimeout(r, 10_000));
  });

  it('crash a node (SIGKILL of its dockerd and all it ran) under traffic: 0 acknowledged lost, presence purged within 10 s, tasks rescheduled', async () => {
    const node3 = swarm.node(3).nodeId;
    // Make sure a replica runs on node 3, and put a client there that will not reconnect.
    let tasks = await wsTasks();
    if (![...tasks.values()].includes(node3)) {
      await swarm.docker(1, ['service', 'update', '--detach', '--force', `${PREFIX}-ws`]);
      await swarm.waitFor('a ws task on node 3', async () => [...(await wsTasks()).values()].includes(node3), 180_000);
      await settled(3, 'rebalanced', 300_000);
      tasks = await wsTasks();
    }
    const slotsOn3 = [...tasks].filter(([, n]) => n === node3).map(([s]) => `${PREFIX}-ws-${s}`);
    let ghost: ResumingClient | undefined;
    for (let i = 0; i < 20 && ghost === undefined; i++) {
      const c = await client('ghost', false);
      if (slotsOn3.includes(c.server ?? '')) ghost = c;
      else await c.close();
    }
    assert.ok(ghost, `a client on a node-3 replica (${slotsOn3.join(', ')})`);
    const prober = await client('prober');
    const before = await prober.send('ghost', 'probe-before');
    assert.ok((before.delivered ?? 0) >= 1, `ghost reachable before the crash: ${JSON.stringify(before)}`);

    let purgedAfter = -1;
    try {
      await underTraffic('crash', async () => {
        const crashedAt = Date.now();
        await swarm.crash(3);
        for (let i = 0; Date.now() - crashedAt < 30_000; i++) {
          const ack = await prober.send('ghost', `probe-${i}`, 2000);
          if (ack.type === 'ack' && (ack.delivered ?? 0) === 0) {
            purgedAfter = Date.now() - crashedAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        timings['presence purged after crash'] = purgedAfter / 1000;
        await swarm.waitFor('the swarm rescheduled the crashed node\'s ws tasks', async () => {
          const now = await wsTasks();
          return now.size === 3 && ![...now.values()].includes(node3);
        }, 180_000);
        await settled(3, 'after the crash');
      });
    } finally {
      // Back for the destroy: nothing may be left on any node.
      await swarm.restart(3);
    }
    assert.ok(purgedAfter >= 0 && purgedAfter <= 10_000, `the dead replica's presence purged within 10 s (took ${purgedAfter} ms)`);
  });

  it('destroy: nothing with the prefix is left on any node', async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await cli(['down']);
    deployed = false;
    await swarm.waitFor('no leftovers on any node', async () => (await swarm.leftovers(PREFIX)).length === 0, 60_000).catch(() => undefined);
    assert.deepEqual(await swarm.leftovers(PREFIX), []);
  });
});
