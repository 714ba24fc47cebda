/**
 * npm run bench (-- --quick | --only=1,3,...): runs the figures of issue 8 against processes it starts
 * on loopback (and, for figure 5a, a Docker fleet under its own prefix), prints the table and writes
 * results/bench.json and results/bench.md. Every load loop is bounded in count and time.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { connectionsFigure } from './figures/connections.js';
import { dockerScaleFigure } from './figures/docker-scale.js';
import { drainFigure } from './figures/drain.js';
import { fanoutFigure } from './figures/fanout.js';
import { jitterFigure } from './figures/jitter.js';
import { LABELS, latencyFigure, type LatencyData } from './figures/latency.js';
import { renderLatencyChart, type ChartPoint } from './lib/chart.js';
import { memoryFigure } from './figures/memory.js';
import { profilesFigure } from './figures/profiles.js';
import { buildBundles } from './lib/build.js';
import { startBenchFleet, type BenchFleet } from './lib/fleet.js';
import { cpuPressure, machineInfo } from './lib/machine.js';
import { ensureDirs, repoRoot, resultsDir } from './lib/paths.js';
import { runCleanups } from './lib/cleanup.js';
import { killStarted } from '../tests/support/processes.js';
import { applyOverrides, PROFILES } from './lib/profile.js';
import { renderNotes, renderTable, writeResults, type FigureResult, type Row } from './lib/report.js';
import { startRedis, type Redis } from './lib/redis.js';

const args = process.argv.slice(2);
const profile = applyOverrides(structuredClone(PROFILES[args.includes('--quick') ? 'quick' : 'full']), args.filter((a) => a.startsWith('--set=')).map((a) => a.slice('--set='.length)));
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg === undefined ? undefined : new Set(onlyArg.slice('--only='.length).split(','));
const wanted = (fig: string): boolean => only === undefined || only.has(fig);
const started = Date.now();
const log = (s: string): void => {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}\n`);
};

// SIGTERM too: a bench stopped with kill (not Ctrl-C) left its NATS nodes, peers and replicas running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping what the bench started`);
    killStarted();
    void runCleanups().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  ensureDirs();
  const machine = machineInfo();
  log(`profile ${profile.name}; ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; load ${machine.loadAverageAtStart.join(' ')}; CPU pressure ${machine.cpuPressureAtStart}`);
  await buildBundles();
  const rows: Row[] = [];
  const figures: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const details: string[] = [];
  const record = (key: string, r: FigureResult): void => {
    rows.push(...r.rows);
    figures[key] = r.data;
    if (r.detail !== undefined) details.push(r.detail);
  };
  const attempt = async (key: string, fig: string, run: () => Promise<FigureResult>): Promise<void> => {
    try {
      record(key, await run());
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`figure ${fig} failed: ${message}`);
      errors[key] = message;
      rows.push({ figure: fig, metric: key, fleet: 'failed', baseline: '–', ratio: null, target: '–', met: false, note: message.split('\n')[0] ?? '' });
    }
  };

  // Fleet A: NATS x3 + 4 replicas for figures 1, 3, 4, 5b, 7; Redis + Socket.IO for 6.
  const needFleetA = ['1', '3', '4', '5b', '6', '7', 'profiles'].some(wanted);
  let fleet: BenchFleet | undefined;
  let redis: Redis | undefined;
  try {
    if (needFleetA) {
      log(`starting NATS (3 nodes) and 4 replicas${profile.cpuProfiles ? ' (inspectors on loopback: profiles of the measured runs)' : ''}`);
      fleet = await startBenchFleet(4, { inspect: profile.cpuProfiles });
    }
    if (fleet !== undefined && wanted('1')) await attempt('memory', '1', () => memoryFigure(fleet as BenchFleet, profile, log));
    if (wanted('3') || wanted('4') || wanted('6')) {
      if (wanted('6')) redis = await startRedis();
    }
    if (fleet !== undefined && (wanted('3') || wanted('6'))) await attempt('latency', '3', () => latencyFigure(fleet as BenchFleet, redis, profile, log, { fleet: wanted('3'), peer: wanted('6') }));
    if (fleet !== undefined && (wanted('4') || wanted('6'))) await attempt('fanout', '4', () => fanoutFigure(fleet as BenchFleet, redis, profile, log, { fleet: wanted('4'), peer: wanted('6') }));
    if (fleet !== undefined && wanted('5b')) await attempt('drain', '5b', () => drainFigure(fleet as BenchFleet, profile, log));
    if (fleet !== undefined && wanted('7')) await attempt('jitter', '7', () => jitterFigure(fleet as BenchFleet, profile, log));
    if (fleet !== undefined && profile.cpuProfiles && (only === undefined || only.has('profiles'))) await attempt('profiles', 'profiles', () => profilesFigure(fleet as BenchFleet, profile, log));
  } finally {
    await redis?.stop();
    await fleet?.stop();
  }
  if (wanted('2')) await attempt('connections', '2', () => connectionsFigure(profile, log));
  if (wanted('5a')) await attempt('dockerScale', '5a', () => dockerScaleFigure(profile, log));

  const table = renderTable(rows);
  const notes = renderNotes(rows);
  const finished = Date.now();
  const doc = {
    profile: profile.name,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationSec: Math.round((finished - started) / 1000),
    command: `npm run bench${profile.name === 'quick' ? ':quick' : ''}${onlyArg === undefined ? '' : ` -- ${onlyArg}`}`,
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100), cpuPressureAtEnd: cpuPressure() },
    parameters: profile,
    rows,
    figures,
    errors,
  };
  const chart = writeChart(figures.latency as LatencyData | undefined, doc.startedAt);
  if (chart !== undefined) details.unshift(`![p50 and p99 against rate](${chart})`);
  const files = writeResults(doc, table, notes, details);
  process.stdout.write(`\n${table}\n\n${notes}\n\nwrote ${files.json} and ${files.md} (${doc.durationSec} s)\n`);
  if (Object.keys(errors).length > 0) process.exitCode = 1;
}

/**
 * The p50/p99-against-rate chart from figure 3/6's runs: results/latency.svg, and with the full
 * profile also docs/benchmarks-latency.svg (the one docs/benchmarks.md shows).
 */
function writeChart(lat: LatencyData | undefined, startedAt: string): string | undefined {
  if (lat === undefined) return undefined;
  const points: ChartPoint[] = [
    ...lat.runs.map((r) => ({ series: LABELS[r.path], rate: r.rate, p50: r.latencyMs.p50, p99: r.latencyMs.p99, sustained: r.sustained })),
    ...lat.search.flatMap((s) => s.probes.map((x) => ({ series: LABELS[s.path], rate: x.rate, p50: x.p50, p99: x.p99, sustained: x.sustained }))),
  ];
  const svg = renderLatencyChart(points, `npm run bench${profile.name === 'quick' ? ':quick' : ''}, ${startedAt.slice(0, 16).replace('T', ' ')} UTC, ${os.availableParallelism()} cores (shared, noisy)`);
  writeFileSync(join(resultsDir, 'latency.svg'), svg);
  if (profile.name === 'full') writeFileSync(join(repoRoot, 'docs', 'benchmarks-latency.svg'), svg);
  return 'latency.svg'; // beside results/bench.md
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  killStarted();
  process.exit(1);
});
