/**
 * Figure 7: `durable` delivery under the jitter profile (issue 15): every client socket dropped about
 * every 15 s for about 2 s (load/chaos.ts DEFAULT_JITTER, the profile of AnyCable's published test),
 * while direct and room messages flow (the soak's mix: a tenth are room messages). Every run is the
 * project's own load runner (`npm run load -- soak --jitter`, worker processes) through a local
 * HAProxy rendered by loadbalancer/ (leastconn, health checks), and its summary gives the figures:
 * acknowledged messages received (target 100 %), duplicates (0), and replay p99 after a reconnect
 * (≤ 1 s).
 *
 * 7a, how many clients: the bench fleet's replicas, at each client count of the profile's ladder in
 * turn (up to 10k), until a count misses a target or sends less than 90 % of the planned messages.
 * The table gives the largest count that held every target, and what the next count missed.
 *
 * 7b, with a replica killed, against Centrifugo with history: the same soak at the ladder's first
 * count against 2 ws-fleet replicas (on the bench fleet's NATS) and against 2 Centrifugo nodes on
 * Redis (history and recovery on personal and room channels: bench/lib/centrifugo.ts), each behind
 * its own HAProxy; halfway through the traffic one of the two is SIGKILLed. The runner speaks
 * Centrifugo's protocol with load/peers/centrifugo-client.ts (reconnect, recover, drop repeats).
 * "Delivered" is what the users got of what they sent: sends acknowledged and received by every
 * recipient, over sends made (less those the runner abandoned itself: still waiting for their ack
 * when the jitter profile closed the client on purpose).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { centrifugoBinary, startCentrifugoPeer } from '../lib/centrifugo.js';
import { BENCH_SECRET, startBalancers, startBundledReplica, type BenchFleet, type BenchReplica } from '../lib/fleet.js';
import { repoRoot, resultsDir } from '../lib/paths.js';
import type { BenchProfile } from '../lib/profile.js';
import { startRedis } from '../lib/redis.js';
import type { FigureResult, Row } from '../lib/report.js';
import { run } from '../../tests/support/fleet.js';
import { readSummary, resultsDir as runResultsDir, value } from '../../tests/support/load-run.js';

/** A run that sent less than this share of its planned messages was not the planned load. */
const SENT_OF_PLANNED_MIN = 0.9;
/** The connect ramp: at least 10 s, and at most 200 new clients a second (each writes its presence and reads its cursor). */
const rampSeconds = (users: number): number => Math.max(10, Math.ceil(users / 200));
/** From the runner's start to its first send: target discovery, worker start, then the ramp. */
const trafficStartsAfterMs = (users: number): number => 2000 + rampSeconds(users) * 1000;

interface SoakOptions {
  /** http://127.0.0.1:<port> of the HAProxy in front. */
  balancerUrl: string;
  protocol: 'ws-fleet' | 'centrifugo';
  users: number;
  rate: number;
  durationMs: number;
  label: string;
  /** Called halfway through the traffic (the replica kill of 7b). */
  halfway?: () => void;
}

interface SoakFigures {
  users: number;
  /** The runner's exit code (null: killed by a signal). */
  code: number | null;
  /** The runner's results directory. */
  dir: string;
  sent: number;
  acked: number;
  lost: number;
  duplicated: number;
  undelivered: number;
  /** Sends still waiting for their ack when the jitter profile closed the client on purpose (reason `closed`): not counted as sent. */
  abandoned: number;
  drops: number;
  closesUnexpected: number;
  /** Sockets down at the end of the run. */
  downAtEnd: number;
  replays: number;
  replayP99: number | undefined;
  /** Acknowledged and received by every recipient, of acknowledged (%). */
  ackedReceivedPct: number;
  /** Acknowledged and received by every recipient, of sent less abandoned (%). */
  sentDeliveredPct: number;
  /** Every target of the figure held (100 % of acknowledged received, 0 duplicates, replay p99 ≤ 1 s). */
  held: boolean;
  /** Why not, when not. */
  missed: string[];
}

async function jitterSoak(o: SoakOptions, log: (s: string) => void): Promise<SoakFigures> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSFLEET_')));
  const env = {
    ...clean,
    // No Docker deployment under this prefix: the runner's replica list (and memory samples) come back empty.
    WSFLEET_PREFIX: 'wsfbench-jitter',
    WSFLEET_BALANCER_URL: o.balancerUrl,
    WSFLEET_AUTH_SECRET: BENCH_SECRET,
    // Plain room names: the bench's replicas carry the tests' namespaces, whose `default` one lets members publish.
    WSFLEET_ROOM_NAMESPACE: '',
  };
  const args = ['soak', '--jitter', '--protocol', o.protocol, '--users', String(o.users), '--rate', String(o.rate), '--duration', `${o.durationMs / 1000}s`, '--ramp', `${rampSeconds(o.users)}s`,
    '--no-memory-check', '--no-restore', '--label', o.label, '--results-dir', join(resultsDir, 'jitter', o.label)];
  const halfway = o.halfway === undefined ? undefined : setTimeout(o.halfway, trafficStartsAfterMs(o.users) + o.durationMs / 2);
  const r = await run(process.execPath, ['--import', 'tsx', 'load/cli.ts', ...args], env, o.durationMs + 240_000);
  clearTimeout(halfway);
  const dir = runResultsDir(r);
  // The runner's own lines (each lost or duplicated message is named there), beside its summary.
  writeFileSync(join(dir, 'runner.log'), `${r.stdout}${r.stderr}`);
  const summary = readSummary(dir);
  const count = (metric: string): number => value(summary, metric, 'count');
  const f = {
    users: o.users, code: r.code, dir,
    sent: count('messages_sent'), acked: count('messages_acked'), lost: count('messages_lost'), duplicated: count('messages_duplicated'),
    undelivered: count('messages_undelivered'), drops: count('jitter_drops'), closesUnexpected: count('ws_closes_unexpected'), downAtEnd: count('ws_reconnect_incomplete'),
    replays: count('replay_time'), replayP99: summary.metrics.replay_time?.values['p(99)'],
    abandoned: summary.undeliveredByReason.closed ?? 0,
  };
  const ackedReceivedPct = f.acked === 0 ? 0 : (100 * (f.acked - f.lost)) / f.acked;
  const counted = f.sent - f.abandoned;
  const sentDeliveredPct = counted <= 0 ? 0 : (100 * (f.acked - f.lost)) / counted;
  const missed: string[] = [];
  if (f.acked === 0 || f.drops === 0) missed.push(`not measured: ${f.acked} acked, ${f.drops} sockets dropped (runner exit ${String(r.code)})`);
  // A count the box cannot drive at the planned rate did not hold: its figures are of a lighter load.
  const planned = (o.rate * o.durationMs) / 1000;
  if (f.sent < SENT_OF_PLANNED_MIN * planned) missed.push(`only ${f.sent} of ${planned} planned messages sent (${((100 * f.sent) / planned).toFixed(0)} %: the load workers fell behind their send schedule)`);
  if (f.downAtEnd > 0) missed.push(`${f.downAtEnd} clients not connected at the end`);
  if (f.lost > 0) missed.push(`${f.lost} acknowledged messages lost`);
  if (f.duplicated > 0) missed.push(`${f.duplicated} duplicates`);
  if (f.replayP99 === undefined || f.replayP99 > 1000) missed.push(`replay p99 ${f.replayP99 === undefined ? 'n/a' : `${f.replayP99.toFixed(0)} ms`}`);
  log(`  ${o.label}: ${f.sent} sent, ${f.acked} acked, ${f.lost} lost, ${f.duplicated} duplicated, ${f.undelivered} not acknowledged (${f.abandoned} abandoned by a jitter drop); ${f.drops} sockets dropped, ${f.closesUnexpected} closed by the server side, replay p99 ${f.replayP99 === undefined ? 'n/a' : `${f.replayP99.toFixed(0)} ms`}; runner exit ${String(r.code)}`);
  return { ...f, ackedReceivedPct, sentDeliveredPct, held: missed.length === 0, missed };
}

/** http://127.0.0.1:<port> of a balancer frontend given as a WebSocket URL. */
const httpBase = (frontend: string | undefined): string => new URL(frontend ?? '').origin.replace(/^ws/, 'http');

const where = (f: SoakFigures): string => `load runner summary ${f.dir.slice(repoRoot.length + 1)}/summary.txt`;
const pct = (v: number): string => `${v.toFixed(2)} %`;
const p99 = (f: SoakFigures): string => (f.replayP99 === undefined ? 'n/a' : `${f.replayP99.toFixed(0)} ms (${f.replays} replays)`);

/** 7a: the ladder of client counts on the bench fleet, up to the first that misses a target. */
async function clientLadder(fleet: BenchFleet, p: BenchProfile['jitter'], log: (s: string) => void): Promise<{ rows: Row[]; runs: SoakFigures[] }> {
  const lb = await startBalancers(1, fleet.replicas.map((r) => ({ name: r.id, port: r.port })), 'jitter', '/readyz');
  const runs: SoakFigures[] = [];
  try {
    const balancerUrl = httpBase(lb.frontends[0]);
    for (const users of p.ladder) {
      log(`figure 7a: ${users} clients under the jitter profile, ${p.rate} msg/s for ${p.durationMs / 1000} s through ${balancerUrl} (${fleet.replicas.length} replicas)`);
      const f = await jitterSoak({ balancerUrl, protocol: 'ws-fleet', users, rate: p.rate, durationMs: p.durationMs, label: `ladder-${users}` }, log);
      runs.push(f);
      if (!f.held) break;
    }
  } finally {
    await lb.stop();
  }
  const heldRuns = runs.filter((f) => f.held);
  const best = heldRuns[heldRuns.length - 1];
  const failed = runs.find((f) => !f.held);
  const shown = best ?? runs[0];
  const rows: Row[] = [];
  const max = p.ladder[p.ladder.length - 1] ?? 0;
  rows.push({
    figure: '7a', metric: 'durable under jitter: most clients with every target held (ladder ' + p.ladder.join(', ') + ')',
    fleet: best === undefined ? 'none' : String(best.users), baseline: `up to ${max}`, ratio: null, target: `as many as the box allows, up to ${max}`,
    met: best !== undefined && best.users === max,
    ...(failed === undefined ? {} : { limit: `${failed.users} clients: ${failed.missed.join('; ')} (${where(failed)})` }),
  });
  if (shown !== undefined) {
    const base = { figure: '7a', baseline: `${shown.users} clients through HAProxy, ${shown.drops} jitter drops` };
    const why = `${where(shown)}${shown.missed.length === 0 ? '' : `: ${shown.missed.join('; ')}`}`;
    const measured = shown.acked > 0 && shown.drops > 0;
    rows.push(
      { ...base, metric: 'durable under jitter: acknowledged messages received', fleet: `${pct(shown.ackedReceivedPct)} (${shown.acked - shown.lost} of ${shown.acked})`, ratio: null, target: '100 %', met: measured && shown.lost === 0, ...(measured && shown.lost === 0 ? {} : { limit: why }) },
      { ...base, metric: 'durable under jitter: duplicates', fleet: String(shown.duplicated), ratio: null, target: '0', met: measured && shown.duplicated === 0, ...(measured && shown.duplicated === 0 ? {} : { limit: why }) },
      { ...base, metric: 'durable under jitter: replay p99 after a reconnect', fleet: p99(shown), ratio: null, target: '≤ 1 s', met: shown.replayP99 !== undefined && shown.replayP99 <= 1000, ...(shown.replayP99 !== undefined && shown.replayP99 <= 1000 ? {} : { limit: why }) },
    );
  }
  return { rows, runs };
}

/** 7b: 2 ws-fleet replicas against 2 Centrifugo nodes, one of the two killed halfway. */
async function killedReplicaComparison(fleet: BenchFleet, profile: BenchProfile, log: (s: string) => void): Promise<{ rows: Row[]; fleetRun: SoakFigures; centrifugoRun: SoakFigures | undefined; centrifugoWhyNot?: string }> {
  const p = profile.jitter;
  const users = p.ladder[0] ?? 0;
  const nodes = profile.centrifugo.nodes;
  const soak = { users, rate: p.rate, durationMs: p.durationMs };

  // ws-fleet: two replicas of their own on the bench fleet's NATS, the second killed halfway.
  const replicas: BenchReplica[] = [];
  let fleetRun: SoakFigures;
  try {
    for (let i = 1; i <= nodes; i++) replicas.push(await startBundledReplica({ id: `jk${i}`, nats: fleet.nats }));
    const lb = await startBalancers(1, replicas.map((r) => ({ name: r.id, port: r.port })), 'jitter-kill', '/readyz');
    try {
      const balancerUrl = httpBase(lb.frontends[0]);
      log(`figure 7b: ws-fleet, ${users} clients on ${nodes} replicas under jitter; replica jk${nodes} SIGKILLed halfway`);
      fleetRun = await jitterSoak({ ...soak, balancerUrl, protocol: 'ws-fleet', label: 'killed-ws-fleet', halfway: () => { log(`  SIGKILL to replica jk${nodes}`); replicas[nodes - 1]?.proc.signal('SIGKILL'); } }, log);
    } finally {
      await lb.stop();
    }
  } finally {
    await Promise.all(replicas.map((r) => r.stop(5000)));
  }

  // Centrifugo: as many nodes on Redis, the second killed halfway.
  let centrifugoRun: SoakFigures | undefined;
  let centrifugoWhyNot: string | undefined;
  try {
    centrifugoBinary();
  } catch (err) {
    centrifugoWhyNot = err instanceof Error ? err.message : String(err);
  }
  if (centrifugoWhyNot === undefined) {
    const redis = await startRedis();
    try {
      const cf = await startCentrifugoPeer(redis, nodes, BENCH_SECRET, 'centrifugo-jitter');
      try {
        const balancerUrl = httpBase(cf.balancedUrl);
        log(`figure 7b: Centrifugo, ${users} clients on ${nodes} nodes (Redis engine, history and recovery) under jitter; node ${nodes} SIGKILLed halfway`);
        centrifugoRun = await jitterSoak({ ...soak, balancerUrl, protocol: 'centrifugo', label: 'killed-centrifugo', halfway: () => { log(`  SIGKILL to Centrifugo node ${nodes}`); cf.procs[nodes - 1]?.signal('SIGKILL'); } }, log);
      } finally {
        await cf.stop();
      }
    } finally {
      await redis.stop();
    }
  }

  const base = { figure: '7b', baseline: 'Centrifugo with history' };
  const rows: Row[] = [];
  const ws = fleetRun;
  const cf = centrifugoRun;
  const label = `${users} clients on ${nodes} nodes, one SIGKILLed halfway`;
  if (cf === undefined) {
    rows.push({ ...base, metric: `delivered under jitter with a replica killed (${label})`, fleet: pct(ws.sentDeliveredPct), ratio: null, target: 'ahead', met: null, note: `Centrifugo not measured: ${centrifugoWhyNot ?? 'its run failed'}` });
    return { rows, fleetRun, centrifugoRun, ...(centrifugoWhyNot === undefined ? {} : { centrifugoWhyNot }) };
  }
  const both = `ws-fleet ${where(ws)}; Centrifugo ${where(cf)}`;
  const ahead = ws.sentDeliveredPct > cf.sentDeliveredPct;
  const tie = ws.sentDeliveredPct === cf.sentDeliveredPct;
  rows.push(
    {
      ...base, metric: `delivered under jitter with a replica killed: of the messages sent, acknowledged and received (${label})`,
      fleet: `${pct(ws.sentDeliveredPct)} (${ws.acked - ws.lost} of ${ws.sent - ws.abandoned})`, baseline: `Centrifugo ${pct(cf.sentDeliveredPct)} (${cf.acked - cf.lost} of ${cf.sent - cf.abandoned})`,
      ratio: cf.sentDeliveredPct === 0 ? null : Number((ws.sentDeliveredPct / cf.sentDeliveredPct).toFixed(4)), target: 'ahead',
      met: ahead ? true : tie ? null : false,
      ...(ahead ? {} : tie ? { note: `a tie at ${pct(ws.sentDeliveredPct)}; ${both}` } : { limit: `ws-fleet: ${ws.undelivered - ws.abandoned} sends not acknowledged, ${ws.lost} lost; Centrifugo: ${cf.undelivered - cf.abandoned} not acknowledged, ${cf.lost} lost; ${both}` }),
    },
    { ...base, metric: 'with a replica killed: acknowledged messages received', fleet: `${pct(ws.ackedReceivedPct)} (${ws.lost} lost)`, baseline: `Centrifugo ${pct(cf.ackedReceivedPct)} (${cf.lost} lost)`, ratio: null, target: '100 %', met: ws.lost === 0, ...(ws.lost === 0 ? {} : { limit: where(ws) }) },
    { ...base, metric: 'with a replica killed: duplicates', fleet: String(ws.duplicated), baseline: `Centrifugo ${cf.duplicated}`, ratio: null, target: '0', met: ws.duplicated === 0, ...(ws.duplicated === 0 ? {} : { limit: where(ws) }) },
    {
      ...base, metric: 'with a replica killed: replay p99 after a reconnect', fleet: p99(ws), baseline: `Centrifugo ${p99(cf)}`, ratio: null, target: '≤ 1 s', met: ws.replayP99 !== undefined && ws.replayP99 <= 1000,
      note: 'Centrifugo recovers the personal channel inside its connect reply, so its replay time counts only the room re-subscriptions after it; ws-fleet\'s counts the inbox replay after the welcome',
      ...(ws.replayP99 !== undefined && ws.replayP99 <= 1000 ? {} : { limit: where(ws) }),
    },
  );
  return { rows, fleetRun, centrifugoRun };
}

export async function jitterFigure(fleet: BenchFleet, profile: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  const ladder = await clientLadder(fleet, profile.jitter, log);
  const killed = await killedReplicaComparison(fleet, profile, log);
  const summaries = [...ladder.runs, killed.fleetRun, ...(killed.centrifugoRun === undefined ? [] : [killed.centrifugoRun])];
  const detail = [
    '### Delivery under jitter (figure 7)',
    ...summaries.map((f) => `The load runner's own summary (${where(f)}):\n\n\`\`\`\n${readFileSync(join(f.dir, 'summary.txt'), 'utf8').trim()}\n\`\`\``),
  ].join('\n\n');
  return {
    rows: [...ladder.rows, ...killed.rows],
    data: { params: profile.jitter, ladder: ladder.runs, killed: { fleet: killed.fleetRun, centrifugo: killed.centrifugoRun ?? null, centrifugoWhyNot: killed.centrifugoWhyNot ?? null } },
    detail,
  };
}
