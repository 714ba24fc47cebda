/**
 * Figure 2: the most concurrent connections the fleet holds through HAProxy on this box, on enough
 * replicas (6 for 100,000) that each stays under one process's 20,000 descriptors.
 *
 * Limits lifted, where they are ours to lift:
 *  - file descriptors: bench/run.sh raises the soft limit to the hard one; the hard limit (20,000 here,
 *    inherited by every process and by dockerd's containers) needs CAP_SYS_RESOURCE, which this
 *    sandbox does not grant. One process therefore holds at most ~20,000 sockets, so:
 *  - the clients are spread over several holder processes (each under 20,000 sockets);
 *  - HAProxy runs as several processes, each with its own frontend port (one proxied connection
 *    costs HAProxy 2 descriptors: maxconn derives to ~9,991 per process);
 *  - each replica's MAX_CONNECTIONS sits just under its descriptor ceiling, so a full replica answers
 *    503 (and HAProxy retries another) instead of failing accept() with EMFILE;
 *  - ephemeral ports: clients connect from several loopback source addresses (127.0.0.2, .3, ...),
 *    each with its own 28k-port range; HAProxy → replica connections differ by destination port.
 * Bounded: a connect-phase deadline, a count, and stop-after-N-consecutive-failures per worker.
 */
import { readMetric } from '../../tests/support/metrics.js';
import { BENCH_SECRET, startBalancers, startBenchFleet } from '../lib/fleet.js';
import { CpuMeter, rssBytes } from '../../tests/support/processes.js';
import { kernelMemory, kernelPerConnection } from '../lib/machine.js';
import { kib } from '../lib/report.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult } from '../lib/report.js';
import { round, sleep } from '../lib/stats.js';
import { startWorker, type WorkerHandle } from '../lib/worker-host.js';
import type { HolderApi, HolderProgress, OpenResult, PingResult } from '../workers/holder-api.js';

type Holder = WorkerHandle<HolderApi, HolderProgress>;

async function frontendLimit(statsUrl: string): Promise<number> {
  const text = await (await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(5000) })).text();
  const [header = '', ...rows] = text.trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const slim = cols.indexOf('slim');
  const row = rows.map((r) => r.split(',')).find((f) => f[0] === 'ws_in' && f[1] === 'FRONTEND');
  return Number(row?.[slim] ?? 0);
}

export async function connectionsFigure(p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  const c = p.connections;
  log(`figure 2: connections held through HAProxy (${c.replicas} replicas): target ${c.target}, ${c.workers} client processes, ${c.balancers} HAProxy processes, ${c.sourceAddresses} source addresses`);
  const fleet = await startBenchFleet(c.replicas, { env: { MAX_CONNECTIONS: String(c.perReplicaMax) }, name: 'benchconn' });
  const lb = await startBalancers(c.balancers, fleet.replicas.map((r) => ({ name: r.id, port: r.port })), 'conn');
  const holders: Holder[] = Array.from({ length: c.workers }, (_, i) => startWorker<HolderApi, HolderProgress>(`conn-holder-${i + 1}`, 'holder', ['--max-old-space-size=2048']));
  const progress = new Map<string, HolderProgress>();
  for (const h of holders) h.onEvent((e) => progress.set(h.name, e));
  const sources = Array.from({ length: c.sourceAddresses }, (_, i) => `127.0.0.${i + 2}`);
  const targets = lb.frontends.flatMap((url) => sources.map((localAddress) => ({ url, localAddress })));
  const meter = new CpuMeter(() => ({ replicas: fleet.replicas.map((r) => r.proc.pid), nats: fleet.natsPids(), haproxy: lb.pids(), clients: holders.map((h) => h.pid) }));
  const rssBefore = fleet.replicas.reduce((sum, r) => sum + rssBytes(r.proc.pid), 0);
  const kernelBefore = kernelMemory();
  meter.start();
  const started = performance.now();
  let peakOpen = 0;
  const ticker = setInterval(() => {
    const open = [...progress.values()].reduce((s, e) => s + e.open, 0);
    const failed = [...progress.values()].reduce((s, e) => s + e.failed, 0);
    peakOpen = Math.max(peakOpen, open);
    log(`  ${open} open, ${failed} failed after ${Math.round((performance.now() - started) / 1000)} s`);
  }, 15_000);
  try {
    const perWorker = Math.ceil(c.target / c.workers);
    const deadline = Date.now() + c.connectPhaseMs;
    const results: OpenResult[] = await Promise.all(holders.map((h, i) => h.request('open', {
      // Each worker starts at a different target so the balancers and sources are used evenly.
      targets: targets.map((_, k) => targets[(k + i * 7) % targets.length] ?? { url: '' }),
      count: perWorker,
      userPrefix: 'held',
      userStart: i * perWorker,
      auth: { kind: 'token', secret: BENCH_SECRET },
      concurrency: c.concurrency,
      connectTimeoutMs: 30_000,
      deadline,
      maxConsecutiveFailures: 300,
    }, c.connectPhaseMs + 120_000)));
    clearInterval(ticker);
    const connectCpu = meter.stop();
    const connectSec = (performance.now() - started) / 1000;
    const opened = results.reduce((s, r) => s + r.opened, 0);
    log(`  connect phase over: ${opened} opened in ${connectSec.toFixed(0)} s; CPU-s ${JSON.stringify(connectCpu.cpuSec)}, machine ${connectCpu.machineBusySec} of ${connectCpu.wallSec} s; holding ${c.holdMs / 1000} s`);
    await sleep(c.holdMs);
    const counts = await Promise.all(holders.map((h) => h.request('count', {})));
    const held = counts.reduce((s, x) => s + x.open, 0);
    const pings: PingResult[] = await Promise.all(holders.map((h) => h.request('ping', { sample: 50, timeoutMs: 10_000 }, 60_000)));
    const perReplica: Record<string, number> = {};
    for (const r of fleet.replicas) perReplica[r.id] = await readMetric(r.metricsUrl, 'wsfleet_connections').catch(() => -1);
    const viaBalancers = await lb.currentByServer().catch(() => ({}));
    const failures: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    const kernelPerConn = kernelPerConnection(kernelBefore, kernelMemory(), held);
    const replicaRssPerConn = (fleet.replicas.reduce((sum, r) => sum + rssBytes(r.proc.pid), 0) - rssBefore) / Math.max(1, held);
    const memory = {
      replicaRssPerConnBytes: Math.round(replicaRssPerConn),
      kernelPerConnBytes: { tcpBuffers: Math.round(kernelPerConn.tcpBuffersBytes), slabUnreclaimable: Math.round(kernelPerConn.slabUnreclaimableBytes), total: Math.round(kernelPerConn.totalBytes) },
      replicasRssMiB: fleet.replicas.map((r) => Math.round(rssBytes(r.proc.pid) / 2 ** 20)),
      haproxyRssMiB: lb.pids().map((pid) => Math.round(rssBytes(pid) / 2 ** 20)),
      holdersRssMiB: holders.map((h) => Math.round(rssBytes(h.pid) / 2 ** 20)),
    };
    const haproxyMaxconn = await frontendLimit(lb.statsUrls[0] ?? '').catch(() => 0);
    const stoppedBy = results.map((r) => r.stoppedBy);
    const full = Object.values(perReplica).every((n) => n >= c.perReplicaMax - 50);
    const noServer = Object.entries(failures).filter(([k]) => k.includes('haproxy_no_server')).reduce((n, [, v]) => n + v, 0);
    const totalFailed = Object.values(failures).reduce((n, v) => n + v, 0);
    const limits: string[] = [];
    if (full) limits.push(`every replica at MAX_CONNECTIONS=${c.perReplicaMax}, set just under the per-process descriptor ceiling (hard RLIMIT_NOFILE 20,000, not raisable here)`);
    if (stoppedBy.includes('deadline')) limits.push(`the connect phase's time limit (${c.connectPhaseMs / 1000} s) at ${Math.round(opened / connectSec)} connects/s: each connect costs the replicas JWT verification and JetStream round trips (presence, cursor, inbox tail)`);
    if (noServer > totalFailed / 2 && noServer > 0) limits.push(`${noServer} upgrades refused by HAProxy with no replica UP: CPU-starved replicas answered /readyz later than the 1 s check timeout, and HAProxy marked them down`);
    if (stoppedBy.includes('failures') && noServer <= totalFailed / 2) limits.push(`connect failures: ${JSON.stringify(failures)}`);
    const why = held >= c.target ? 'reached the target' : limits.join('; ');
    log(`  held ${held} (peak ${Math.max(peakOpen, held)}); per replica ${JSON.stringify(perReplica)}; pings ${pings.reduce((s, x) => s + x.ok, 0)}/${pings.reduce((s, x) => s + x.sampled, 0)}; stopped: ${why}`);
    const data = {
      target: c.target,
      held,
      opened,
      connectSec: round(connectSec, 1),
      connectsPerSec: Math.round(opened / connectSec),
      connectCpu,
      perReplica,
      viaBalancers,
      haproxyProcesses: c.balancers,
      haproxyMaxconnPerProcess: haproxyMaxconn,
      clientProcesses: c.workers,
      sourceAddresses: sources,
      failures,
      stoppedBy,
      why,
      pings,
      memory,
    };
    return {
      rows: [{
        figure: '2',
        metric: `concurrent connections held through HAProxy, ${c.replicas} replicas`,
        fleet: held.toLocaleString('en-US'),
        baseline: `target ${c.target.toLocaleString('en-US')}; ${Math.round(opened / connectSec)} connects/s`,
        ratio: round(held / c.target, 2),
        target: `≥ ${c.target.toLocaleString('en-US')}`,
        met: held >= c.target,
        note: `stopped by: ${why}`,
        ...(held >= c.target ? {} : { limit: why }),
      }, {
        figure: '2',
        metric: 'memory per held connection: replicas RSS, and the kernel share (TCP buffers + unreclaimable slab, machine-wide: client, HAProxy and replica sockets)',
        fleet: `RSS ${kib(replicaRssPerConn)}`,
        baseline: `kernel ${kib(kernelPerConn.totalBytes)} (TCP buffers ${kib(kernelPerConn.tcpBuffersBytes)}, slab ${kib(kernelPerConn.slabUnreclaimableBytes)})`,
        ratio: null,
        target: 'reported',
        met: null,
      }],
      data,
    };
  } finally {
    clearInterval(ticker);
    await Promise.all(holders.map((h) => h.request('close', {}, 120_000).catch(() => undefined)));
    await Promise.all(holders.map((h) => h.stop()));
    await lb.stop();
    await fleet.stop();
  }
}
