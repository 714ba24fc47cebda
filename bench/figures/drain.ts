/**
 * Figure 5b: SIGTERM on a replica holding N clients → all of them reconnected (through HAProxy, to
 * the other replicas) and resumed. A fresh replica `drain` is started in the bench fleet and put
 * behind a local HAProxy with r1..r4 (leastconn, static backend, /readyz checks). N clients connect
 * to it directly; when it closes them (1012, spread over DRAIN_WINDOW_MS) each reconnects through
 * HAProxy with ?resume=<last seq>. Right after the SIGTERM, `marked` of the users are sent a direct
 * message from r1: a user counts as resumed when it has that message, whether it came live before
 * its close or from the stream after its reconnect. Measured from the SIGTERM:
 *   reconnected: the last client's welcome on its new replica;
 *   resumed: the later of that and the last marked message's arrival.
 * Run once per drain window (the default 5 s, and a shorter one).
 */
import { BENCH_SECRET, startBalancers, startBundledReplica, type BenchFleet } from '../lib/fleet.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult, Row } from '../lib/report.js';
import { sleep } from '../lib/stats.js';
import { startWorker } from '../lib/worker-host.js';
import type { DrainReport, HolderApi, HolderProgress } from '../workers/holder-api.js';
import { authQuery, withQuery } from '../workers/tokens.js';
import { freePort } from '../../tests/support/ports.js';
import WebSocket from 'ws';

interface DrainRun {
  drainWindowMs: number;
  clients: number;
  connectSec: number;
  exitCode: number | null;
  exitAfterMs: number;
  marked: number;
  markSendErrors: number;
  report: DrainReport;
  reconnectedAfterMs: number;
  resumedAfterMs: number;
}

/** Opens `n` sender sockets on a replica (tokens for users drainsender<i>). */
async function openSenders(wsUrl: string, n: number): Promise<WebSocket[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const ws = new WebSocket(withQuery(wsUrl, await authQuery({ kind: 'token', secret: BENCH_SECRET }, `drainsender${i}`)), { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => { resolve(); });
      ws.once('error', reject);
    });
    return ws;
  }));
}

/** Sends one marked message to each user, spread over the senders (each stays under its rate limit). */
async function sendMarks(senders: WebSocket[], users: string[], mark: string): Promise<number> {
  let errors = 0;
  const acks = new Map<string, (ok: boolean) => void>();
  for (const ws of senders) {
    ws.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString('utf8')) as { type?: string; id?: string };
      if ((f.type === 'ack' || f.type === 'error') && typeof f.id === 'string') {
        acks.get(f.id)?.(f.type === 'ack');
        acks.delete(f.id);
      }
    });
  }
  const perSender = Math.ceil(users.length / senders.length);
  // 40 per second per sender (the default limit is 50/s with a burst of 100).
  await Promise.all(senders.map(async (ws, s) => {
    const mine = users.slice(s * perSender, (s + 1) * perSender);
    for (let k = 0; k < mine.length; k++) {
      const id = `${mark}-${s}-${k}`;
      const done = new Promise<boolean>((resolve) => {
        acks.set(id, resolve);
        setTimeout(() => { resolve(false); }, 10_000);
      });
      ws.send(JSON.stringify({ type: 'send', to: mine[k], data: { mark }, id }));
      if (!(await done)) errors += 1;
      await sleep(25);
    }
  }));
  return errors;
}

async function runOnce(fleet: BenchFleet, windowMs: number, p: BenchProfile, log: (s: string) => void): Promise<DrainRun> {
  const port = await freePort();
  const drain = await startBundledReplica({ id: 'drain', nats: fleet.nats, port, env: { DRAIN_WINDOW_MS: String(windowMs) } });
  const lb = await startBalancers(1, [...fleet.replicas.map((r) => ({ name: r.id, port: r.port })), { name: 'drain', port }], 'drain');
  const holder = startWorker<HolderApi, HolderProgress>('drain-holder', 'holder');
  const r1 = fleet.replicas[0];
  if (r1 === undefined) throw new Error('no replica');
  const senders = await openSenders(r1.wsUrl, Math.max(1, Math.ceil(p.drain.marked / 100)));
  try {
    const prefix = `drain${windowMs}u`;
    const started = performance.now();
    const opened = await holder.request('open', {
      targets: [{ url: drain.wsUrl }],
      count: p.drain.clients,
      userPrefix: prefix,
      userStart: 0,
      auth: { kind: 'token', secret: BENCH_SECRET },
      concurrency: 32,
      connectTimeoutMs: 15_000,
      deadline: Date.now() + 120_000,
      maxConsecutiveFailures: 200,
      reconnectUrl: lb.frontends[0] ?? '',
    }, 180_000);
    const connectSec = (performance.now() - started) / 1000;
    if (opened.opened < p.drain.clients) throw new Error(`only ${opened.opened} of ${p.drain.clients} clients connected to the drain replica: ${JSON.stringify(opened.failures)}`);
    // Let HAProxy's checks see every replica up and the connect-time follow-ups settle.
    await sleep(2500);
    const step = Math.max(1, Math.floor(p.drain.clients / p.drain.marked));
    const markedUsers = Array.from({ length: p.drain.marked }, (_, i) => `${prefix}${i * step}`);
    const mark = `m${windowMs}`;
    const t0 = Date.now();
    drain.proc.signal('SIGTERM');
    const marking = sendMarks(senders, markedUsers, mark);
    const exitCode = await Promise.race([drain.proc.exited, sleep(windowMs + 20_000).then(() => -2)]);
    const exitAfterMs = Date.now() - t0;
    const markSendErrors = await marking;
    // Bounded wait until every client is back and every marked message arrived.
    let report = await holder.request('drainReport', { t0, markedUsers, mark });
    const until = Date.now() + 60_000;
    while ((report.reconnected < report.connections || report.markedMissing > 0) && Date.now() < until) {
      await sleep(250);
      report = await holder.request('drainReport', { t0, markedUsers, mark });
    }
    const run: DrainRun = {
      drainWindowMs: windowMs,
      clients: opened.opened,
      connectSec: Math.round(connectSec * 10) / 10,
      exitCode,
      exitAfterMs,
      marked: markedUsers.length,
      markSendErrors,
      report,
      reconnectedAfterMs: report.allReconnectedAfterMs,
      resumedAfterMs: Math.max(report.allReconnectedAfterMs, report.lastMarkAfterMs),
    };
    log(`  drain window ${windowMs} ms: ${report.reconnected}/${report.connections} reconnected, last at +${report.allReconnectedAfterMs} ms; marked ${report.markedReceived}/${run.marked}, last at +${report.lastMarkAfterMs} ms; per client close→welcome p50 ${report.reconnectMs.p50} ms p99 ${report.reconnectMs.p99} ms; exit ${String(exitCode)} after ${exitAfterMs} ms; duplicates ${report.duplicates}; failed reconnect attempts ${JSON.stringify(report.reconnectFailures)}; now on ${JSON.stringify(report.serversAfter)}`);
    return run;
  } finally {
    for (const s of senders) s.terminate();
    await holder.request('close', {}).catch(() => undefined);
    await holder.stop();
    await lb.stop();
    await drain.stop(2000);
  }
}

export async function drainFigure(fleet: BenchFleet, p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  log(`figure 5b: SIGTERM on a replica holding ${p.drain.clients} clients; drain windows ${p.drain.windowsMs.join(', ')} ms`);
  const runs: DrainRun[] = [];
  for (const w of p.drain.windowsMs) runs.push(await runOnce(fleet, w, p, log));
  const rows: Row[] = runs.map((r) => {
    const complete = r.report.reconnected === r.report.connections && r.report.markedMissing === 0;
    const sec = r.resumedAfterMs / 1000;
    // The drain window spreads the closes over its whole length by design: the last client cannot be back before it ends.
    const limitSec = r.drainWindowMs / 1000 + 1;
    const met = complete && sec <= limitSec;
    return {
      figure: '5b',
      metric: `SIGTERM → ${r.clients} clients reconnected + resumed (DRAIN_WINDOW_MS=${r.drainWindowMs}${r.drainWindowMs === 5000 ? ', the default' : ''})`,
      fleet: complete ? `${sec.toFixed(2)} s` : `incomplete: ${r.report.reconnected}/${r.report.connections} back, ${r.report.markedMissing} marked missing`,
      baseline: `drain window ${(r.drainWindowMs / 1000).toFixed(1)} s; per client close→back p99 ${r.report.reconnectMs.p99} ms`,
      ratio: null,
      target: `≤ window + 1 s = ${limitSec.toFixed(1)} s`,
      met,
      ...(met ? {} : { limit: complete ? `the last reconnects: all back at +${(r.reconnectedAfterMs / 1000).toFixed(2)} s, last marked message at +${(r.report.lastMarkAfterMs / 1000).toFixed(2)} s; failed reconnect attempts ${JSON.stringify(r.report.reconnectFailures)}; profile: "Replica CPU profiles", connect` : 'not every client came back within the bounded wait' }),
    };
  });
  return { rows, data: { runs } };
}
