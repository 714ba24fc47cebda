/**
 * Latency worker: senders and receivers live in this one process so each message's latency is
 * measured on one monotonic clock (performance.now() in the message, read again on receipt).
 * Open loop: messages leave on a fixed schedule (rate), whatever the answers; the schedule's lag is
 * reported, so a saturated generator shows as such. Bounded: rate × (warm-up + duration) messages.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { summarize } from '../lib/stats.js';
import { serveWorker } from '../lib/worker-runtime.js';
import type { LatencyApi, LatencyResult, LatencyRun, LatencySetup } from './latency-api.js';
import { authQuery, mintHs256, withQuery } from './tokens.js';

interface Payload {
  r: number;
  n: number;
  t: number;
}

interface Transport {
  connections: number;
  send(k: number, payload: Payload): void;
  close(): Promise<void>;
}

/** Where received messages are counted; replaced at each run. */
let onReceive: (p: Payload) => void = () => undefined;
let onError: (code: string) => void = () => undefined;
const transports = new Map<string, Transport>();
let runId = 0;
/** Messages of the current run sent and not yet received (acknowledged, for jetstream). */
let outstanding = 0;

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${url}: timeout`)); }, 15_000);
    ws.once('message', () => { clearTimeout(timer); resolve(ws); }); // the welcome
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
    ws.once('unexpected-response', (_q, res) => { clearTimeout(timer); reject(new Error(`connect: HTTP ${String(res.statusCode)}`)); });
  });
}

async function setupWsFleet(s: Extract<LatencySetup, { kind: 'wsfleet' }>): Promise<Transport> {
  const senders: WebSocket[] = [];
  const receivers: string[] = [];
  const sockets: WebSocket[] = [];
  // Connect in small batches: hundreds of upgrades at once would only queue in the replicas.
  for (let base = 0; base < s.pairs.length; base += 16) {
    await Promise.all(s.pairs.slice(base, base + 16).map(async (pair, j) => {
      const i = base + j;
      const sender = `${s.userPrefix}s${i}`;
      const receiver = `${s.userPrefix}r${i}`;
      const rx = await openWs(withQuery(pair.receiver, await authQuery({ kind: 'token', secret: s.secret }, receiver)));
      const tx = await openWs(withQuery(pair.sender, await authQuery({ kind: 'token', secret: s.secret }, sender)));
      rx.on('message', (raw: Buffer) => {
        const f = JSON.parse(raw.toString('utf8')) as { type?: string; data?: Payload };
        if (f.type === 'message' && f.data !== undefined) onReceive(f.data);
      });
      tx.on('message', (raw: Buffer) => {
        const f = JSON.parse(raw.toString('utf8')) as { type?: string; code?: string; delivered?: number; forwarded?: number };
        if (f.type === 'error') onError(f.code ?? 'error');
        // A volatile ack counts this replica's sockets only; `forwarded` says it went to the recipient's replica.
        else if (f.type === 'ack' && f.delivered === 0 && (f.forwarded ?? 0) === 0) onError('ack_delivered_0');
      });
      senders[i] = tx;
      receivers[i] = receiver;
      sockets.push(rx, tx);
    }));
  }
  return {
    connections: sockets.length,
    send: (k, payload) => {
      const i = k % senders.length;
      senders[i]?.send(JSON.stringify({ type: 'send', to: receivers[i], data: payload, id: payload.n }));
    },
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

function openSio(url: string, user: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = ioClient(url, { transports: ['websocket'], auth: { user }, reconnection: false, timeout: 15_000 });
    socket.once('welcome', () => { resolve(socket); });
    socket.once('connect_error', (err) => { socket.close(); reject(err); });
  });
}

async function setupSocketIo(s: Extract<LatencySetup, { kind: 'socketio' }>): Promise<Transport> {
  const senders: Socket[] = [];
  const receivers: string[] = [];
  const sockets: Socket[] = [];
  for (let base = 0; base < s.pairs.length; base += 16) {
    await Promise.all(s.pairs.slice(base, base + 16).map(async (pair, j) => {
      const i = base + j;
      const receiver = `${s.userPrefix}r${i}`;
      const rx = await openSio(pair.receiver, receiver);
      const tx = await openSio(pair.sender, `${s.userPrefix}s${i}`);
      rx.on('message', (m: { data?: Payload }) => {
        if (m.data !== undefined) onReceive(m.data);
      });
      senders[i] = tx;
      receivers[i] = receiver;
      sockets.push(rx, tx);
    }));
  }
  return {
    connections: sockets.length,
    send: (k, payload) => {
      const i = k % senders.length;
      senders[i]?.emit('send', { to: receivers[i], data: payload }, (ack: { ok?: boolean } | undefined) => {
        if (ack?.ok !== true) onError('nack');
      });
    },
    close: async () => {
      for (const s2 of sockets) s2.close();
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

/** A Centrifugo client connection (JSON protocol, newline-separated replies and pushes per frame). */
function openCentrifugo(url: string, token: string, onLine: (line: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${url}: timeout`)); }, 15_000);
    let connected = false;
    ws.once('open', () => { ws.send(JSON.stringify({ id: 1, connect: { token, name: 'bench' } })); });
    ws.on('message', (raw: Buffer) => {
      for (const line of raw.toString('utf8').split('\n')) {
        if (line === '{}') ws.send('{}'); // the server's ping: pong
        else if (!connected) {
          const f = JSON.parse(line) as { id?: number; connect?: unknown; error?: { code: number; message: string } };
          clearTimeout(timer);
          if (f.connect === undefined) {
            ws.terminate();
            reject(new Error(`centrifugo connect refused: ${line}`));
            return;
          }
          connected = true;
          resolve(ws);
        } else onLine(line);
      }
    });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

async function setupCentrifugo(s: Extract<LatencySetup, { kind: 'centrifugo' }>): Promise<Transport> {
  const senders: WebSocket[] = [];
  const channels: string[] = [];
  const sockets: WebSocket[] = [];
  let nextId = 2;
  for (let base = 0; base < s.pairs.length; base += 16) {
    await Promise.all(s.pairs.slice(base, base + 16).map(async (pair, j) => {
      const i = base + j;
      const receiver = `${s.userPrefix}r${i}`;
      const rx = await openCentrifugo(pair.receiver, mintHs256(s.secret, receiver), (line) => {
        const f = JSON.parse(line) as { push?: { pub?: { data?: Payload } } };
        const data = f.push?.pub?.data;
        if (data !== undefined) onReceive(data);
      });
      const tx = await openCentrifugo(pair.sender, mintHs256(s.secret, `${s.userPrefix}s${i}`), (line) => {
        const f = JSON.parse(line) as { error?: { code?: number } };
        if (f.error !== undefined) onError(`centrifugo_${String(f.error.code ?? 'error')}`);
      });
      senders[i] = tx;
      channels[i] = `personal:#${receiver}`;
      sockets.push(rx, tx);
    }));
  }
  return {
    connections: sockets.length,
    send: (k, payload) => {
      const i = k % senders.length;
      senders[i]?.send(JSON.stringify({ id: nextId++, publish: { channel: channels[i], data: payload } }));
    },
    close: async () => {
      for (const ws of sockets) ws.terminate();
      await new Promise((r) => setTimeout(r, 100));
    },
  };
}

async function setupNats(s: Extract<LatencySetup, { kind: 'nats' }>): Promise<Transport> {
  const pub = await natsConnect({ servers: s.pubServer, user: s.user, pass: s.pass, noRandomize: true });
  const sub = await natsConnect({ servers: s.subServer, user: s.user, pass: s.pass, noRandomize: true });
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  // Per worker: another worker's subscriber must not count this worker's messages (other clock).
  const base = `benchlat.core.${process.pid}`;
  sub.subscribe(`${base}.>`, { callback: (err, msg) => {
    if (err === null) onReceive(JSON.parse(decoder.decode(msg.data)) as Payload);
  } });
  await sub.flush();
  // The subscription's interest must reach the publisher's node over the cluster route.
  await waitForInterest(pub, sub, `benchlat.probe.${process.pid}`);
  return {
    connections: 2,
    send: (k, payload) => { pub.publish(`${base}.${k % s.subjects}`, encoder.encode(JSON.stringify(payload))); },
    close: async () => { await Promise.all([pub.close(), sub.close()]); },
  };
}

async function waitForInterest(pub: NatsConnection, sub: NatsConnection, subject: string): Promise<void> {
  let seen = false as boolean; // set by the subscription's callback
  const probe = sub.subscribe(subject, { callback: () => { seen = true; } });
  await sub.flush();
  for (let i = 0; i < 100 && !seen; i++) {
    pub.publish(subject, new Uint8Array());
    await pub.flush();
    await new Promise((r) => setTimeout(r, 20));
  }
  probe.unsubscribe();
  if (!seen) throw new Error('the subscriber never heard the publisher across the cluster');
}

async function setupJetStream(s: Extract<LatencySetup, { kind: 'jetstream' }>): Promise<Transport> {
  const nc = await natsConnect({ servers: s.servers, user: s.user, pass: s.pass });
  const jsm = await jetstreamManager(nc);
  const subject = s.stream.toLowerCase();
  await jsm.streams.delete(s.stream).catch(() => false);
  await jsm.streams.add({ name: s.stream, subjects: [`${subject}.*`], num_replicas: s.replicas, storage: 'file', max_bytes: 64 * 1024 * 1024, max_age: 600 * 1e9, discard: 'old' });
  const js: JetStreamClient = jetstream(nc, { timeout: 5000 });
  const encoder = new TextEncoder();
  return {
    connections: 1,
    send: (k, payload) => {
      js.publish(`${subject}.${k % s.subjects}`, encoder.encode(JSON.stringify(payload))).then(
        () => { onReceive(payload); },
        (err: unknown) => { onError(err instanceof Error ? err.name : 'error'); },
      );
    },
    close: async () => {
      await jsm.streams.delete(s.stream).catch(() => false);
      await nc.close();
    },
  };
}

async function open(s: LatencySetup): Promise<Transport> {
  switch (s.kind) {
    case 'wsfleet': return setupWsFleet(s);
    case 'socketio': return setupSocketIo(s);
    case 'centrifugo': return setupCentrifugo(s);
    case 'nats': return setupNats(s);
    case 'jetstream': return setupJetStream(s);
  }
}

async function setup(req: { key: string; spec: LatencySetup }): Promise<{ connections: number }> {
  await transports.get(req.key)?.close();
  const t = await open(req.spec);
  transports.set(req.key, t);
  return { connections: t.connections };
}

async function run(r: LatencyRun): Promise<LatencyResult> {
  const t = transports.get(r.key);
  if (t === undefined) throw new Error(`run ${r.key} before its setup`);
  runId += 1;
  const id = runId;
  const total = Math.floor((r.rate * (r.warmupMs + r.durationMs)) / 1000);
  const seen = new Uint8Array(total);
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let measuredSent = 0;
  let measuredReceived = 0;
  let sent = 0;
  let maxLag = 0;
  let throttled = 0;
  outstanding = 0;
  const start = performance.now();
  const measureFrom = start + r.warmupMs;
  const measureTo = start + r.warmupMs + r.durationMs;
  let lastMeasuredReceipt = measureFrom;
  onError = (code) => { errors[code] = (errors[code] ?? 0) + 1; };
  onReceive = (p) => {
    if (p.r !== id || p.n >= total || seen[p.n] === 1) return;
    seen[p.n] = 1;
    outstanding -= 1;
    if (p.t >= measureFrom && p.t < measureTo) {
      const now = performance.now();
      latencies.push(now - p.t);
      measuredReceived += 1;
      lastMeasuredReceipt = now;
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * r.rate) / 1000));
      while (sent < due) {
        const scheduled = start + (sent * 1000) / r.rate;
        maxLag = Math.max(maxLag, now - scheduled);
        if (outstanding >= r.maxOutstanding) {
          // Skipped, not queued: the slot's number is used up, so nothing waits for it.
          seen[sent] = 1;
          throttled += 1;
          sent += 1;
          continue;
        }
        const ts = performance.now();
        if (ts >= measureFrom && ts < measureTo) measuredSent += 1;
        outstanding += 1;
        t.send(sent, { r: id, n: sent, t: ts });
        sent += 1;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const tailEnd = performance.now() + r.tailMs;
  while (measuredReceived < measuredSent && performance.now() < tailEnd) await new Promise((res) => setTimeout(res, 20));
  const windowSec = Math.max(r.durationMs, lastMeasuredReceipt - measureFrom) / 1000;
  return {
    sent,
    measuredSent,
    measuredReceived,
    latenciesMs: latencies,
    summary: summarize(latencies),
    achievedRate: Math.round(measuredReceived / windowSec),
    errors,
    maxScheduleLagMs: Math.round(maxLag),
    throttled,
  };
}

async function settle(timeoutMs: number): Promise<{ outstanding: number }> {
  const end = performance.now() + timeoutMs;
  while (outstanding > 0 && performance.now() < end) await new Promise((res) => setTimeout(res, 50));
  return { outstanding };
}

serveWorker<LatencyApi>({
  setup,
  run,
  settle: (req) => settle(req.timeoutMs),
  teardown: async () => {
    let n = 0;
    for (const t of transports.values()) {
      n += t.connections;
      await t.close();
    }
    transports.clear();
    return { closed: n };
  },
});
