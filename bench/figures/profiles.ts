/**
 * Where a replica's CPU goes: each workload runs again on 4 fresh replicas (same NATS cluster)
 * started with the inspector on loopback, and is profiled over exactly its measured window through
 * the DevTools protocol (bench/lib/inspector.ts); the 4 profiles (results/profiles/) are summarized
 * together: self time by function and by package. Not a figure of its own: it is the evidence for
 * what limits figures 2, 3 and 4. Sampling costs a little CPU, so these runs are not the figures.
 */
import { join } from 'node:path';
import { freePort } from '../../tests/support/ports.js';
import { renderProfile, summarizeProfile, type ProfileSummary } from '../lib/cpuprofile.js';
import { BENCH_SECRET, startBundledReplica, type BenchFleet, type BenchReplica } from '../lib/fleet.js';
import { startCpuProfile, type RunningProfile } from '../lib/inspector.js';
import { profilesDir } from '../lib/paths.js';
import { CpuMeter } from '../../tests/support/processes.js';
import type { BenchProfile } from '../lib/profile.js';
import { ms, type FigureResult } from '../lib/report.js';
import { startWorker } from '../lib/worker-host.js';
import type { FanoutApi, FanoutProgress } from '../workers/fanout-api.js';
import type { HolderApi } from '../workers/holder-api.js';
import type { LatencyApi } from '../workers/latency-api.js';
import { authQuery, withQuery } from '../workers/tokens.js';
import { runSystem, wsPublisher } from './fanout.js';

type Workload = 'latency' | 'fanout' | 'connect';

interface Profiler {
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Profiled {
  workload: Workload;
  what: string;
  summary: ProfileSummary;
  files: string[];
}

async function withProfiledReplicas(fleet: BenchFleet, workload: Workload, run: (replicas: BenchReplica[], profiler: Profiler) => Promise<string>): Promise<Profiled> {
  const replicas: BenchReplica[] = [];
  const files = [1, 2, 3, 4].map((i) => join(profilesDir, `${workload}-r${i}.cpuprofile`));
  let what = '';
  try {
    for (let i = 1; i <= 4; i++) {
      replicas.push(await startBundledReplica({ id: `p${workload}${i}`, nats: fleet.nats, env: { DRAIN_WINDOW_MS: '0' }, inspectPort: await freePort() }));
    }
    let running: RunningProfile[] = [];
    const profiler: Profiler = {
      start: async () => { running = await Promise.all(replicas.map((r) => startCpuProfile(r.inspectPort ?? 0))); },
      stop: async () => { await Promise.all(running.map((r, i) => r.stop(files[i] ?? ''))); },
    };
    what = await run(replicas, profiler);
  } finally {
    await Promise.all(replicas.map((r) => r.stop(15_000)));
  }
  return { workload, what, summary: summarizeProfile(files, 15), files };
}

export async function profilesFigure(fleet: BenchFleet, p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  log('profiles: CPU profiles of 4 fresh replicas per workload (latency across replicas, fan-out, connects)');
  const out: Profiled[] = [];
  const rate = Math.min(...p.latency.rates);
  out.push(await withProfiledReplicas(fleet, 'latency', async (replicas, profiler) => {
    const w = startWorker<LatencyApi>('profile-latency', 'latency');
    try {
      const urls = replicas.map((r) => r.wsUrl);
      await w.request('setup', { key: 'cross', spec: { kind: 'wsfleet', pairs: Array.from({ length: 64 }, (_, i) => ({ sender: urls[i % 4] ?? '', receiver: urls[(i + 1) % 4] ?? '' })), secret: BENCH_SECRET, userPrefix: 'profl' } }, 120_000);
      // Prime (presence known everywhere, code warm), as the figure does.
      await w.request('run', { key: 'cross', rate, warmupMs: 0, durationMs: 2000, tailMs: 2000, maxOutstanding: rate }, 60_000);
      await w.request('settle', { timeoutMs: 20_000 }, 30_000);
      await profiler.start();
      const r = await w.request('run', { key: 'cross', rate, warmupMs: 1000, durationMs: 5000, tailMs: 3000, maxOutstanding: rate }, 60_000);
      await profiler.stop();
      await w.request('teardown', {});
      return `direct messages across replicas at ${rate}/s for 6 s; p50 ${ms(r.summary.p50)}, p99 ${ms(r.summary.p99)} while profiled`;
    } finally {
      await w.stop();
    }
  }));
  log('  latency workload profiled');
  out.push(await withProfiledReplicas(fleet, 'fanout', async (replicas, profiler) => {
    const workers = Array.from({ length: p.fanout.workers }, (_, i) => startWorker<FanoutApi, FanoutProgress>(`profile-fanout-${i + 1}`, 'fanout'));
    const r1 = replicas[0];
    if (r1 === undefined) throw new Error('no replica');
    const pubs = await Promise.all(Array.from({ length: p.fanout.publishers }, async (_, i) => wsPublisher(withQuery(r1.wsUrl, await authQuery({ kind: 'token', secret: BENCH_SECRET }, `profpub${i}`)), 'fan')));
    try {
      const meter = new CpuMeter(() => ({ replicas: replicas.map((r) => r.proc.pid) }));
      const run = await runSystem('ws-fleet (profiled)', 'wsfleet', Array.from({ length: p.fanout.members }, (_, i) => replicas[i % 4]?.wsUrl ?? ''), pubs, workers, { ...p, fanout: { ...p.fanout, durationMs: Math.min(p.fanout.durationMs, 5000) } }, meter, () => undefined, { before: () => profiler.start(), after: () => profiler.stop() });
      return `room fan-out to ${p.fanout.members} members; ${run.deliveriesPerSec} deliveries/s while profiled`;
    } finally {
      for (const x of pubs) x.close();
      await Promise.all(workers.map((w) => w.stop()));
    }
  }));
  log('  fan-out workload profiled');
  out.push(await withProfiledReplicas(fleet, 'connect', async (replicas, profiler) => {
    const h = startWorker<HolderApi>('profile-connect', 'holder');
    try {
      const n = Math.min(4000, p.memory.connections);
      await profiler.start();
      const r = await h.request('open', { targets: replicas.map((x) => ({ url: x.wsUrl })), count: n, userPrefix: 'profc', userStart: 0, auth: { kind: 'token', secret: BENCH_SECRET }, concurrency: 48, connectTimeoutMs: 20_000, deadline: Date.now() + 60_000, maxConsecutiveFailures: 200 }, 120_000);
      await profiler.stop();
      await h.request('close', {});
      return `${r.opened} connects (new users, JWT in the query) spread over the 4 replicas; ${Math.round(r.opened / (r.elapsedMs / 1000))} connects/s while profiled`;
    } finally {
      await h.stop();
    }
  }));
  log('  connect workload profiled');
  const detail = ['### Replica CPU profiles (4 replicas summed per workload, over the measured window only)', ''];
  for (const o of out) detail.push(`#### ${o.workload}: ${o.what}`, '', renderProfile(o.summary), '');
  return { rows: [], data: { profiles: out.map((o) => ({ workload: o.workload, what: o.what, summary: o.summary })) }, detail: detail.join('\n') };
}
