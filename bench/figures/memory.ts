/**
 * Figure 1: memory per idle connection. The same N idle clients are held by a bare `ws` server and
 * then by a ws-fleet replica (joined to the bench's NATS cluster); each process runs the memory
 * probe (full GC, then process.memoryUsage()). Per connection = (after N - baseline) / N, where the
 * baseline is taken after a warm-up round of connections was opened and closed.
 */
import { kernelMemory, kernelPerConnection, type KernelMemory } from '../lib/machine.js';
import { BENCH_SECRET, readMemory, startBareServer, startBundledReplica, type BenchFleet, type MemorySample } from '../lib/fleet.js';
import { kib, type FigureResult } from '../lib/report.js';
import type { BenchProfile } from '../lib/profile.js';
import { ratio, round, sleep } from '../lib/stats.js';
import { startWorker } from '../lib/worker-host.js';
import type { HolderApi, HolderProgress, OpenRequest } from '../workers/holder-api.js';
import type { ClientAuth } from '../workers/tokens.js';

interface Measured {
  baseline: MemorySample;
  loaded: MemorySample;
  opened: number;
  failed: number;
  rssPerConn: number;
  heapPerConn: number;
  /** The kernel's share per connection (both ends: the clients are on this box too), machine-wide. */
  kernelPerConn: KernelMemory & { totalBytes: number };
  connectSec: number;
}

async function measure(label: string, wsUrl: string, probePort: number, auth: ClientAuth, p: BenchProfile, log: (s: string) => void): Promise<Measured> {
  const holder = startWorker<HolderApi, HolderProgress>(`mem-holder-${label}`, 'holder');
  try {
    const base: Omit<OpenRequest, 'count' | 'userStart'> = {
      targets: [{ url: wsUrl }],
      userPrefix: `mem${label}`,
      auth,
      concurrency: 32,
      connectTimeoutMs: 15_000,
      deadline: Date.now() + 180_000,
      maxConsecutiveFailures: 200,
    };
    await holder.request('open', { ...base, count: p.memory.warmup, userStart: 1_000_000 });
    await holder.request('close', {});
    await sleep(p.memory.settleMs);
    const baseline = await readMemory(probePort);
    const kernelBefore = kernelMemory();
    const started = performance.now();
    const r = await holder.request('open', { ...base, count: p.memory.connections, userStart: 0 }, 240_000);
    const connectSec = (performance.now() - started) / 1000;
    // Let per-connection follow-ups finish (the replica checks each inbox's tail a second after connect).
    await sleep(p.memory.settleMs);
    const loaded = await readMemory(probePort);
    const kernelAfter = kernelMemory();
    const n = Math.max(1, r.opened);
    log(`  ${label}: ${r.opened} held (${r.failed} failed) in ${connectSec.toFixed(1)} s; rss +${kib(loaded.rss - baseline.rss)} total`);
    await holder.request('close', {});
    return {
      baseline,
      loaded,
      opened: r.opened,
      failed: r.failed,
      rssPerConn: (loaded.rss - baseline.rss) / n,
      heapPerConn: (loaded.heapUsed - baseline.heapUsed) / n,
      kernelPerConn: kernelPerConnection(kernelBefore, kernelAfter, n),
      connectSec: round(connectSec, 1),
    };
  } finally {
    await holder.stop();
  }
}

export async function memoryFigure(fleet: BenchFleet, p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  log(`figure 1: memory per idle connection, N = ${p.memory.connections}`);
  const bare = await startBareServer('bench-bare-mem', { probe: true });
  let bareM: Measured;
  try {
    bareM = await measure('bare', bare.wsUrl, bare.probePort ?? 0, { kind: 'user' }, p, log);
  } finally {
    await bare.stop();
  }
  const replica = await startBundledReplica({ id: 'mem1', nats: fleet.nats, probe: true });
  let fleetM: Measured;
  try {
    fleetM = await measure('replica', replica.wsUrl, replica.probePort ?? 0, { kind: 'token', secret: BENCH_SECRET }, p, log);
  } finally {
    await replica.stop();
  }
  const rssRatio = ratio(fleetM.rssPerConn, bareM.rssPerConn);
  // What a replica's connection holds beyond the bare server's, by kind (the probe's process.memoryUsage()).
  const per = (m: Measured, k: 'heapUsed' | 'external' | 'arrayBuffers'): number => (m.loaded[k] - m.baseline[k]) / Math.max(1, m.opened);
  const breakdown = `replica per connection: RSS ${kib(fleetM.rssPerConn)} = JS heap ${kib(per(fleetM, 'heapUsed'))} + external ${kib(per(fleetM, 'external'))} + the rest (allocator slack, sockets' native buffers, code) ${kib(fleetM.rssPerConn - per(fleetM, 'heapUsed') - per(fleetM, 'external'))}; bare: heap ${kib(per(bareM, 'heapUsed'))}, external ${kib(per(bareM, 'external'))}`;
  const heapRatio = ratio(fleetM.heapPerConn, bareM.heapPerConn);
  return {
    rows: [
      {
        figure: '1',
        metric: `RSS per idle connection (N=${p.memory.connections})`,
        fleet: kib(fleetM.rssPerConn),
        baseline: `${kib(bareM.rssPerConn)} bare ws`,
        ratio: rssRatio,
        target: '≤ 1.5×',
        met: rssRatio === null ? null : rssRatio <= 1.5,
        ...(rssRatio !== null && rssRatio > 1.5 ? { limit: breakdown } : {}),
      },
      {
        figure: '1',
        metric: 'JS heap per idle connection (after GC)',
        fleet: kib(fleetM.heapPerConn),
        baseline: `${kib(bareM.heapPerConn)} bare ws`,
        ratio: heapRatio,
        target: '≤ 1.5×',
        met: heapRatio === null ? null : heapRatio <= 1.5,
        ...(heapRatio !== null && heapRatio > 1.5 ? { limit: `${breakdown} (no heap snapshot is taken: which objects make up the heap is not broken down here)` } : {}),
      },
      {
        figure: '1',
        metric: 'kernel memory per idle connection (TCP buffers + unreclaimable slab, machine-wide, both ends on loopback)',
        fleet: kib(fleetM.kernelPerConn.totalBytes),
        baseline: `${kib(bareM.kernelPerConn.totalBytes)} bare ws`,
        ratio: ratio(fleetM.kernelPerConn.totalBytes, bareM.kernelPerConn.totalBytes),
        target: 'reported beside RSS',
        met: null,
        note: `beside RSS ${kib(fleetM.rssPerConn)} (replica) / ${kib(bareM.rssPerConn)} (bare); machine-wide counters, so the neighbours' sockets move them too`,
      },
    ],
    data: { connections: p.memory.connections, bare: bareM, replica: fleetM, rssRatio, heapRatio },
  };
}
