/**
 * Figure 3 (and the latency half of 6): delivery latency, p50 and p99, at fixed rates (open loop),
 * every path run `runs` times per rate, back to back (neighbours in time see the same machine):
 *  - ws-fleet same replica / across replicas (4 replicas, NATS R3: the durable class);
 *  - ws-fleet volatile class (DIRECT_DELIVERY=volatile: 2 more replicas on the same NATS), across replicas;
 *  - ws-fleet small footprint: 2 replicas + 1 NATS node (history R1), across replicas;
 *  - raw NATS core pub → sub (the floor) and JetStream R3 publish → ack (the stored path's floor);
 *  - Socket.IO + Redis adapter (2 processes + 1 Redis: also the small footprint's peer), same and across;
 *  - Socket.IO + Redis Streams adapter with connection state recovery, across processes;
 *  - Centrifugo (2 nodes, Redis engine, history + recovery on personal channels), across nodes.
 * Each ratio is the median over the runs of the per-run ratio, with its spread; a path at a rate is
 * sustained only when it carried the rate with p99 under the bound. Then a search for each path's
 * maximum sustained rate, up to `search.maxRate`. Default per-connection rate limits stay on.
 */
import os from 'node:os';
import { renderProfile } from '../lib/cpuprofile.js';
import type { BenchFleet, BenchReplica } from '../lib/fleet.js';
import { BENCH_SECRET, startBenchFleet, startBundledReplica } from '../lib/fleet.js';
import { startCentrifugoPeer, type CentrifugoPeer } from '../lib/centrifugo.js';
import { startSocketIoPeer, type SocketIoPeer } from '../lib/peer.js';
import { CpuMeter, type CpuWindow } from '../../tests/support/processes.js';
import { freePort } from '../../tests/support/ports.js';
import type { BenchProfile } from '../lib/profile.js';
import type { Redis } from '../lib/redis.js';
import { ms, perSec, type FigureResult, type Row } from '../lib/report.js';
import { median, ratio, round, summarize, type Summary } from '../lib/stats.js';
import { startWindowProfile, type ProfiledWindow } from '../lib/window-profile.js';
import { startWorker, type WorkerHandle } from '../lib/worker-host.js';
import type { LatencyApi, LatencyResult, LatencySetup } from '../workers/latency-api.js';

export type Path = 'same' | 'cross' | 'volatile-cross' | 'small-cross' | 'nats' | 'jetstream' | 'sio-same' | 'sio-cross' | 'sios-cross' | 'cf-cross';

export const LABELS: Record<Path, string> = {
  same: 'ws-fleet, same replica',
  cross: 'ws-fleet, across replicas (4 + NATS R3)',
  'volatile-cross': 'ws-fleet volatile, across replicas (2 more on the same NATS)',
  'small-cross': 'ws-fleet small, across replicas (2 + 1 NATS, R1)',
  nats: 'raw NATS pub → sub (other node)',
  jetstream: 'JetStream R3 publish → ack',
  'sio-same': 'Socket.IO+Redis, same process',
  'sio-cross': 'Socket.IO+Redis, across processes',
  'sios-cross': 'Socket.IO+Redis Streams+recovery, across processes',
  'cf-cross': 'Centrifugo+Redis (history), across nodes',
};

/** Which processes serve a path: their CPU is the path's server CPU. */
type System = 'ws-fleet' | 'ws-fleet-volatile' | 'ws-fleet-small' | 'socketio' | 'socketio-streams' | 'centrifugo';
const SYSTEM_OF: Record<Path, System> = {
  same: 'ws-fleet', cross: 'ws-fleet', 'volatile-cross': 'ws-fleet-volatile', nats: 'ws-fleet', jetstream: 'ws-fleet', 'small-cross': 'ws-fleet-small',
  'sio-same': 'socketio', 'sio-cross': 'socketio', 'sios-cross': 'socketio-streams', 'cf-cross': 'centrifugo',
};

export interface PathRun {
  path: Path;
  rate: number;
  /** 1..runs at the fixed rates; 0 for a probe of the rate search. */
  run: number;
  achievedRate: number;
  sent: number;
  measuredSent: number;
  measuredReceived: number;
  latencyMs: Summary;
  errors: Record<string, number>;
  maxScheduleLagMs: number;
  throttled: number;
  cpu: CpuWindow;
  /** CPU-ms of the path's server processes per message carried. */
  serverCpuMsPerMessage: number | null;
  sustained: boolean;
}

export interface SearchResult {
  path: Path;
  /** Highest probed rate that was sustained (0: not even the lowest). */
  maxSustained: number;
  /** What stopped it at the next probe. */
  stoppedBy: string;
  probes: { rate: number; achievedRate: number; p50: number; p99: number; sustained: boolean; scheduleLagMs: number }[];
}

type Worker = WorkerHandle<LatencyApi, never>;

interface PathSpec {
  path: Path;
  /** One setup per worker. */
  specs: LatencySetup[];
}

/** A path at a rate is sustained when it carried (nearly) the rate, with p99 under the bound and the generator on time. */
export function sustained(r: Pick<PathRun, 'achievedRate' | 'latencyMs'>, rate: number, p99BoundMs: number): boolean {
  return r.achievedRate >= rate * 0.9 && Number.isFinite(r.latencyMs.p99) && r.latencyMs.p99 <= p99BoundMs;
}

/** One run on every worker, then a bounded wait until the backlog it left is gone (the next path starts clean). */
async function runOnce(workers: Worker[], key: string, rate: number, warmupMs: number, durationMs: number, tailMs: number): Promise<LatencyResult[]> {
  const perWorker = rate / workers.length;
  const results = await Promise.all(workers.map((w) => w.request('run', { key, rate: perWorker, warmupMs, durationMs, tailMs, maxOutstanding: Math.max(200, Math.round(perWorker)) }, 180_000)));
  await Promise.all(workers.map((w) => w.request('settle', { timeoutMs: 30_000 }, 60_000)));
  return results;
}

function combine(ps: Path, rate: number, run: number, results: LatencyResult[], cpu: CpuWindow, p99BoundMs: number): PathRun {
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const sent = results.reduce((sum, r) => sum + r.sent, 0);
  const throttled = results.reduce((sum, r) => sum + r.throttled, 0);
  const carried = sent - throttled;
  const serverCpu = cpu.cpuSec[SYSTEM_OF[ps]];
  const row = {
    path: ps,
    rate,
    run,
    achievedRate: results.reduce((sum, r) => sum + r.achievedRate, 0),
    sent,
    measuredSent: results.reduce((sum, r) => sum + r.measuredSent, 0),
    measuredReceived: results.reduce((sum, r) => sum + r.measuredReceived, 0),
    latencyMs: summarize(results.flatMap((r) => r.latenciesMs)),
    errors,
    maxScheduleLagMs: Math.max(...results.map((r) => r.maxScheduleLagMs)),
    throttled,
    cpu,
    serverCpuMsPerMessage: serverCpu === undefined || carried <= 0 ? null : round((serverCpu * 1000) / carried, 4),
  };
  return { ...row, sustained: sustained(row, rate, p99BoundMs) };
}

interface Measured {
  runs: PathRun[];
  search: SearchResult[];
  profile?: ProfiledWindow;
  /** The volatile replicas over the last run of `volatile-cross` at the highest rate (where it saturates first). */
  volatileProfile?: ProfiledWindow;
}

/**
 * Opens every path's clients, primes each (presence propagated, code warm), then for each rate and
 * run measures the paths back to back; the last run of `cross` at the first rate is profiled on the
 * measured replicas. Then the rate search.
 */
async function measurePaths(paths: PathSpec[], workers: Worker[], fleet: BenchFleet, p: BenchProfile, meter: CpuMeter, log: (s: string) => void, volatile: BenchReplica[] = []): Promise<Measured> {
  const L = p.latency;
  const runs: PathRun[] = [];
  const search: SearchResult[] = [];
  let profile: ProfiledWindow | undefined;
  let volatileProfile: ProfiledWindow | undefined;
  try {
    for (const ps of paths) await Promise.all(workers.map((w, i) => w.request('setup', { key: ps.path, spec: ps.specs[i] as LatencySetup }, 180_000)));
    const primeRate = Math.min(...L.rates);
    for (const ps of paths) await runOnce(workers, ps.path, primeRate, 0, L.primeMs, L.tailMs);
    for (const rate of L.rates) {
      for (let run = 1; run <= L.runs; run++) {
        for (const ps of paths) {
          const profiling = p.cpuProfiles && ps.path === 'cross' && rate === L.rates[0] && run === L.runs ? await startWindowProfile(fleet.replicas, 'latency') : undefined;
          const profilingVolatile = p.cpuProfiles && ps.path === 'volatile-cross' && rate === L.rates.at(-1) && run === L.runs ? await startWindowProfile(volatile, 'latency-volatile') : undefined;
          meter.start();
          const results = await runOnce(workers, ps.path, rate, L.warmupMs, L.durationMs, L.tailMs);
          const row = combine(ps.path, rate, run, results, meter.stop(), L.p99BoundMs);
          if (profilingVolatile !== undefined) volatileProfile = await profilingVolatile.stop(`${LABELS['volatile-cross']} at ${perSec(rate)}, run ${run} of ${L.runs}: p50 ${ms(row.latencyMs.p50)}, p99 ${ms(row.latencyMs.p99)} while profiled`);
          if (profiling !== undefined) profile = await profiling.stop(`${LABELS.cross} at ${perSec(rate)}, run ${run} of ${L.runs}: p50 ${ms(row.latencyMs.p50)}, p99 ${ms(row.latencyMs.p99)} while profiled`);
          log(`  ${LABELS[ps.path]} @${perSec(rate)} #${run}: p50 ${ms(row.latencyMs.p50)} p99 ${ms(row.latencyMs.p99)}; achieved ${perSec(row.achievedRate)}${row.sustained ? '' : ' (not sustained)'}; received ${row.measuredReceived}/${row.measuredSent}${row.throttled > 0 ? `; ${row.throttled} sends skipped (backlog cap)` : ''}${Object.keys(row.errors).length > 0 ? `; errors ${JSON.stringify(row.errors)}` : ''}`);
          runs.push(row);
        }
      }
    }
    if (p.search.maxRate > 0) {
      log(`  maximum sustained rate per path (p99 ≤ ${L.p99BoundMs} ms, ≥ 90% carried), search up to ${perSec(p.search.maxRate)}`);
      for (const ps of paths) search.push(await searchMaxRate(ps.path, workers, p, meter, log));
    }
  } finally {
    await Promise.all(workers.map((w) => w.request('teardown', {}, 30_000)));
  }
  return { runs, search, ...(profile === undefined ? {} : { profile }), ...(volatileProfile === undefined ? {} : { volatileProfile }) };
}

/**
 * Doubling from the lowest fixed rate until a probe fails or maxRate is reached, then bisection
 * between the last sustained and the first failed probe (`search.steps` probes in all, at most).
 */
async function searchMaxRate(path: Path, workers: Worker[], p: BenchProfile, meter: CpuMeter, log: (s: string) => void): Promise<SearchResult> {
  const L = p.latency;
  const probes: SearchResult['probes'] = [];
  let lo = 0;
  let hi = 0;
  let stoppedBy = '';
  const probe = async (rate: number): Promise<boolean> => {
    meter.start();
    const results = await runOnce(workers, path, rate, L.warmupMs, p.search.durationMs, L.tailMs);
    const r = combine(path, rate, 0, results, meter.stop(), L.p99BoundMs);
    probes.push({ rate, achievedRate: r.achievedRate, p50: r.latencyMs.p50, p99: r.latencyMs.p99, sustained: r.sustained, scheduleLagMs: r.maxScheduleLagMs });
    if (!r.sustained) {
      const generatorLate = r.maxScheduleLagMs > 50;
      stoppedBy = `at ${perSec(rate)}: ${r.achievedRate < rate * 0.9 ? `carried ${perSec(r.achievedRate)}` : `p99 ${ms(r.latencyMs.p99)} > ${L.p99BoundMs} ms`}${generatorLate ? `; the generator ran ${r.maxScheduleLagMs} ms late` : ''}; machine ${r.cpu.machineBusySec} CPU-s busy of ${r.cpu.wallSec} s wall, CPU pressure ${r.cpu.cpuPressurePct}%`;
    }
    return r.sustained;
  };
  let rate = Math.min(...L.rates);
  let n = 0;
  while (n < p.search.steps) {
    n += 1;
    if (await probe(rate)) {
      lo = rate;
      if (rate >= p.search.maxRate) break;
      rate = Math.min(p.search.maxRate, rate * 2);
    } else {
      hi = rate;
      break;
    }
  }
  while (hi > 0 && n < p.search.steps && hi - lo > Math.max(250, hi * 0.1)) {
    n += 1;
    const mid = Math.round((lo + hi) / 2 / 50) * 50;
    if (await probe(mid)) lo = mid;
    else hi = mid;
  }
  if (stoppedBy === '') stoppedBy = lo >= p.search.maxRate ? `reached the search's ceiling ${perSec(p.search.maxRate)}` : `the search's ${p.search.steps} probes ran out (next: ${perSec(Math.min(p.search.maxRate, lo * 2))})`;
  log(`  ${LABELS[path]}: max sustained ${lo === 0 ? 'none' : perSec(lo)} (${stoppedBy})`);
  return { path, maxSustained: lo, stoppedBy, probes };
}

function pairsFor(count: number, urls: string[], cross: boolean, offset: number): { sender: string; receiver: string }[] {
  return Array.from({ length: count }, (_, j) => {
    const i = offset + j;
    return { sender: urls[i % urls.length] ?? '', receiver: urls[(i + (cross ? 1 : 0)) % urls.length] ?? '' };
  });
}

export interface LatencyData {
  pairs: number;
  workers: number;
  runs: PathRun[];
  search: SearchResult[];
}

export async function latencyFigure(fleet: BenchFleet, redis: Redis | undefined, p: BenchProfile, log: (s: string) => void, what: { fleet: boolean; peer: boolean }): Promise<FigureResult> {
  const L = p.latency;
  log(`figure 3${what.peer ? ' + 6' : ''}: delivery latency at ${L.rates.map(perSec).join(', ')}, ${L.runs} run(s) each; ${L.pairs} sender/receiver pairs over ${L.workers} generator process(es)`);
  const W = L.workers;
  const perWorker = Math.ceil(L.pairs / W);
  const workers: Worker[] = Array.from({ length: W }, (_, i) => startWorker<LatencyApi>(`latency-${i + 1}`, 'latency'));
  const groups: Record<string, () => number[]> = {
    'ws-fleet': () => [...fleet.replicas.map((r) => r.proc.pid), ...fleet.natsPids()],
    generator: () => workers.map((w) => w.pid),
  };
  const meter = new CpuMeter(() => Object.fromEntries(Object.entries(groups).map(([k, f]) => [k, f()])), 500);
  let sio: SocketIoPeer | undefined;
  let sios: SocketIoPeer | undefined;
  let cf: CentrifugoPeer | undefined;
  let small: BenchFleet | undefined;
  const volatile: BenchReplica[] = [];
  let measured: Measured;
  try {
    if (what.peer) {
      const r = requireRedis(redis);
      sio = await startSocketIoPeer(r, p.socketio.processes, 'pubsub');
      sios = await startSocketIoPeer(r, p.socketio.processes, 'streams');
      cf = await startCentrifugoPeer(r, p.centrifugo.nodes, BENCH_SECRET);
      log(`  small footprint: ${p.small.replicas} replicas + 1 NATS node`);
      small = await startBenchFleet(p.small.replicas, { name: 'benchsmall', natsNodes: 1 });
      const [a, b, c, s] = [sio, sios, cf, small];
      groups.socketio = () => [...a.procs.map((x) => x.pid), r.proc.pid];
      groups['socketio-streams'] = () => [...b.procs.map((x) => x.pid), r.proc.pid];
      groups.centrifugo = () => [...c.procs.map((x) => x.pid), r.proc.pid];
      groups['ws-fleet-small'] = () => [...s.replicas.map((x) => x.proc.pid), ...s.natsPids()];
      // The volatile class (DIRECT_DELIVERY=volatile): two more replicas on the same NATS cluster, so the
      // path differs from `cross` only in the class (the cluster's CPU is counted in both groups).
      log('  volatile class: 2 replicas with DIRECT_DELIVERY=volatile on the same NATS cluster');
      for (const id of ['v1', 'v2']) volatile.push(await startBundledReplica({ id, nats: fleet.nats, env: { DIRECT_DELIVERY: 'volatile' }, ...(p.cpuProfiles ? { inspectPort: await freePort() } : {}) }));
      groups['ws-fleet-volatile'] = () => [...volatile.map((x) => x.proc.pid), ...fleet.natsPids()];
    }
    const wsUrls = fleet.replicas.map((r) => r.wsUrl);
    const nats = fleet.nats;
    const wsfleet = (path: Path, urls: string[], cross: boolean): PathSpec => ({
      path,
      specs: workers.map((_, w) => ({ kind: 'wsfleet', pairs: pairsFor(perWorker, urls, cross, w * perWorker), secret: BENCH_SECRET, userPrefix: `lat${path}w${w + 1}` })),
    });
    const socketio = (path: Path, peer: SocketIoPeer, cross: boolean): PathSpec => ({
      path,
      specs: workers.map((_, w) => ({ kind: 'socketio', pairs: pairsFor(perWorker, peer.urls, cross, w * perWorker), userPrefix: `${path}w${w + 1}` })),
    });
    const paths: PathSpec[] = [
      { path: 'nats', specs: workers.map((_, w) => ({ kind: 'nats', pubServer: nats.urls[w % 3] ?? '', subServer: nats.urls[(w + 1) % 3] ?? '', user: nats.user, pass: nats.password, subjects: 64 })) },
      { path: 'jetstream', specs: workers.map((_, w) => ({ kind: 'jetstream', stream: `BENCHLAT${w + 1}`, servers: nats.urls, user: nats.user, pass: nats.password, subjects: 64, replicas: 3 })) },
      wsfleet('same', wsUrls, false),
      wsfleet('cross', wsUrls, true),
      ...(volatile.length === 0 ? [] : [wsfleet('volatile-cross', volatile.map((r) => r.wsUrl), true)]),
      ...(small === undefined ? [] : [wsfleet('small-cross', small.replicas.map((r) => r.wsUrl), true)]),
      ...(sio === undefined ? [] : [socketio('sio-same', sio, false), socketio('sio-cross', sio, true)]),
      ...(sios === undefined ? [] : [socketio('sios-cross', sios, true)]),
      ...(cf === undefined
        ? []
        : [{
            path: 'cf-cross' as const,
            specs: workers.map((_, w): LatencySetup => ({ kind: 'centrifugo', pairs: pairsFor(perWorker, cf?.nodeUrls ?? [], true, w * perWorker), secret: BENCH_SECRET, userPrefix: `latcfw${w + 1}` })),
          }]),
    ];
    measured = await measurePaths(paths, workers, fleet, p, meter, log, volatile);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await sio?.stop();
    await sios?.stop();
    await cf?.stop();
    await small?.stop();
    await Promise.all(volatile.map((r) => r.stop(5000)));
  }
  const data: LatencyData = { pairs: L.pairs, workers: W, runs: measured.runs, search: measured.search };
  const profileDetail = [
    ...(measured.profile === undefined ? [] : [`### Replica CPU profiles: latency\n\n#### ${measured.profile.what}\n\n${renderProfile(measured.profile.summary)}`]),
    ...(measured.volatileProfile === undefined ? [] : [`### Replica CPU profiles: latency, volatile class\n\n#### ${measured.volatileProfile.what}\n\n${renderProfile(measured.volatileProfile.summary)}`]),
  ];
  return {
    rows: rowsFrom(measured, p, what),
    data: { ...data, ...(measured.profile === undefined ? {} : { profile: { what: measured.profile.what, summary: measured.profile.summary, files: measured.profile.files } }) },
    detail: [detailTable(measured.runs), searchTable(measured.search), ...profileDetail].join('\n\n'),
  };
}

function requireRedis(redis: Redis | undefined): Redis {
  if (redis === undefined) throw new Error('the Socket.IO and Centrifugo peers need Redis');
  return redis;
}

type Q = 'p50' | 'p99';

/** The runs of a path at a rate (fixed-rate runs only), in run order. */
function runsOf(all: PathRun[], path: Path, rate: number): PathRun[] {
  return all.filter((r) => r.path === path && r.rate === rate && r.run > 0).sort((a, b) => a.run - b.run);
}

interface Compared {
  ours: number;
  theirs: number;
  ratio: number | null;
  spread: string | undefined;
  oursSustained: boolean;
  theirsSustained: boolean;
  /** Our runs that did not sustain the rate. */
  oursShort: PathRun[];
  oursRuns: number;
  /** The run whose ratio is the median (for the limit's figures). */
  medianRun: PathRun | undefined;
}

/** Median over the runs of ours/theirs (paired by run number), with the min–max spread. */
function compare(all: PathRun[], ours: Path, theirs: Path, rate: number, q: Q | 'cpu'): Compared | undefined {
  const a = runsOf(all, ours, rate);
  const b = runsOf(all, theirs, rate);
  if (a.length === 0 || b.length === 0) return undefined;
  const value = (r: PathRun): number | null => (q === 'cpu' ? r.serverCpuMsPerMessage : r.latencyMs[q]);
  const pairs = a.map((x) => ({ x, y: b.find((y) => y.run === x.run) })).filter((pr): pr is { x: PathRun; y: PathRun } => pr.y !== undefined);
  const ratios = pairs.map((pr) => ({ pr, r: ratio(value(pr.x), value(pr.y)) })).filter((v): v is { pr: { x: PathRun; y: PathRun }; r: number } => v.r !== null).sort((u, v) => u.r - v.r);
  const mid = ratios[Math.floor((ratios.length - 1) / 2)];
  const majority = (rs: PathRun[]): boolean => rs.filter((r) => r.sustained).length * 2 > rs.length;
  return {
    ours: median(a.map((r) => value(r) ?? Number.NaN)),
    theirs: median(b.map((r) => value(r) ?? Number.NaN)),
    ratio: mid === undefined ? null : mid.r,
    spread: ratios.length < 2 ? undefined : `${ratios[0]?.r ?? ''}–${ratios[ratios.length - 1]?.r ?? ''}× over ${ratios.length} runs`,
    oursSustained: majority(a),
    theirsSustained: majority(b),
    oursShort: a.filter((r) => !r.sustained),
    oursRuns: a.length,
    medianRun: mid?.pr.x,
  };
}

/** What limits a missed latency/CPU target, from the run whose ratio is the median. */
function limitOf(c: Compared, rate: number, p: BenchProfile, profiled: boolean): string {
  const r = c.medianRun;
  if (r === undefined) return 'no paired runs';
  const cores = os.availableParallelism();
  const parts: string[] = [];
  if (c.oursShort.length > 0) parts.push(`${perSec(rate)} not sustained in ${c.oursShort.length} of ${c.oursRuns} runs (${c.oursShort.map((x) => `run ${x.run}: achieved ${perSec(x.achievedRate)}, p99 ${ms(x.latencyMs.p99)}`).join('; ')}; bound ${p.latency.p99BoundMs} ms)`);
  const busy = r.cpu.machineBusySec / Math.max(0.001, r.cpu.wallSec * cores);
  const server = r.cpu.cpuSec[SYSTEM_OF[r.path]] ?? 0;
  parts.push(`machine ${Math.round(busy * 100)}% busy (${r.cpu.machineBusySec} of ${round(r.cpu.wallSec * cores, 1)} CPU-s), ws-fleet ${server} CPU-s = ${r.serverCpuMsPerMessage ?? '?'} CPU-ms/message, CPU pressure ${r.cpu.cpuPressurePct}%`);
  if (busy > 0.9) parts.push('the CPU is saturated: the direct path costs more CPU per message than the peer');
  else parts.push('the CPU is not saturated: the per-message round trips of the direct path (replica → NATS → JetStream ack → replica) are the cost');
  if (profiled) parts.push('profile: "Replica CPU profiles", latency');
  return parts.join('; ');
}

function rowsFrom(m: Measured, p: BenchProfile, what: { fleet: boolean; peer: boolean }): Row[] {
  const rows: Row[] = [];
  const all = m.runs;
  const profiled = m.profile !== undefined;
  const ratioRow = (figure: string, metric: string, ours: Path, theirs: Path, rate: number, q: Q | 'cpu', target: string, ok: (r: number) => boolean, theirName: string): void => {
    const c = compare(all, ours, theirs, rate, q);
    if (c === undefined) return;
    const fmt = (v: number): string => (q === 'cpu' ? `${round(v, 3)} CPU-ms/msg` : ms(v));
    // Ahead also when ws-fleet sustained the rate and the peer did not.
    const met = target === 'informational' ? null : c.oursSustained && !c.theirsSustained ? true : !c.oursSustained ? false : c.ratio === null ? null : ok(c.ratio);
    rows.push({
      figure,
      metric,
      fleet: fmt(c.ours),
      baseline: `${fmt(c.theirs)} ${theirName}${c.theirsSustained ? '' : ' (not sustained)'}`,
      ratio: c.ratio,
      ...(c.spread === undefined ? {} : { spread: c.spread }),
      target,
      met,
      ...(met === false ? { limit: limitOf(c, rate, p, profiled) } : {}),
    });
  };
  for (const rate of p.latency.rates) {
    const at = `@${perSec(rate)}`;
    if (what.fleet) {
      ratioRow('3', `p50 ${at}: across vs same replica`, 'cross', 'same', rate, 'p50', '≤ 1.5×', (r) => r <= 1.5, 'same replica');
      ratioRow('3', `p99 ${at}: across replicas vs raw NATS`, 'cross', 'nats', rate, 'p99', '≤ 3×', (r) => r <= 3, 'raw NATS');
    }
    if (!what.peer) continue;
    for (const q of ['p50', 'p99'] as const) {
      // The issue's targets for the durable path (R3) against Socket.IO + Redis adapter.
      const t = rate <= 1000 ? (q === 'p50' ? 2 : undefined) : rate <= 5000 ? 3 : undefined;
      ratioRow('6', `${q} ${at}: durable R3 across replicas vs Socket.IO+Redis adapter`, 'cross', 'sio-cross', rate, q, t === undefined ? 'informational' : `≤ ${t}×`, (r) => (t === undefined ? true : r <= t), 'Socket.IO');
      if (rate <= 5000) ratioRow('6', `${q} ${at}: durable vs Socket.IO+Redis Streams with connection state recovery`, 'cross', 'sios-cross', rate, q, '< 1× (ahead)', (r) => r < 1, 'Socket.IO CSR');
      ratioRow('6', `${q} ${at}: durable vs Centrifugo with history, across nodes`, 'cross', 'cf-cross', rate, q, '≤ 1.5×', (r) => r <= 1.5, 'Centrifugo');
      const small = rate <= 1000 && q === 'p50' ? 1.5 : undefined;
      ratioRow('6', `${q} ${at}: small footprint (2 replicas + 1 NATS, R1) vs 2 Socket.IO + 1 Redis`, 'small-cross', 'sio-cross', rate, q, small === undefined ? 'informational' : `≤ ${small}×`, (r) => (small === undefined ? true : r <= small), 'Socket.IO');
    }
    if (rate <= 5000) {
      for (const q of ['p50', 'p99'] as const) ratioRow('6', `${q} ${at}: volatile across replicas vs Socket.IO+Redis adapter`, 'volatile-cross', 'sio-cross', rate, q, '< 1× (ahead)', (r) => r < 1, 'Socket.IO');
    }
    if (rate <= 5000) ratioRow('6', `server CPU per delivered durable message ${at} (replicas + NATS vs Socket.IO + Redis)`, 'cross', 'sio-cross', rate, 'cpu', '≤ 2×', (r) => r <= 2, 'Socket.IO');
  }
  const cross = m.search.find((s) => s.path === 'cross');
  if (cross !== undefined && what.fleet) {
    const met = cross.maxSustained >= 10_000;
    rows.push({ figure: '3', metric: `maximum sustained cross-replica rate, durable R3 (p99 ≤ ${p.latency.p99BoundMs} ms, generator included)`, fleet: cross.maxSustained === 0 ? 'none' : perSec(cross.maxSustained), baseline: `search up to ${perSec(p.search.maxRate)}`, ratio: round(cross.maxSustained / 10_000, 2), target: '≥ 10k/s', met, ...(met ? {} : { limit: `${cross.stoppedBy}${profiled ? '; profile: "Replica CPU profiles", latency' : ''}` }) });
  }
  for (const s of m.search) {
    if (s.path === 'cross' && what.fleet) continue;
    rows.push({ figure: 'rate', metric: `maximum sustained rate: ${LABELS[s.path]}`, fleet: s.maxSustained === 0 ? 'none' : perSec(s.maxSustained), baseline: `search up to ${perSec(p.search.maxRate)}`, ratio: null, target: 'reported', met: null, note: `stopped ${s.stoppedBy}` });
  }
  return rows;
}

function detailTable(results: PathRun[]): string {
  const lines = [
    '### Latency detail (figure 3 and 6)',
    '',
    '| path | rate | run | achieved | sustained | p50 | p90 | p99 | max | received | server CPU-ms/msg | CPU-s used by group | run-queue wait s by group | machine busy CPU-s / wall s | CPU pressure |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const fmt = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    lines.push(`| ${LABELS[r.path]} | ${perSec(r.rate)} | ${r.run} | ${perSec(r.achievedRate)} | ${r.sustained ? 'yes' : 'no'} | ${ms(r.latencyMs.p50)} | ${ms(r.latencyMs.p90)} | ${ms(r.latencyMs.p99)} | ${ms(r.latencyMs.max)} | ${r.measuredReceived}/${r.measuredSent} | ${r.serverCpuMsPerMessage ?? '–'} | ${fmt(r.cpu.cpuSec)} | ${fmt(r.cpu.runQueueWaitSec)} | ${r.cpu.machineBusySec} / ${r.cpu.wallSec} | ${r.cpu.cpuPressurePct}% |`);
  }
  return lines.join('\n');
}

function searchTable(search: SearchResult[]): string {
  if (search.length === 0) return '';
  return [
    '### Maximum sustained rate (search)',
    '',
    '| path | max sustained | probes (rate: achieved, p50, p99) | stopped |',
    '|---|---|---|---|',
    ...search.map((s) => `| ${LABELS[s.path]} | ${s.maxSustained === 0 ? 'none' : perSec(s.maxSustained)} | ${s.probes.map((x) => `${perSec(x.rate)}: ${perSec(x.achievedRate)}, ${ms(x.p50)}, ${ms(x.p99)}${x.sustained ? '' : ' ✗'}`).join('; ')} | ${s.stoppedBy} |`),
  ].join('\n');
}
