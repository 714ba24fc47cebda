/**
 * Figure 4 (and the fan-out half of 6): deliveries per second to one room of M members.
 *  - ws-fleet: members spread evenly over the 4 replicas, publishers on r1 (one replica appends to
 *    the room's stream: no cross-replica append conflicts), every message stored, then fanned out;
 *    and again with the publishers spread over all replicas;
 *  - bare ws: one process, the same members and publishers, broadcasting each message it gets;
 *  - Socket.IO + Redis adapter: members over its processes, publishers on the first, then spread;
 *  - Socket.IO + Redis Streams adapter with connection state recovery, publishers on the first;
 *  - Centrifugo (2 nodes, Redis engine, history on room channels), publishers on the first node.
 * Flow control is end to end and identical for all three: publishers stop while the slowest member
 * is more than `window` messages behind, and each publisher stays under 45 messages/s (ws-fleet's
 * default per-connection limit is 50/s). Deliveries/s is taken over the steady part of the run.
 */
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import WsClient from 'ws';
import { renderProfile } from '../lib/cpuprofile.js';
import { startCentrifugoPeer } from '../lib/centrifugo.js';
import { BENCH_SECRET, startBareServer, type BenchFleet } from '../lib/fleet.js';
import { startSocketIoPeer, type SocketIoAdapter } from '../lib/peer.js';
import { startWindowProfile, type ProfiledWindow } from '../lib/window-profile.js';
import { CpuMeter, type CpuWindow } from '../../tests/support/processes.js';
import type { BenchProfile } from '../lib/profile.js';
import type { Redis } from '../lib/redis.js';
import { perSec, type FigureResult, type Row } from '../lib/report.js';
import { ratio, round, sleep } from '../lib/stats.js';
import { startWorker, type WorkerHandle } from '../lib/worker-host.js';
import { authQuery, mintHs256, withQuery } from '../workers/tokens.js';
import type { FanoutApi, FanoutKind, FanoutProgress } from '../workers/fanout-api.js';

const PUBLISHER_RATE = 45;
const PER_PUBLISHER_IN_FLIGHT = 8;
const PAD = 'x'.repeat(48);

interface Publisher {
  publish(n: number, done: (ok: boolean) => void): void;
  close(): void;
}

/**
 * A ws-fleet (or bare server) publisher: it joins the room first (the default namespace lets members
 * publish), so it also receives the room's messages, like a chat member; 16 of 1,000 receivers.
 */
export async function wsPublisher(url: string, room: string): Promise<Publisher> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const waiting = new Map<number, (ok: boolean) => void>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('publisher connect/join timeout')); }, 15_000);
    ws.once('message', () => { ws.send(JSON.stringify({ type: 'join', room, id: 'join' })); });
    ws.on('message', function joined(raw: Buffer) {
      const f = JSON.parse(raw.toString('utf8')) as { type?: string; id?: string };
      if (f.id !== 'join') return;
      clearTimeout(timer);
      ws.off('message', joined);
      if (f.type === 'ack') resolve();
      else reject(new Error(`publisher join refused: ${raw.toString('utf8')}`));
    });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  ws.on('message', (raw: Buffer) => {
    // Acks and errors carry the publish id; the room's own messages (type "message") are skipped unparsed.
    if (raw.includes('"type":"message"')) return;
    const f = JSON.parse(raw.toString('utf8')) as { type?: string; id?: number };
    if ((f.type === 'ack' || f.type === 'error') && typeof f.id === 'number') {
      waiting.get(f.id)?.(f.type === 'ack');
      waiting.delete(f.id);
    }
  });
  return {
    publish: (n, done) => {
      waiting.set(n, done);
      ws.send(JSON.stringify({ type: 'publish', room, data: { n, p: PAD }, id: n }));
    },
    close: () => { ws.terminate(); },
  };
}

async function sioPublisher(url: string, user: string, room: string): Promise<Publisher> {
  const socket: Socket = ioClient(url, { transports: ['websocket'], auth: { user }, reconnection: false, timeout: 15_000 });
  await new Promise<void>((resolve, reject) => {
    socket.once('welcome', () => { resolve(); });
    socket.once('connect_error', (err) => { reject(err); });
  });
  return {
    publish: (n, done) => { socket.emit('publish', { room, data: { n, p: PAD } }, (ack: { ok?: boolean } | undefined) => { done(ack?.ok === true); }); },
    close: () => { socket.close(); },
  };
}

/** A Centrifugo client publishing into room:<room> (JSON protocol; the reply to each publish is its ack). */
async function centrifugoPublisher(url: string, user: string, room: string): Promise<Publisher> {
  const ws = new WsClient(url, { perMessageDeflate: false });
  const waiting = new Map<number, (ok: boolean) => void>();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('centrifugo publisher connect timeout')); }, 15_000);
    ws.once('open', () => { ws.send(JSON.stringify({ id: 1, connect: { token: mintHs256(BENCH_SECRET, user), name: 'bench' } })); });
    ws.on('message', (raw: Buffer) => {
      for (const line of raw.toString('utf8').split('\n')) {
        if (line === '{}') {
          ws.send('{}');
          continue;
        }
        const f = JSON.parse(line) as { id?: number; connect?: unknown; publish?: unknown; error?: unknown };
        if (f.id === 1) {
          clearTimeout(timer);
          if (f.connect === undefined) reject(new Error(`centrifugo publisher refused: ${line}`));
          else resolve();
        } else if (typeof f.id === 'number') {
          waiting.get(f.id)?.(f.publish !== undefined);
          waiting.delete(f.id);
        }
      }
    });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  return {
    publish: (n, done) => {
      // Ids 1 (connect) is taken: publish n goes as id n + 1.
      waiting.set(n + 1, done);
      ws.send(JSON.stringify({ id: n + 1, publish: { channel: `room:${room}`, data: { n, p: PAD } } }));
    },
    close: () => { ws.terminate(); },
  };
}

export interface FanoutRun {
  system: string;
  members: number;
  publishers: number;
  published: number;
  publishErrors: number;
  delivered: number;
  expected: number;
  /** Deliveries per second over the steady part (after the first 20% of the publishing time). */
  deliveriesPerSec: number;
  messagesPerSec: number;
  lastN: number;
  closedEarly: number;
  cpu: CpuWindow;
}

export type FanoutWorker = WorkerHandle<FanoutApi, FanoutProgress>;
type Worker = FanoutWorker;

/** Runs one system's fan-out; `around` (profiling) brackets the publishing window, after the members joined. */
export async function runSystem(system: string, kind: FanoutKind, room: string, memberUrls: string[], publishers: Publisher[], workers: Worker[], p: BenchProfile, meter: CpuMeter, log: (s: string) => void, around: { before?: () => Promise<void>; after?: () => Promise<void> } = {}): Promise<FanoutRun> {
  const perWorker = Math.ceil(memberUrls.length / workers.length);
  await Promise.all(workers.map((w, i) => w.request('setup', { kind, members: memberUrls.slice(i * perWorker, (i + 1) * perWorker), room, secret: BENCH_SECRET, userPrefix: `fan${kind}w${i + 1}m` }, 180_000)));
  const mins = new Map<string, number>();
  const totals = new Map<string, number>();
  const unsubs = workers.map((w) => w.onEvent((e) => {
    mins.set(e.worker, e.min);
    totals.set(e.worker, e.total);
  }));
  const minDelivered = (): number => (mins.size < workers.length ? 0 : Math.min(...mins.values()));
  const totalDelivered = (): number => [...totals.values()].reduce((a, b) => a + b, 0);
  try {
    await around.before?.();
    await Promise.all(workers.map((w) => w.request('start', { worker: w.name, reportEveryMs: 10 })));
    let published = 0;
    let errors = 0;
    const inFlight = new Array<number>(publishers.length).fill(0);
    const nextAllowed = new Array<number>(publishers.length).fill(0);
    const maxMessages = Math.ceil((PUBLISHER_RATE * publishers.length * p.fanout.durationMs) / 1000) + 10;
    meter.start();
    const started = performance.now();
    const endAt = started + p.fanout.durationMs;
    const steadyFrom = started + p.fanout.durationMs * 0.2;
    let steadyStart: { t: number; total: number } | undefined;
    let steadyEnd: { t: number; total: number } | undefined;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now();
        if (steadyStart === undefined && now >= steadyFrom) steadyStart = { t: now, total: totalDelivered() };
        if (now >= endAt || published >= maxMessages) {
          steadyEnd = { t: now, total: totalDelivered() };
          clearInterval(tick);
          resolve();
          return;
        }
        for (let i = 0; i < publishers.length && published - minDelivered() < p.fanout.window; i++) {
          const pub = publishers[i];
          if (pub === undefined || (inFlight[i] ?? 0) >= PER_PUBLISHER_IN_FLIGHT || (nextAllowed[i] ?? 0) > now) continue;
          inFlight[i] = (inFlight[i] ?? 0) + 1;
          nextAllowed[i] = Math.max(now, nextAllowed[i] ?? 0) + 1000 / PUBLISHER_RATE;
          published += 1;
          pub.publish(published, (ok) => {
            inFlight[i] = (inFlight[i] ?? 1) - 1;
            if (!ok) errors += 1;
          });
        }
      }, 1);
    });
    // Let the members catch up (bounded), then count.
    const settleEnd = performance.now() + 15_000;
    while (minDelivered() < published && performance.now() < settleEnd) await sleep(20);
    const cpu = meter.stop();
    await around.after?.();
    const counts = (await Promise.all(workers.map((w) => w.request('stop', {})))).reduce(
      (acc, c) => ({ total: acc.total + c.total, lastN: Math.max(acc.lastN, c.lastN), closedEarly: acc.closedEarly + c.closedEarly }),
      { total: 0, lastN: 0, closedEarly: 0 },
    );
    const s0 = steadyStart ?? { t: started, total: 0 };
    const s1 = steadyEnd ?? { t: performance.now(), total: counts.total };
    const deliveriesPerSec = (s1.total - s0.total) / ((s1.t - s0.t) / 1000);
    const run: FanoutRun = {
      system,
      members: memberUrls.length,
      publishers: publishers.length,
      published,
      publishErrors: errors,
      delivered: counts.total,
      expected: published * memberUrls.length,
      deliveriesPerSec: Math.round(deliveriesPerSec),
      messagesPerSec: Math.round(deliveriesPerSec / memberUrls.length),
      lastN: counts.lastN,
      closedEarly: counts.closedEarly,
      cpu,
    };
    log(`  ${system}: ${perSec(run.deliveriesPerSec)} deliveries (${run.messagesPerSec} msg/s to ${run.members} members); ${run.delivered}/${run.expected} delivered; ${errors} publish errors${run.closedEarly > 0 ? `; ${run.closedEarly} members closed early` : ''}`);
    return run;
  } finally {
    for (const u of unsubs) u();
    await Promise.all(workers.map((w) => w.request('teardown', {})));
  }
}

/** Which URL publisher i uses: the first server, or spread over all of them. */
const pick = (urls: string[], spread: boolean, i: number): string => urls[spread ? i % urls.length : 0] ?? '';

export async function fanoutFigure(fleet: BenchFleet, redis: Redis | undefined, p: BenchProfile, log: (s: string) => void, what: { fleet: boolean; peer: boolean }): Promise<FigureResult> {
  const M = p.fanout.members;
  log(`figure 4${what.peer ? ' + 6' : ''}: room fan-out to ${M} members, ${p.fanout.publishers} publishers, window ${p.fanout.window} messages, ${p.fanout.durationMs} ms`);
  const workers: Worker[] = Array.from({ length: p.fanout.workers }, (_, i) => startWorker<FanoutApi, FanoutProgress>(`fanout-${i + 1}`, 'fanout'));
  const groups: Record<string, () => number[]> = { replicas: () => fleet.replicas.map((r) => r.proc.pid), nats: () => fleet.natsPids(), generator: () => [process.pid, ...workers.map((w) => w.pid)] };
  const meter = new CpuMeter(() => Object.fromEntries(Object.entries(groups).map(([k, f]) => [k, f()])), 500);
  const runs: FanoutRun[] = [];
  // A fresh room per run: no run inherits another's stream state.
  let roomNo = 0;
  const nextRoom = (): string => `fan${++roomNo}`;
  let room = '';
  let profile: ProfiledWindow | undefined;
  try {
    if (what.fleet || what.peer) {
      const urls = fleet.replicas.map((r) => r.wsUrl);
      for (const spread of [false, true]) {
        room = nextRoom();
        const pubs = await Promise.all(Array.from({ length: p.fanout.publishers }, async (_, i) => wsPublisher(withQuery(pick(urls, spread, i), await authQuery({ kind: 'token', secret: BENCH_SECRET }, `fanpub${i}`)), room)));
        let profiler: Awaited<ReturnType<typeof startWindowProfile>>;
        const around = !spread && p.cpuProfiles ? { before: async () => { profiler = await startWindowProfile(fleet.replicas, 'fanout'); }, after: async () => { profile = await profiler?.stop(`room fan-out to ${M} members, publishers on r1`); } } : {};
        try {
          runs.push(await runSystem(`ws-fleet (4 replicas), publishers ${spread ? 'spread over all' : 'on r1'}`, 'wsfleet', room, Array.from({ length: M }, (_, i) => urls[i % urls.length] ?? ''), pubs, workers, p, meter, log, around));
        } finally {
          for (const x of pubs) x.close();
        }
      }
    }
    if (what.fleet) {
      room = nextRoom();
      const bare = await startBareServer('bench-bare-fanout');
      groups.bare = () => [bare.proc.pid];
      try {
        const pubs = await Promise.all(Array.from({ length: p.fanout.publishers }, (_, i) => wsPublisher(withQuery(bare.wsUrl, `user=barepub${i}`), room)));
        try {
          runs.push(await runSystem('bare ws (1 process)', 'bare', room, Array.from({ length: M }, () => bare.wsUrl), pubs, workers, p, meter, log));
        } finally {
          for (const x of pubs) x.close();
        }
      } finally {
        delete groups.bare;
        await bare.stop();
      }
    }
    if (what.peer) {
      if (redis === undefined) throw new Error('the Socket.IO and Centrifugo peers need Redis');
      const variants: { adapter: SocketIoAdapter; spread: boolean; name: string }[] = [
        { adapter: 'pubsub', spread: false, name: 'Socket.IO+Redis' },
        { adapter: 'pubsub', spread: true, name: 'Socket.IO+Redis' },
        { adapter: 'streams', spread: false, name: 'Socket.IO+Redis Streams+recovery' },
      ];
      for (const v of variants) {
        room = nextRoom();
        const peer = await startSocketIoPeer(redis, p.socketio.processes, v.adapter);
        groups.peer = () => [...peer.procs.map((x) => x.pid), redis.proc.pid];
        try {
          const pubs = await Promise.all(Array.from({ length: p.fanout.publishers }, (_, i) => sioPublisher(pick(peer.urls, v.spread, i), `siopub${i}`, room)));
          try {
            runs.push(await runSystem(`${v.name} (${peer.urls.length} processes), publishers ${v.spread ? 'spread over all' : 'on the first'}`, 'socketio', room, Array.from({ length: M }, (_, i) => peer.urls[i % peer.urls.length] ?? ''), pubs, workers, p, meter, log));
          } finally {
            for (const x of pubs) x.close();
          }
        } finally {
          delete groups.peer;
          await peer.stop();
        }
      }
      room = nextRoom();
      const cf = await startCentrifugoPeer(redis, p.centrifugo.nodes, BENCH_SECRET, 'centrifugo-fanout');
      groups.peer = () => [...cf.procs.map((x) => x.pid), redis.proc.pid];
      try {
        const pubs = await Promise.all(Array.from({ length: p.fanout.publishers }, (_, i) => centrifugoPublisher(cf.nodeUrls[0] ?? '', `cfpub${i}`, room)));
        try {
          runs.push(await runSystem(`Centrifugo+Redis (${cf.nodeUrls.length} nodes, history), publishers on the first`, 'centrifugo', room, Array.from({ length: M }, (_, i) => cf.nodeUrls[i % cf.nodeUrls.length] ?? ''), pubs, workers, p, meter, log));
        } finally {
          for (const x of pubs) x.close();
        }
      } finally {
        delete groups.peer;
        await cf.stop();
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
  const profileDetail = profile === undefined ? '' : `\n\n### Replica CPU profiles: fan-out\n\n#### ${profile.what} (measured run, figure 4)\n\n${renderProfile(profile.summary)}`;
  return {
    rows: rowsFrom(runs, M, what, profile !== undefined),
    data: { members: M, runs, ...(profile === undefined ? {} : { profile: { what: profile.what, summary: profile.summary, files: profile.files } }) },
    detail: detailTable(runs) + profileDetail,
  };
}

function rowsFrom(runs: FanoutRun[], members: number, what: { fleet: boolean; peer: boolean }, profiled: boolean): Row[] {
  const find = (prefix: string, suffix: string): FanoutRun | undefined => runs.find((r) => r.system.startsWith(prefix) && r.system.endsWith(suffix));
  const one = find('ws-fleet', 'on r1');
  const spread = find('ws-fleet', 'spread over all');
  const bare = find('bare', '');
  const limit = (ours: FanoutRun): string => `replicas ${ours.cpu.cpuSec.replicas ?? '?'} + NATS ${ours.cpu.cpuSec.nats ?? '?'} CPU-s for ${ours.delivered} deliveries; machine ${ours.cpu.machineBusySec} CPU-s busy of ${ours.cpu.wallSec} s wall, CPU pressure ${ours.cpu.cpuPressurePct}%${profiled ? '; profile: "Replica CPU profiles", fan-out' : ''}`;
  const rows: Row[] = [];
  const add = (figure: string, metric: string, ours: FanoutRun | undefined, theirs: FanoutRun | undefined, name: string, min: number | undefined): void => {
    if (ours === undefined || theirs === undefined) return;
    const r = ratio(ours.deliveriesPerSec, theirs.deliveriesPerSec);
    const met = min === undefined || r === null ? null : r >= min;
    rows.push({ figure, metric, fleet: perSec(ours.deliveriesPerSec), baseline: `${perSec(theirs.deliveriesPerSec)} ${name}`, ratio: r, target: min === undefined ? 'informational' : `≥ ${min}×`, met, ...(met === false ? { limit: limit(ours) } : {}) });
  };
  if (what.fleet) add('4', `room fan-out, ${members} members: deliveries/s`, one, bare, 'bare ws', 0.7);
  if (what.peer) {
    add('6', `room fan-out, ${members} members, publishers on one replica: ws-fleet vs Socket.IO+Redis`, one, find('Socket.IO+Redis (', 'on the first'), 'Socket.IO', 1);
    add('6', `room fan-out, ${members} members, publishers spread over all: ws-fleet vs Socket.IO+Redis`, spread, find('Socket.IO+Redis (', 'spread over all'), 'Socket.IO', 1);
    add('6', `room fan-out, ${members} members: ws-fleet vs Socket.IO+Redis Streams with recovery`, one, find('Socket.IO+Redis Streams', ''), 'Socket.IO CSR', undefined);
    add('6', `room fan-out, ${members} members: ws-fleet vs Centrifugo with history (within 1.5×)`, one, find('Centrifugo', ''), 'Centrifugo', round(1 / 1.5, 2));
  }
  return rows;
}

function detailTable(runs: FanoutRun[]): string {
  const fmt = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    '### Fan-out detail (figure 4 and 6)',
    '',
    '| system | deliveries/s | messages/s | delivered / expected | publish errors | CPU-s used by group | run-queue wait s | machine busy CPU-s / wall s | CPU pressure |',
    '|---|---|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.system} | ${perSec(r.deliveriesPerSec)} | ${r.messagesPerSec} | ${r.delivered}/${r.expected} | ${r.publishErrors} | ${fmt(r.cpu.cpuSec)} | ${fmt(r.cpu.runQueueWaitSec)} | ${r.cpu.machineBusySec} / ${r.cpu.wallSec} | ${r.cpu.cpuPressurePct}% |`),
  ].join('\n');
}
