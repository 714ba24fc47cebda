/**
 * Figure 5a: a deploy adding 2 replicas → their first connection, on the real Docker fleet, through
 * the project's own scripts (tests/support/fleet.ts drives scripts/up.sh, scale.sh, down.sh) under a
 * private prefix and OS-chosen ports. Deploys 2 replicas (leastconn), keeps opening connections
 * through the balancer (one every 50 ms, held: leastconn then prefers an empty new replica), runs
 * `scale 4`, and records for each new replica: the scale command's start, its container's start
 * (docker inspect), HAProxy marking it UP (stats page), and its first connection (welcome frame).
 * Always tears the deployment down. Bounded: at most 3,000 probe connections and a time limit.
 */
import { execFile } from 'node:child_process';
import WebSocket from 'ws';
import { Fleet } from '../../tests/support/fleet.js';
import { freePort } from '../../tests/support/ports.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult } from '../lib/report.js';
import { sleep } from '../lib/stats.js';
import { mintHs256 } from '../workers/tokens.js';

const PREFIX = 'wsfbench';
const START_REPLICAS = 2;
const END_REPLICAS = 4;

interface NewReplica {
  name: string;
  containerStartedAt: number | null;
  upInBalancerAt: number | null;
  firstConnectionAt: number | null;
}

/** When the container started (docker inspect) and its IP addresses on its networks. */
function dockerInspect(name: string): Promise<{ startedAt: number | null; ips: string[] }> {
  return new Promise((resolve) => {
    execFile('docker', ['inspect', '-f', '{{.State.StartedAt}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', name], { timeout: 15_000 }, (err, stdout) => {
      if (err !== null) {
        resolve({ startedAt: null, ips: [] });
        return;
      }
      const [started = '', ...ips] = stdout.trim().split(/\s+/);
      const t = Date.parse(started);
      resolve({ startedAt: Number.isFinite(t) ? t : null, ips: ips.filter((ip) => ip !== '') });
    });
  });
}

function probe(url: string): Promise<{ ws: WebSocket; server: string } | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); resolve(null); }, 5000);
    ws.once('message', (raw: Buffer) => {
      clearTimeout(timer);
      const f = JSON.parse(raw.toString('utf8')) as { server?: unknown };
      resolve({ ws, server: String(f.server) });
    });
    ws.once('error', () => { clearTimeout(timer); resolve(null); });
  });
}

export async function dockerScaleFigure(p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  if (!p.docker) {
    return { rows: [{ figure: '5a', metric: 'deploy adding 2 replicas → their first connection (Docker)', fleet: 'not run (quick)', baseline: '–', ratio: null, target: '< 5 s', met: null }], data: { skipped: 'quick profile' } };
  }
  log(`figure 5a: Docker fleet ${PREFIX}: deploy ${START_REPLICAS} replicas, then scale to ${END_REPLICAS}`);
  const fleet = new Fleet({
    prefix: PREFIX,
    balancerPort: await freePort(),
    statsPort: await freePort(),
    env: { WSFLEET_DRAIN_WINDOW_MS: '3000', WSFLEET_WS_MEMORY_MB: '256', WSFLEET_NATS_MEMORY_MB: '256' },
  });
  const stale = await fleet.leftovers();
  if ([stale.containers, stale.networks, stale.volumes].some((l) => l.length > 0)) {
    log(`  removing leftovers of an earlier run under ${PREFIX}`);
    await fleet.down().catch(() => undefined);
    await fleet.forceCleanup();
  }
  fleet.writeSettings({ replicas: START_REPLICAS, lbMode: 'leastconn', natsNodes: 3 });
  const sockets: WebSocket[] = [];
  try {
    const up = await fleet.up();
    log(`  deployed ${START_REPLICAS} replicas in ${up.seconds.toFixed(0)} s`);
    const secret = fleet.authSecret();
    const replicas: NewReplica[] = Array.from({ length: END_REPLICAS - START_REPLICAS }, (_, i) => ({ name: `${PREFIX}-ws-${START_REPLICAS + i + 1}`, containerStartedAt: null, upInBalancerAt: null, firstConnectionAt: null }));
    let stop = false as boolean; // set by the code below, read by the loops
    let probes = 0;
    // First time HAProxy reported each address UP (matched to the new containers by IP afterwards).
    const upSince = new Map<string, number>();
    const watchUp = (async () => {
      while (!stop) {
        const servers = await fleet.backendServers().catch(() => []);
        const now = Date.now();
        for (const s of servers) {
          const ip = s.addr.split(':')[0] ?? '';
          if (s.status === 'UP' && ip !== '' && !upSince.has(ip)) upSince.set(ip, now);
        }
        await sleep(100);
      }
    })();
    const probing = (async () => {
      let n = 0;
      while (!stop && probes < 3000) {
        probes += 1;
        const r = await probe(`${fleet.wsUrl}?token=${mintHs256(secret, `scaleprobe${n++}`)}`);
        if (r !== null) {
          sockets.push(r.ws);
          const target = replicas.find((x) => x.name === r.server);
          if (target !== undefined && target.firstConnectionAt === null) target.firstConnectionAt = Date.now();
        }
        await sleep(50);
      }
    })();
    await sleep(2000);
    const t0 = Date.now();
    const scale = await fleet.scale(END_REPLICAS);
    const scaleDoneAt = Date.now();
    const deadline = Date.now() + 60_000;
    while (replicas.some((r) => r.firstConnectionAt === null) && Date.now() < deadline) await sleep(100);
    stop = true;
    await Promise.all([probing, watchUp]);
    for (const r of replicas) {
      const info = await dockerInspect(r.name);
      r.containerStartedAt = info.startedAt;
      r.upInBalancerAt = info.ips.map((ip) => upSince.get(ip)).find((t) => t !== undefined) ?? null;
    }
    const rel = (t: number | null, from: number | null): number | null => (t === null || from === null ? null : t - from);
    const perReplica = replicas.map((r) => ({
      ...r,
      fromCommandMs: rel(r.firstConnectionAt, t0),
      fromContainerStartMs: rel(r.firstConnectionAt, r.containerStartedAt),
      containerStartFromCommandMs: rel(r.containerStartedAt, t0),
    }));
    const worst = (key: 'fromCommandMs' | 'fromContainerStartMs'): number | null => {
      const vals = perReplica.map((r) => r[key]);
      return vals.some((v) => v === null) ? null : Math.max(...(vals as number[]));
    };
    const fromCommand = worst('fromCommandMs');
    const fromContainer = worst('fromContainerStartMs');
    log(`  scale command ${scale.seconds.toFixed(1)} s; per new replica: ${perReplica.map((r) => `${r.name}: container +${String(r.containerStartFromCommandMs)} ms, UP in HAProxy +${String(rel(r.upInBalancerAt, t0))} ms, first connection +${String(r.fromCommandMs)} ms (${String(r.fromContainerStartMs)} ms after its container started)`).join('; ')}; ${probes} probe connections`);
    const fmt = (v: number | null): string => (v === null ? 'no connection within 60 s' : `${(v / 1000).toFixed(2)} s`);
    return {
      rows: [
        {
          figure: '5a',
          metric: 'scale 2 → 4 (Docker): new replica\'s container start → its first connection (slower of the 2)',
          fleet: fmt(fromContainer),
          baseline: `HAProxy DNS discovery + /readyz checks (rise 2)`,
          ratio: null,
          target: '< 5 s',
          met: fromContainer === null ? false : fromContainer < 5000,
        },
        {
          figure: '5a',
          metric: 'scale 2 → 4 (Docker): `npm run scale -- 4` start → first connection on both new replicas',
          fleet: fmt(fromCommand),
          baseline: `scale command took ${scale.seconds.toFixed(1)} s (cdktf synth + terraform plan/apply)`,
          ratio: null,
          target: '< 5 s',
          met: fromCommand === null ? false : fromCommand < 5000,
          note: 'most of this is the deploy tool itself: cdktf synthesizes the stack and Terraform plans and applies it before Docker starts a container',
        },
      ],
      data: { prefix: PREFIX, deploySec: up.seconds, scaleSec: scale.seconds, scaleDoneAfterMs: scaleDoneAt - t0, probes, replicas: perReplica },
    };
  } finally {
    for (const s of sockets) s.terminate();
    try {
      await fleet.down();
    } catch (err) {
      log(`  down failed (${String(err).split('\n')[0] ?? ''}): removing by prefix`);
      await fleet.forceCleanup();
    }
    fleet.removeFiles();
  }
}
