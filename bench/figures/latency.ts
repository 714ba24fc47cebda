/**
 * Figure 3 (and the latency half of 6): delivery latency, p50 and p99, at fixed rates (open loop).
 *  - ws-fleet same replica: each sender and its receiver on the same replica (spread over r1..r4);
 *  - ws-fleet across replicas: the receiver on the next replica (every message crosses NATS);
 *  - raw NATS: core publish → subscriber on another node of the same cluster (the floor);
 *  - JetStream R3 publish → ack: the floor of the stored path every direct message takes;
 *  - Socket.IO + Redis adapter, same process and across processes (figure 6).
 * Default per-connection rate limits stay on: the pairs are numerous enough to stay under them.
 */
import type { BenchFleet } from '../lib/fleet.js';
import { BENCH_SECRET } from '../lib/fleet.js';
import { startSocketIoPeer } from '../lib/peer.js';
import { CpuMeter, type CpuWindow } from '../../tests/support/processes.js';
import type { BenchProfile } from '../lib/profile.js';
import type { Redis } from '../lib/redis.js';
import { ms, perSec, type FigureResult, type Row } from '../lib/report.js';
import { ratio, summarize, type Summary } from '../lib/stats.js';
import { startWorker, type WorkerHandle } from '../lib/worker-host.js';
import type { LatencyApi, LatencyResult, LatencySetup } from '../workers/latency-api.js';

type Path = 'same' | 'cross' | 'nats' | 'jetstream' | 'sio-same' | 'sio-cross';

interface PathAtRate {
  path: Path;
  rate: number;
  achievedRate: number;
  sent: number;
  measuredSent: number;
  measuredReceived: number;
  latencyMs: Summary;
  errors: Record<string, number>;
  maxScheduleLagMs: number;
  throttled: number;
  cpu: CpuWindow;
}

const LABELS: Record<Path, string> = {
  same: 'ws-fleet, same replica',
  cross: 'ws-fleet, across replicas',
  nats: 'raw NATS pub → sub (other node)',
  jetstream: 'JetStream R3 publish → ack',
  'sio-same': 'Socket.IO+Redis, same process',
  'sio-cross': 'Socket.IO+Redis, across processes',
};

type Worker = WorkerHandle<LatencyApi, never>;

interface PathSpec {
  path: Path;
  /** One setup per worker. */
  specs: LatencySetup[];
}

/** One run on every worker, then a bounded wait until the backlog it left is gone (the next path starts clean). */
async function runOnce(workers: Worker[], key: string, rate: number, warmupMs: number, durationMs: number, tailMs: number): Promise<LatencyResult[]> {
  const perWorker = rate / workers.length;
  const results = await Promise.all(workers.map((w) => w.request('run', { key, rate: perWorker, warmupMs, durationMs, tailMs, maxOutstanding: Math.max(200, Math.round(perWorker)) }, 120_000)));
  await Promise.all(workers.map((w) => w.request('settle', { timeoutMs: 30_000 }, 60_000)));
  return results;
}

/**
 * Opens every path's clients, primes each (presence propagated, code warm), then for each rate runs
 * the paths back to back: on a shared, noisy machine, neighbours in time see the same conditions.
 */
async function measurePaths(paths: PathSpec[], workers: Worker[], p: BenchProfile, meter: CpuMeter, log: (s: string) => void): Promise<PathAtRate[]> {
  const out: PathAtRate[] = [];
  try {
    for (const ps of paths) await Promise.all(workers.map((w, i) => w.request('setup', { key: ps.path, spec: ps.specs[i] as LatencySetup }, 180_000)));
    const primeRate = Math.min(...p.latency.rates);
    for (const ps of paths) await runOnce(workers, ps.path, primeRate, 0, p.latency.primeMs, p.latency.tailMs);
    for (const rate of p.latency.rates) {
      for (const ps of paths) {
        meter.start();
        const results = await runOnce(workers, ps.path, rate, p.latency.warmupMs, p.latency.durationMs, p.latency.tailMs);
        const cpu = meter.stop();
        const errors: Record<string, number> = {};
        for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
        const row: PathAtRate = {
          path: ps.path,
          rate,
          achievedRate: results.reduce((sum, r) => sum + r.achievedRate, 0),
          sent: results.reduce((sum, r) => sum + r.sent, 0),
          measuredSent: results.reduce((sum, r) => sum + r.measuredSent, 0),
          measuredReceived: results.reduce((sum, r) => sum + r.measuredReceived, 0),
          latencyMs: summarize(results.flatMap((r) => r.latenciesMs)),
          errors,
          maxScheduleLagMs: Math.max(...results.map((r) => r.maxScheduleLagMs)),
          throttled: results.reduce((sum, r) => sum + r.throttled, 0),
          cpu,
        };
        log(`  ${LABELS[ps.path]} @${perSec(rate)}: p50 ${ms(row.latencyMs.p50)} p99 ${ms(row.latencyMs.p99)}; achieved ${perSec(row.achievedRate)}; received ${row.measuredReceived}/${row.measuredSent}${row.throttled > 0 ? `; ${row.throttled} sends skipped (backlog cap)` : ''}${Object.keys(errors).length > 0 ? `; errors ${JSON.stringify(errors)}` : ''}`);
        out.push(row);
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.request('teardown', {}, 30_000)));
  }
  return out;
}

function pairsFor(count: number, urls: string[], cross: boolean, offset: number): { sender: string; receiver: string }[] {
  return Array.from({ length: count }, (_, j) => {
    const i = offset + j;
    return { sender: urls[i % urls.length] ?? '', receiver: urls[(i + (cross ? 1 : 0)) % urls.length] ?? '' };
  });
}

export async function latencyFigure(fleet: BenchFleet, redis: Redis | undefined, p: BenchProfile, log: (s: string) => void, what: { fleet: boolean; peer: boolean }): Promise<FigureResult> {
  log(`figure 3${what.peer ? ' + 6' : ''}: delivery latency at ${p.latency.rates.map(perSec).join(', ')}; ${p.latency.pairs} sender/receiver pairs over ${p.latency.workers} generator process(es)`);
  const W = p.latency.workers;
  const perWorker = Math.ceil(p.latency.pairs / W);
  const workers: Worker[] = Array.from({ length: W }, (_, i) => startWorker<LatencyApi>(`latency-${i + 1}`, 'latency'));
  const groups: Record<string, number[]> = {
    replicas: fleet.replicas.map((r) => r.proc.pid),
    nats: fleet.natsPids(),
    generator: workers.map((w) => w.pid),
  };
  const meter = new CpuMeter(() => groups);
  const peer = what.peer ? await startSocketIoPeer(requireRedis(redis), p.socketio.processes) : undefined;
  if (peer !== undefined && redis !== undefined) groups.peer = [...peer.procs.map((x) => x.pid), redis.proc.pid];
  let results: PathAtRate[];
  try {
    const wsUrls = fleet.replicas.map((r) => r.wsUrl);
    const nats = fleet.nats;
    const paths: PathSpec[] = [
      { path: 'nats', specs: workers.map((_, w) => ({ kind: 'nats', pubServer: nats.urls[w % 3] ?? '', subServer: nats.urls[(w + 1) % 3] ?? '', user: nats.user, pass: nats.password, subjects: 64 })) },
      { path: 'jetstream', specs: workers.map((_, w) => ({ kind: 'jetstream', stream: `BENCHLAT${w + 1}`, servers: nats.urls, user: nats.user, pass: nats.password, subjects: 64, replicas: 3 })) },
      ...(['same', 'cross'] as const).map((path): PathSpec => ({
        path,
        specs: workers.map((_, w) => ({ kind: 'wsfleet', pairs: pairsFor(perWorker, wsUrls, path === 'cross', w * perWorker), secret: BENCH_SECRET, userPrefix: `lat${path}w${w + 1}` })),
      })),
      ...(peer === undefined ? [] : (['sio-same', 'sio-cross'] as const).map((path): PathSpec => ({
        path,
        specs: workers.map((_, w) => ({ kind: 'socketio', pairs: pairsFor(perWorker, peer.urls, path === 'sio-cross', w * perWorker), userPrefix: `${path}w${w + 1}` })),
      }))),
    ];
    results = await measurePaths(paths, workers, p, meter, log);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await peer?.stop();
  }
  return { rows: rowsFrom(results, p, what), data: { pairs: p.latency.pairs, workers: W, results }, detail: detailTable(results) };
}

function requireRedis(redis: Redis | undefined): Redis {
  if (redis === undefined) throw new Error('the Socket.IO peer needs Redis');
  return redis;
}

function get(results: PathAtRate[], path: Path, rate: number): PathAtRate | undefined {
  return results.find((r) => r.path === path && r.rate === rate);
}

function rateLabel(rate: number, r: PathAtRate | undefined): string {
  if (r === undefined) return perSec(rate);
  return r.achievedRate < rate * 0.95 ? `${perSec(rate)} (achieved ${perSec(r.achievedRate)})` : perSec(rate);
}

/** A path at a rate counts only when it carried (nearly) the rate; otherwise its row says so and fails. */
function sustained(r: PathAtRate | undefined, rate: number): boolean {
  return r !== undefined && r.achievedRate >= rate * 0.9;
}

function unsustainedNote(rate: number, paths: [string, PathAtRate | undefined][]): string | undefined {
  const short = paths.filter(([, r]) => !sustained(r, rate)).map(([name, r]) => `${name} achieved ${r === undefined ? 'nothing' : perSec(r.achievedRate)}`);
  return short.length === 0 ? undefined : `${perSec(rate)} not sustained on this machine (${short.join(', ')}): latencies are queueing under overload, not the path's`;
}

function rowsFrom(results: PathAtRate[], p: BenchProfile, what: { fleet: boolean; peer: boolean }): Row[] {
  const rows: Row[] = [];
  for (const rate of p.latency.rates) {
    const same = get(results, 'same', rate);
    const cross = get(results, 'cross', rate);
    const nats = get(results, 'nats', rate);
    if (what.fleet && same !== undefined && cross !== undefined && nats !== undefined) {
      const r50 = ratio(cross.latencyMs.p50, same.latencyMs.p50);
      const r99 = ratio(cross.latencyMs.p99, nats.latencyMs.p99);
      const note50 = unsustainedNote(rate, [['across', cross], ['same replica', same]]);
      const note99 = unsustainedNote(rate, [['across', cross], ['raw NATS', nats]]);
      rows.push({
        figure: '3',
        metric: `p50 @${rateLabel(rate, cross)}: across vs same replica`,
        fleet: ms(cross.latencyMs.p50),
        baseline: `${ms(same.latencyMs.p50)} same replica`,
        ratio: r50,
        target: '≤ 1.5×',
        met: note50 !== undefined ? false : r50 === null ? null : r50 <= 1.5,
        ...(note50 === undefined ? {} : { note: note50 }),
      });
      rows.push({
        figure: '3',
        metric: `p99 @${rateLabel(rate, cross)}: across replicas vs raw NATS`,
        fleet: ms(cross.latencyMs.p99),
        baseline: `${ms(nats.latencyMs.p99)} raw NATS`,
        ratio: r99,
        target: '≤ 3×',
        met: note99 !== undefined ? false : r99 === null ? null : r99 <= 3,
        ...(note99 === undefined || note99 === note50 ? {} : { note: note99 }),
      });
    }
    const sio = get(results, 'sio-cross', rate);
    if (what.peer && cross !== undefined && sio !== undefined) {
      const note = unsustainedNote(rate, [['ws-fleet', cross], ['Socket.IO', sio]]);
      for (const q of ['p50', 'p99'] as const) {
        const r = ratio(cross.latencyMs[q], sio.latencyMs[q]);
        rows.push({
          figure: '6',
          metric: `${q} @${rateLabel(rate, cross)}: ws-fleet vs Socket.IO+Redis, across processes`,
          fleet: ms(cross.latencyMs[q]),
          baseline: `${ms(sio.latencyMs[q])} Socket.IO${sio.achievedRate < rate * 0.95 ? ` (achieved ${perSec(sio.achievedRate)})` : ''}`,
          ratio: r,
          target: '< 1× (ahead)',
          // Ahead also when ws-fleet sustained the rate and the peer did not.
          met: sustained(cross, rate) && !sustained(sio, rate) ? true : note !== undefined ? false : r === null ? null : r < 1,
          ...(note === undefined || q === 'p99' ? {} : { note }),
        });
      }
    }
  }
  return rows;
}

function detailTable(results: PathAtRate[]): string {
  const lines = [
    '### Latency detail (figure 3 and 6)',
    '',
    '| path | rate | achieved | p50 | p90 | p99 | max | received | CPU-s used by group | run-queue wait s by group | machine busy CPU-s / wall s | CPU pressure |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const fmt = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${LABELS[r.path]} | ${perSec(r.rate)} | ${perSec(r.achievedRate)} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p90)} | ${ms(r.latencyMs.p99)} | ${ms(r.latencyMs.max)} | ${r.measuredReceived}/${r.measuredSent} | ${fmt(r.cpu.cpuSec)} | ${fmt(r.cpu.runQueueWaitSec)} | ${r.cpu.machineBusySec} / ${r.cpu.wallSec} | ${r.cpu.cpuPressurePct}% |`);
  }
  return lines.join('\n');
}
