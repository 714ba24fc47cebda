/**
 * npm run bench:cost-split (-- --rate=1000 --seconds=10 --runs=3 --cases=<name>,<name>): where a cross-replica direct message's
 * server CPU goes, per delivery class and history replication. For each case, a fresh process fleet
 * (2 replicas, 3 NATS nodes, tests/support) carries `rate` direct messages a second for `seconds` from
 * 100 senders on replica 1 to 100 recipients on replica 2; the CPU each process used over the window
 * (/proc/<pid>/stat) is divided by the messages sent. Cases run interleaved, `runs` times, so a noisy
 * moment of the shared machine spreads over all of them; the median per case is reported.
 * Prints a table and writes results/cost-split.json. Bounded: every run ends after `seconds` + 10 s.
 * With WSFLEET_CPU_PROFILE_DIR set, each replica writes a V8 CPU profile there (tests/support/replica.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startProcessFleet } from '../tests/support/fleet-processes.js';
import { cpuSeconds } from '../tests/support/processes.js';
import { TEST_SECRET, signToken } from '../tests/support/tokens.js';
import { positiveArg } from './lib/args.js';
import { ensureDirs, resultsDir } from './lib/paths.js';

/** `env`: the replicas' environment; `natsEnv`: the NATS nodes'. */
interface Case { name: string; env: Record<string, string>; natsEnv?: Record<string, string> }
const CASES: Case[] = [
  { name: 'durable R3', env: {} },
  // The Go scheduler of each NATS node on one thread: three nodes share the 2 cores with everything else.
  { name: 'durable R3 NATS GOMAXPROCS=1', env: {}, natsEnv: { GOMAXPROCS: '1' } },
  { name: 'durable R1', env: { JETSTREAM_REPLICAS: '1' } },
  { name: 'volatile', env: { DIRECT_DELIVERY: 'volatile' } },
];
const PAIRS = 100;


function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(url);
    w.once('open', () => { resolve(w); });
    w.once('error', reject);
  });
}

/** This process's children that are still running, with whether each is a nats-server. */
function children(): { pid: number; nats: boolean }[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.trim().split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [pid, ...rest] = l.trim().split(/\s+/);
    return { pid: Number(pid), nats: rest.join(' ').includes('nats-server') };
  });
}

/** `p50Ms`/`p99Ms`: send to receipt, one clock (the sender and the recipient are both this process). */
interface Run { case: string; sent: number; acked: number; received: number; natsMs: number; replicaMs: number; p50Ms: number; p99Ms: number }

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;

async function runCase(c: Case, rate: number, seconds: number): Promise<Run> {
  const fleet = await startProcessFleet(2, c.env, c.natsEnv === undefined ? {} : { natsEnv: c.natsEnv });
  const sockets: WebSocket[] = [];
  try {
    let received = 0;
    let acked = 0;
    let measuring = false;
    const latencies: number[] = [];
    const senders: WebSocket[] = [];
    const [r1, r2] = fleet.replicas;
    if (r1 === undefined || r2 === undefined) throw new Error('two replicas expected');
    for (let i = 0; i < PAIRS; i++) {
      const rcv = await open(`${r2.wsUrl}?token=${signToken(TEST_SECRET, `cs_rcv${i}`)}`);
      rcv.on('message', (m: Buffer) => {
        if (!m.includes('"message"')) return;
        received += 1;
        const f = JSON.parse(m.toString('utf8')) as { data?: { t?: unknown } };
        if (measuring && typeof f.data?.t === 'number') latencies.push(performance.now() - f.data.t);
      });
      const snd = await open(`${r1.wsUrl}?token=${signToken(TEST_SECRET, `cs_snd${i}`)}`);
      snd.on('message', (m: Buffer) => { if (m.includes('"ack"')) acked += 1; });
      senders.push(snd);
      sockets.push(rcv, snd);
    }
    // Presence settles, the replicas' first-message paths are warm.
    await new Promise((r) => setTimeout(r, 3000));
    const procs = children().filter((p) => existsSync(`/proc/${p.pid}`));
    const before = new Map(procs.map((p) => [p.pid, cpuSeconds(p.pid)]));
    let sent = 0;
    measuring = true;
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(Math.floor(((Date.now() - t0) / 1000) * rate), rate * seconds);
        while (sent < due) {
          const i = sent % PAIRS;
          senders[i]?.send(JSON.stringify({ type: 'send', to: `cs_rcv${i}`, data: { n: sent, t: performance.now() }, id: `m${sent}` }));
          sent += 1;
        }
        if (sent >= rate * seconds || Date.now() - t0 > (seconds + 10) * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    await new Promise((r) => setTimeout(r, 1000));
    measuring = false;
    latencies.sort((a, b) => a - b);
    let natsMs = 0;
    let replicaMs = 0;
    for (const p of procs) {
      const used = (cpuSeconds(p.pid) - (before.get(p.pid) ?? 0)) * 1000;
      if (p.nats) natsMs += used;
      else replicaMs += used;
    }
    return { case: c.name, sent, acked, received, natsMs: natsMs / sent, replicaMs: replicaMs / sent, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
  } finally {
    for (const s of sockets) s.terminate();
    await fleet.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function main(): Promise<void> {
  const rate = positiveArg('rate', 1000);
  const seconds = positiveArg('seconds', 10);
  const runs = positiveArg('runs', 3);
  const only = process.argv.find((x) => x.startsWith('--cases='))?.slice('--cases='.length).split(',').map((x) => x.trim());
  const cases = only === undefined ? CASES : CASES.filter((c) => only.includes(c.name));
  if (cases.length === 0) throw new Error(`--cases: none of ${JSON.stringify(only)} is a case (cases: ${CASES.map((c) => c.name).join('; ')})`);
  ensureDirs();
  const all: Run[] = [];
  for (let r = 0; r < runs; r++) {
    for (const c of cases) {
      const run = await runCase(c, rate, seconds);
      process.stderr.write(`[cost-split] run ${r + 1}/${runs} ${c.name}: ${JSON.stringify(run)}\n`);
      all.push(run);
    }
  }
  const rows = cases.map((c) => {
    const mine = all.filter((x) => x.case === c.name);
    const nats = median(mine.map((x) => x.natsMs));
    const replica = median(mine.map((x) => x.replicaMs));
    const lost = mine.reduce((n, x) => n + x.sent - x.received, 0);
    return { case: c.name, natsCpuMsPerMsg: nats, replicaCpuMsPerMsg: replica, totalCpuMsPerMsg: nats + replica, p50Ms: median(mine.map((x) => x.p50Ms)), p99Ms: median(mine.map((x) => x.p99Ms)), natsRange: [Math.min(...mine.map((x) => x.natsMs)), Math.max(...mine.map((x) => x.natsMs))], notReceived: lost };
  });
  const lines = [
    `server CPU per cross-replica direct message at ${rate}/s for ${seconds} s, median of ${runs} interleaved runs (2 replicas, 3 NATS nodes)`,
    '| case | NATS CPU-ms/msg | replicas CPU-ms/msg | total | NATS spread | send→receipt p50 / p99 ms | not received |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.case} | ${r.natsCpuMsPerMsg.toFixed(3)} | ${r.replicaCpuMsPerMsg.toFixed(3)} | ${r.totalCpuMsPerMsg.toFixed(3)} | ${r.natsRange.map((x) => x.toFixed(3)).join('–')} | ${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)} | ${r.notReceived} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  writeFileSync(join(resultsDir, 'cost-split.json'), `${JSON.stringify({ at: new Date().toISOString(), rate, seconds, runs, rows, runsDetail: all }, null, 2)}\n`);
}

void main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`cost-split failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
