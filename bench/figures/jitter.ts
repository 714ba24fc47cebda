/**
 * Figure 7: `durable` delivery under the jitter profile (issue 15): every client socket dropped about
 * every 15 s for about 2 s (load/chaos.ts DEFAULT_JITTER, the profile of AnyCable's published test),
 * while direct and room messages flow (the soak's mix: a tenth are room messages). The project's
 * own load runner (`npm run load -- soak --jitter`, the client library in worker processes) runs
 * against the bench fleet's replicas behind a local HAProxy rendered by loadbalancer/ (leastconn,
 * /readyz checks), and its summary gives the figures:
 * acknowledged messages received (target 100 %), duplicates (0), and replay p99 after a reconnect
 * (≤ 1 s). Centrifugo under the same jitter is not measured: the bench speaks Centrifugo's protocol
 * without an SDK and has no client that reconnects and recovers (reported as a row, not measured).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_SECRET, startBalancers, type BenchFleet } from '../lib/fleet.js';
import { repoRoot, resultsDir } from '../lib/paths.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult, Row } from '../lib/report.js';
import { run } from '../../tests/support/fleet.js';
import { readSummary, resultsDir as runResultsDir, value } from '../../tests/support/load-run.js';

export async function jitterFigure(fleet: BenchFleet, profile: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  const p = profile.jitter;
  const lb = await startBalancers(1, fleet.replicas.map((r) => ({ name: r.id, port: r.port })), 'jitter', '/readyz');
  try {
    const frontend = lb.frontends[0] ?? '';
    const balancerUrl = frontend.replace(/^ws/, 'http').replace(/\/ws$/, '');
    log(`figure 7: durable delivery under the jitter profile: ${p.users} users, ${p.rate} msg/s for ${p.durationMs / 1000} s through ${balancerUrl}`);
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSFLEET_')));
    const env = {
      ...clean,
      // No Docker deployment under this prefix: the runner's replica list (and memory samples) come back empty.
      WSFLEET_PREFIX: 'wsfbench-jitter',
      WSFLEET_BALANCER_URL: balancerUrl,
      WSFLEET_AUTH_SECRET: BENCH_SECRET,
      // Plain room names: the bench's replicas carry the tests' namespaces, whose `default` one lets members publish.
      WSFLEET_ROOM_NAMESPACE: '',
    };
    const args = ['soak', '--jitter', '--users', String(p.users), '--rate', String(p.rate), '--duration', `${p.durationMs / 1000}s`, '--ramp', '10s',
      '--no-memory-check', '--no-restore', '--label', 'bench-jitter', '--results-dir', join(resultsDir, 'jitter')];
    const r = await run(process.execPath, ['--import', 'tsx', 'load/cli.ts', ...args], env, p.durationMs + 180_000);
    const dir = runResultsDir(r);
    const summary = readSummary(dir);
    const count = (metric: string): number => value(summary, metric, 'count');
    const acked = count('messages_acked');
    const lost = count('messages_lost');
    const duplicated = count('messages_duplicated');
    const drops = count('jitter_drops');
    const replayP99 = summary.metrics.replay_time?.values['p(99)'];
    const replays = count('replay_time');
    const deliveredPct = acked === 0 ? 0 : (100 * (acked - lost)) / acked;
    log(`  jitter: ${acked} acked, ${lost} lost, ${duplicated} duplicated; ${drops} sockets dropped, ${replays} replays, replay p99 ${replayP99 === undefined ? 'n/a' : `${replayP99.toFixed(0)} ms`}; runner exit ${String(r.code)}`);
    const where = `load runner summary ${dir.slice(repoRoot.length + 1)}/summary.txt`;
    const measured = acked > 0 && drops > 0;
    const why = measured ? where : `not measured: ${acked} acked, ${drops} sockets dropped (exit ${String(r.code)}); ${where}`;
    const base = { figure: '7', baseline: `${p.users} clients through HAProxy, ${drops} jitter drops` };
    const rows: Row[] = [
      { ...base, metric: `durable under jitter: acknowledged messages received`, fleet: `${deliveredPct.toFixed(2)} % (${acked - lost} of ${acked})`, ratio: null, target: '100 %', met: measured ? lost === 0 : false, ...(lost === 0 && measured ? {} : { limit: why }) },
      { ...base, metric: 'durable under jitter: duplicates', fleet: String(duplicated), ratio: null, target: '0', met: measured ? duplicated === 0 : false, ...(duplicated === 0 && measured ? {} : { limit: why }) },
      { ...base, metric: 'durable under jitter: replay p99 after a reconnect', fleet: replayP99 === undefined ? 'n/a' : `${replayP99.toFixed(0)} ms (${replays} replays)`, ratio: null, target: '≤ 1 s', met: replayP99 === undefined ? false : replayP99 <= 1000, ...(replayP99 !== undefined && replayP99 <= 1000 ? {} : { limit: why }) },
      { figure: '7', metric: 'delivered under jitter with a replica killed: ws-fleet vs Centrifugo with history', fleet: 'not measured', baseline: 'Centrifugo', ratio: null, target: 'ahead', met: null, limit: 'the bench has no Centrifugo client that reconnects and recovers (it speaks the JSON protocol without an SDK), and this figure kills no replica' },
    ];
    const detail = `### Delivery under jitter (figure 7)\n\nThe load runner's own summary (${where}):\n\n\`\`\`\n${readFileSync(join(dir, 'summary.txt'), 'utf8').trim()}\n\`\`\``;
    return { rows, data: { params: p, code: r.code, dir: dir, acked, lost, duplicated, drops, replays, replayP99: replayP99 ?? null, thresholds: summary.thresholds, problems: summary.problems }, detail };
  } finally {
    await lb.stop();
  }
}
