/**
 * One run: fixes the timeline, forks the worker processes (the load is spread over them so the
 * runner is not the bottleneck), runs the scale or chaos plan on the timeline, samples the replicas'
 * memory, then adds everything up, checks the thresholds and writes the reports into the results
 * directory: summary.txt, summary.json, report.html, events.json, series.json.
 * Bounded: workers exit 30 s after the grace end by themselves and are killed 60 s after it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseChaosPlan, runPlan, type EventRecord, type PlannedEvent } from './chaos.js';
import { sleep, type FleetOps } from './fleet.js';
import { renderHtml } from './html.js';
import { groupCount, makeSchedule, maxDurationMs, parseScalePlan, type Params } from './scenarios.js';
import { Series } from './series.js';
import { addCounters, Histogram, newTrends, TRENDS, zeroCounters, type JitterProfile, type WorkerMessage, type WorkerTask } from './stats.js';
import { buildMetrics, checkThresholds, eventCosts, renderText, type MemoryCheck } from './summary.js';
import { addTallies } from './tallies.js';
import type { LoadProtocol } from './client.js';
import type { Target } from './target.js';

export interface RunOptions {
  params: Params;
  target: Target;
  /** What the simulated users speak (load/client.ts). */
  protocol: LoadProtocol;
  ops: FleetOps;
  workers: number;
  /** Scale/chaos plan (WSFLEET_CHAOS_PLAN; for soak/scale the scale plan). */
  plan: string;
  jitter: JitterProfile | undefined;
  restore: boolean;
  memoryWarmupMs: number | undefined;
  memoryEveryMs: number;
  rollingCmd: string[] | undefined;
  roomPrefix: string;
  resultsDir: string;
  label: string;
  log: (text: string) => void;
}

export interface RunOutcome {
  ok: boolean;
  thresholdsOk: boolean;
  problems: string[];
  dir: string;
}

/** Median of three samples 2 s apart per replica (one GC more or less does not decide the check). */
async function memoryMedian(ops: FleetOps): Promise<Record<string, number>> {
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < 3; i++) {
    for (const [r, v] of Object.entries(await ops.memory())) (samples[r] ??= []).push(v);
    if (i < 2) await sleep(2000);
  }
  const out: Record<string, number> = {};
  for (const [r, vs] of Object.entries(samples)) {
    vs.sort((a, b) => a - b);
    const mid = vs[Math.floor((vs.length - 1) / 2)];
    if (mid !== undefined) out[r] = mid;
  }
  return out;
}

export function planFor(p: Params, chaosPlan: string): PlannedEvent[] {
  if (p.scenario === 'chaos') return parseChaosPlan(chaosPlan);
  return parseScalePlan(p.scalePlan).map((s) => ({ atMs: s.atMs, action: { kind: 'scale', replicas: s.replicas } }));
}

export async function run(o: RunOptions): Promise<RunOutcome> {
  const p = o.params;
  const plan = planFor(p, o.plan);
  fs.mkdirSync(o.resultsDir, { recursive: true });
  const problems: string[] = [];

  if (p.initialReplicas !== undefined) {
    const have = (await o.ops.replicas()).length;
    if (have !== p.initialReplicas) {
      o.log(`fleet has ${have} replicas; scaling to ${p.initialReplicas} before the run`);
      const r = await o.ops.scale(p.initialReplicas, 900_000);
      if (r.code !== 0) throw new Error(`scaling to ${p.initialReplicas} before the run failed (exit ${String(r.code)}): ${r.output.slice(-1500)}`);
    }
  }
  const replicasBefore = (await o.ops.replicas()).length;

  const runId = randomBytes(4).toString('hex');
  const schedule = makeSchedule(p, Date.now() + 1000);
  const series = new Series(schedule.trafficStart);
  const groups = groupCount(p);
  const nWorkers = Math.max(1, Math.min(o.workers, groups));
  const speaking = o.protocol === 'ws-fleet' ? '' : `, speaking ${o.protocol}`;
  o.log(`${p.scenario}: ${p.users} users, ${p.rate} msg/s for ${p.durationMs / 1000} s against ${o.target.wsUrl} (${o.target.description}, ${replicasBefore} replicas), ${nWorkers} worker(s)${speaking}; results in ${path.relative(process.cwd(), o.resultsDir) || o.resultsDir}`);

  // ---- workers ----------------------------------------------------------------------------------
  const totals = { counters: zeroCounters(), trends: newTrends(), servers: {} as Record<string, number>, undelivered: {} as Record<string, number>, closes: {} as Record<string, number> };
  const children: ChildProcess[] = [];
  const done: Promise<boolean>[] = [];
  for (let w = 0; w < nWorkers; w++) {
    const task: WorkerTask = {
      runId, wsUrl: o.target.wsUrl, protocol: o.protocol, secret: o.target.secret, params: p, schedule,
      groups: Array.from({ length: groups }, (_, g) => g).filter((g) => g % nWorkers === w),
      jitter: o.jitter, roomPrefix: o.roomPrefix,
    };
    const child = fork(path.join(import.meta.dirname, 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    done.push(
      new Promise<boolean>((resolve) => {
        let finished = false;
        child.on('message', (m: WorkerMessage) => {
          if (m.type === 'second') series.add(w, m.record);
          else if (m.type === 'log') o.log(`worker ${w}: ${m.text}`);
          else {
            finished = true;
            addCounters(totals.counters, m.counters);
            for (const n of TRENDS) totals.trends[n].merge(m.trends[n]);
            addTallies(totals.servers, m.servers);
            addTallies(totals.undelivered, m.undelivered);
            addTallies(totals.closes, m.closes);
          }
        });
        child.on('exit', (code) => {
          if (!finished) problems.push(`worker ${w} exited (${String(code)}) without its totals`);
          resolve(finished);
        });
      }),
    );
    child.send(task);
  }
  const killTimer = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
  }, schedule.graceEnd - Date.now() + 60_000);
  const abort = new AbortController();
  const onSignal = (): void => {
    o.log('interrupted: stopping the workers; a running event finishes its undo first');
    abort.abort();
    for (const c of children) c.kill('SIGTERM');
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // ---- memory samples for the chart, and the check's two points -----------------------------------
  const memoryLoop = (async () => {
    while (Date.now() < schedule.trafficEnd && !abort.signal.aborted) {
      const rss = await o.ops.memory().catch(() => ({}));
      series.memory.push({ atMs: Date.now() - schedule.trafficStart, rss });
      await sleep(Math.min(o.memoryEveryMs, schedule.trafficEnd - Date.now()));
    }
  })();

  const planRun = runPlan(plan, { ops: o.ops, trafficStart: schedule.trafficStart, trafficEnd: schedule.trafficEnd, rollingCmd: o.rollingCmd, runId, log: (t) => { o.log(t); }, signal: abort.signal });

  let memory: MemoryCheck | undefined;
  const memoryCheck = p.memoryCheck
    ? (async () => {
        const warm = o.memoryWarmupMs ?? Math.min(60_000, p.durationMs / 4);
        const lastPlanned = plan.length === 0 ? undefined : plan[plan.length - 1];
        let startAt = schedule.trafficStart + warm;
        const endAt = schedule.trafficEnd - 8000;
        // Start after the plan has finished (+20 s): replicas that just took over clients are not a leak.
        if (lastPlanned !== undefined) {
          const { events } = await planRun;
          const last = events[events.length - 1];
          if (last !== undefined) startAt = Math.max(startAt, schedule.trafficStart + last.endMs + 20_000);
        }
        if (endAt - startAt < 20_000) {
          memory = { startMs: undefined, endMs: undefined, replicas: [], note: `window after warm-up and the last event too short (${Math.round((endAt - startAt) / 1000)} s < 20 s)` };
          return;
        }
        await sleep(startAt - Date.now());
        const a = await memoryMedian(o.ops);
        const aAt = Date.now() - schedule.trafficStart;
        await sleep(endAt - Date.now());
        const b = await memoryMedian(o.ops);
        const bAt = Date.now() - schedule.trafficStart;
        const replicas = Object.keys(a).filter((r) => b[r] !== undefined).sort().map((r) => {
          const s = a[r] ?? 0;
          const e = b[r] ?? 0;
          return { replica: r, startBytes: s, endBytes: e, growth: s > 0 ? (e - s) / s : 0 };
        });
        memory = { startMs: aAt, endMs: bAt, replicas, note: replicas.length === 0 ? 'no replica answered at both ends' : undefined };
      })()
    : Promise.resolve();

  const [planResult] = await Promise.all([planRun, memoryCheck, memoryLoop, Promise.all(done)]);
  clearTimeout(killTimer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  problems.push(...planResult.problems);
  const events: EventRecord[] = planResult.events;
  if (abort.signal.aborted) problems.push('the run was interrupted');

  if (events.length > 0) await o.ops.saveNatsLogs(o.resultsDir, new Date(schedule.t0).toISOString());

  if (o.restore && events.some((e) => e.kind === 'scale')) {
    const now = (await o.ops.replicas()).length;
    if (now !== replicasBefore) {
      o.log(`restoring ${replicasBefore} replicas`);
      const r = await o.ops.scale(replicasBefore, 900_000);
      if (r.code !== 0) o.log(`warning: restoring ${replicasBefore} replicas failed: ${r.output.slice(-500)}`);
    }
  }

  // ---- reports ------------------------------------------------------------------------------------
  const trends = Object.fromEntries(TRENDS.map((n) => [n, totals.trends[n]])) as Record<(typeof TRENDS)[number], Histogram>;
  const metrics = buildMetrics(p, totals.counters, trends, series, events, memory);
  const results = checkThresholds(p, metrics);
  const costs = eventCosts(series, events);
  const host = `${os.cpus().length} cpu, load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
  const title = `ws-fleet load ${p.scenario}${o.label === '' ? '' : ` (${o.label})`}: run ${runId}, ${((Date.now() - schedule.t0) / 1000).toFixed(0)} s`;
  const text = renderText({ title, p, target: `${o.target.wsUrl} (${o.target.description}${speaking})`, workers: nWorkers, trafficStart: schedule.trafficStart, metrics, results, costs, memory, problems, servers: totals.servers, undelivered: totals.undelivered, closes: totals.closes, host });
  const thresholdsOk = results.every((r) => r.ok);
  const write = (name: string, body: string): void => { fs.writeFileSync(path.join(o.resultsDir, name), body); };
  write('summary.txt', text);
  write('summary.json', `${JSON.stringify({
    scenario: p.scenario, runId, label: o.label, params: p, plan: o.plan, jitter: o.jitter ?? null, workers: nWorkers, target: o.target.wsUrl, protocol: o.protocol,
    schedule, maxDurationMs: maxDurationMs(p), host, thresholdsOk, ok: thresholdsOk && problems.length === 0,
    thresholds: results.map((r) => ({ label: r.label, metric: r.threshold.metric, stat: r.threshold.stat, op: r.threshold.op, value: r.threshold.value, actual: r.actual ?? null, ok: r.ok, why: r.threshold.why })),
    failedThresholds: results.filter((r) => !r.ok).map((r) => r.label), problems, events: costs, memory: memory ?? null, servers: totals.servers, undeliveredByReason: totals.undelivered, closesByCode: totals.closes, metrics,
  }, null, 2)}\n`);
  write('events.json', `${JSON.stringify(events, null, 2)}\n`);
  write('series.json', `${JSON.stringify({ trafficStart: schedule.trafficStart, seconds: series.list().map((s) => ({ s: s.s, open: s.open, counters: s.counters, e2eP99: s.trends.e2e_latency.quantile(0.99) ?? null, ackP99: s.trends.ack_latency.quantile(0.99) ?? null, replayP99: s.trends.replay_time.quantile(0.99) ?? null })), memory: series.memory })}\n`);
  write('report.html', renderHtml({ title, seconds: series.list(), memory: series.memory, events, summaryText: text }));
  process.stdout.write(`\n${text}\n`);
  return { ok: thresholdsOk && problems.length === 0, thresholdsOk, problems, dir: o.resultsDir };
}
