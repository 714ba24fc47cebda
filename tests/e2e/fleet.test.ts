/**
 * End to end on real Docker, through the project's own scripts: deploy 3 replicas → roundrobin spreads
 * two clients over two replicas and they exchange a message → scale to 5 (plans only the 2 new
 * containers; every replica gets connections; nothing drops) → scale to 2 with clients sending
 * (they reconnect; no acknowledged message is lost) → sticky (only the balancer changes; a client
 * returns to its replica) → destroy (nothing with the prefix is left).
 *
 * Runs under its own prefix and OS-chosen ports, so it never touches a user's fleet, and always
 * destroys what it deployed in `after`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Fleet, type PlannedChange } from '../support/fleet.js';
import { freePort, waitFor } from '../support/ports.js';
import { mintToken } from '../support/tokens.js';
import { repoRoot } from '../support/paths.js';
import { acknowledged, TestClient } from './ws-client.js';

// WSFLEET_E2E_PREFIX lets a second run (e.g. a developer's) proceed beside the suite's own.
const PREFIX = process.env['WSFLEET_E2E_PREFIX'] ?? 'wsfleet-e2e';
const timings: Record<string, number> = {};

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
  const clients: TestClient[] = [];
  let downDone = false;

  async function client(user: string, opts: { autoReconnect?: boolean; cookie?: string } = {}): Promise<TestClient> {
    const c = new TestClient({ url: fleet.wsUrl, token: await mintToken(secret, user), ...opts });
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
      env: { WSFLEET_DRAIN_WINDOW_MS: '3000', WSFLEET_WS_MEMORY_MB: '192', WSFLEET_NATS_MEMORY_MB: '192' },
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
    for (const f of [fleet.settingsFile, fleet.secretsFile, path.join(repoRoot, '.ws-fleet', 'outputs', `${PREFIX}.json`)]) {
      fs.rmSync(f, { force: true });
    }
    fs.rmSync(path.join(repoRoot, '.ws-fleet', 'cdktf', PREFIX), { recursive: true, force: true });
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

    const acked = new Map<string, TestClient>();
    let sent = 0;
    let stop = false;
    const sendLoop = async (sender: TestClient, s: number): Promise<void> => {
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

  it('destroy removes every container, network, volume and image with the prefix', async () => {
    const r = await fleet.down();
    downDone = true;
    timings['destroy'] = r.seconds;
    assert.deepEqual(await fleet.leftovers(), { containers: [], networks: [], volumes: [], images: [] });
  });
});
