/**
 * npm run bench:append-chain (-- --messages=2000 --window=64 --runs=3): what the chain of one busy
 * subject costs, today's way against the stream's RePublish (issue 15, lever 3).
 *
 * On a real 3-node nats-server cluster (tests/support), an R3 stream, one subject:
 *  - `conditional`: today's append (history.ts): each publish carries
 *    Nats-Expected-Last-Subject-Sequence = the previous ack's seq, so one append per subject is in
 *    flight at a time and the chain is the ack's seq.
 *  - `republish`: no condition, 1 and then `window` publishes in flight; the stream republishes each stored
 *    message with Nats-Sequence and Nats-Last-Sequence (the previous seq on the same subject,
 *    assigned by the stream leader), and a subscriber reads the chain from there.
 * Per mode: messages/s, and p50/p99 from publish to the chain link being known (the ack for
 * `conditional`, the republished copy for `republish`), and whether the republished chain is whole
 * (every link names the seq before it). Modes alternate, `runs` times each. Prints a table and
 * writes results/append-chain.json. Bounded: `messages` per run, each run at most 60 s.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsCluster } from '../tests/support/nats-cluster.js';
import { positiveArg } from './lib/args.js';
import { ensureDirs, resultsDir } from './lib/paths.js';
import { median, quantile } from './lib/stats.js';

type Mode = string;
interface Run { mode: Mode; messages: number; seconds: number; perSecond: number; p50Ms: number; p99Ms: number; chainWhole: boolean }

const RUN_LIMIT_MS = 60_000;


function summarize(mode: Mode, latencies: number[], startedAt: number, chainWhole: boolean): Run {
  const seconds = (performance.now() - startedAt) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return { mode, messages: latencies.length, seconds, perSecond: latencies.length / seconds, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), chainWhole };
}

async function conditional(nc: NatsConnection, subject: string, messages: number): Promise<Run> {
  const js = jetstream(nc);
  const body = new Uint8Array(200);
  const latencies: number[] = [];
  const startedAt = performance.now();
  let prev = 0;
  for (let i = 0; i < messages && performance.now() - startedAt < RUN_LIMIT_MS; i++) {
    const t = performance.now();
    const ack = await js.publish(subject, body, { msgID: `${subject}-${i}`, expect: { lastSubjectSequence: prev } });
    latencies.push(performance.now() - t);
    prev = ack.seq;
  }
  return summarize('conditional', latencies, startedAt, true);
}

async function republish(nc: NatsConnection, subject: string, messages: number, window: number): Promise<Run> {
  const js = jetstream(nc);
  const body = new Uint8Array(200);
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let lastSeq = -1;
  let chainWhole = true;
  let seen = 0;
  let allSeen: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { allSeen = resolve; });
  const sub = nc.subscribe(`rp.${subject}`, { callback: (err, msg) => {
    if (err !== null || msg.headers === undefined) return;
    const seq = Number(msg.headers.get('Nats-Sequence'));
    const link = Number(msg.headers.get('Nats-Last-Sequence'));
    if (lastSeq !== -1 && link !== lastSeq) chainWhole = false;
    lastSeq = seq;
    const i = new DataView(msg.data.buffer, msg.data.byteOffset).getUint32(0);
    const at = sentAt[i];
    if (at !== undefined) latencies.push(performance.now() - at);
    seen += 1;
    if (seen === messages) allSeen();
  } });
  await nc.flush();
  const startedAt = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < messages && performance.now() - startedAt < RUN_LIMIT_MS; i++) {
    const payload = new Uint8Array(body);
    new DataView(payload.buffer).setUint32(0, i);
    sentAt[i] = performance.now();
    const p = js.publish(subject, payload, { msgID: `${subject}-${i}` }).finally(() => { inFlight.delete(p); });
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  sub.unsubscribe();
  if (seen < messages) chainWhole = false;
  return summarize(`republish, ${window} in flight`, latencies, startedAt, chainWhole);
}

async function main(): Promise<void> {
  const messages = positiveArg('messages', 2000, { integer: true });
  const window = positiveArg('window', 64, { integer: true });
  const runs = positiveArg('runs', 3, { integer: true });
  ensureDirs();
  const cluster = await startNatsCluster({ nodes: 3, name: 'append-chain' });
  const nc = await connect({ servers: cluster.urls, user: cluster.user, pass: cluster.password });
  const results: Run[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'CHAIN', subjects: ['c.>'], num_replicas: 3, republish: { src: 'c.>', dest: 'rp.c.>' }, duplicate_window: 60_000_000_000 });
    for (let r = 0; r < runs; r++) {
      results.push(await conditional(nc, `c.cond${r}`, messages));
      results.push(await republish(nc, `c.rep1-${r}`, messages, 1));
      results.push(await republish(nc, `c.rep${r}`, messages, window));
      for (const x of results.slice(-3)) {
        console.log(`${x.mode.padEnd(24)} run ${r + 1}: ${x.messages} msgs in ${x.seconds.toFixed(2)} s = ${Math.round(x.perSecond)}/s, p50 ${x.p50Ms.toFixed(2)} ms, p99 ${x.p99Ms.toFixed(2)} ms, chain whole: ${x.chainWhole}`);
      }
    }
  } finally {
    await nc.close();
    await cluster.stop();
  }
  const byMode = (m: Mode): Run[] => results.filter((x) => x.mode === m);
  const modes = ['conditional', 'republish, 1 in flight', `republish, ${window} in flight`];
  const table = modes.map((m) => ({
    mode: m,
    perSecond: median(byMode(m).map((x) => x.perSecond)),
    p50Ms: median(byMode(m).map((x) => x.p50Ms)),
    p99Ms: median(byMode(m).map((x) => x.p99Ms)),
    chainWhole: byMode(m).every((x) => x.chainWhole),
  }));
  console.log(`\none subject, R3, ${messages} messages per run, republish window ${window}, median of ${runs}:`);
  console.log('| mode | msgs/s | p50 ms | p99 ms | chain whole |\n|---|---|---|---|---|');
  for (const t of table) console.log(`| ${t.mode} | ${Math.round(t.perSecond)} | ${t.p50Ms.toFixed(2)} | ${t.p99Ms.toFixed(2)} | ${t.chainWhole ? 'yes' : 'no'} |`);
  const base = table[0]?.perSecond ?? NaN;
  const ratios = table.slice(1).map((t) => ({ mode: t.mode, perSecondVsConditional: t.perSecond / base }));
  for (const r of ratios) console.log(`${r.mode} / conditional, msgs/s: ${r.perSecondVsConditional.toFixed(2)}×`);
  writeFileSync(join(resultsDir, 'append-chain.json'), `${JSON.stringify({ messages, window, runs, results, table, ratios }, null, 2)}\n`);
}

void main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`append-chain failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
