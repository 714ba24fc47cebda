/**
 * Holder worker: opens many WebSocket clients (bounded concurrency, count and deadline), holds them
 * idle, checks a sample with pings, and for the drain test reconnects closed ones with ?resume and
 * tracks what they received. Frames are only parsed where the answer matters (pongs, tracking).
 */
import WebSocket from 'ws';
import { summarize } from '../lib/stats.js';
import { emit, serveWorker } from '../lib/worker-runtime.js';
import type { DrainReport, DrainReportRequest, HolderApi, HolderProgress, OpenRequest, OpenResult, PingResult } from './holder-api.js';
import { authQuery, withQuery } from './tokens.js';

interface Held {
  user: string;
  query: string;
  ws: WebSocket;
  server: string;
  lastSeq: number;
  seqs: Set<number>;
  duplicates: number;
  marks: Map<string, number>;
  closeCodes: number[];
  closedAt?: number;
  reconnectedAt?: number;
  onPong?: () => void;
}

const held: Held[] = [];
let tracking = false;
let stopping = false;

function trackFrame(h: Held, raw: Buffer): void {
  let f: { type?: unknown; seq?: unknown; room?: unknown; data?: unknown };
  try {
    f = JSON.parse(raw.toString('utf8')) as typeof f;
  } catch {
    return;
  }
  if (f.type === 'pong') {
    h.onPong?.();
    return;
  }
  if (f.type !== 'message' || typeof f.seq !== 'number' || f.room !== undefined) return;
  if (h.seqs.has(f.seq)) {
    h.duplicates += 1;
    return;
  }
  h.seqs.add(f.seq);
  h.lastSeq = Math.max(h.lastSeq, f.seq);
  const mark = (f.data as { mark?: unknown } | null)?.mark;
  if (typeof mark === 'string' && !h.marks.has(mark)) h.marks.set(mark, Date.now());
}

/** Opens one socket and resolves with it and the server named in the welcome frame. */
function connectOne(url: string, localAddress: string | undefined, timeoutMs: number, onFrame: (raw: Buffer) => void): Promise<{ ws: WebSocket; server: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress === undefined ? {} : { localAddress }), handshakeTimeout: timeoutMs });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('timeout'));
    }, timeoutMs);
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`http_${String(res.statusCode)}`));
    });
    ws.once('error', (err: Error & { code?: string }) => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    });
    ws.once('close', () => {
      clearTimeout(timer);
      reject(new Error('closed_before_welcome'));
    });
    ws.once('message', (raw: Buffer) => {
      clearTimeout(timer);
      let server = '?';
      try {
        const f = JSON.parse(raw.toString('utf8')) as { type?: unknown; server?: unknown };
        if (f.type !== 'welcome') {
          ws.terminate();
          reject(new Error('no_welcome'));
          return;
        }
        server = String(f.server);
      } catch {
        ws.terminate();
        reject(new Error('no_welcome'));
        return;
      }
      ws.removeAllListeners('close');
      ws.removeAllListeners('error');
      ws.on('error', () => undefined);
      // Registered now, in the welcome's own event: frames of the same read (a replay) follow at once.
      ws.on('message', onFrame);
      resolve({ ws, server });
    });
  });
}

function frameHandler(ref: { h?: Held }): (raw: Buffer) => void {
  return (raw) => {
    const h = ref.h;
    if (h !== undefined && (tracking || h.onPong !== undefined)) trackFrame(h, raw);
  };
}

function attach(h: Held, reconnectUrl: string | undefined): void {
  h.ws.once('close', (code: number) => {
    h.closeCodes.push(code);
    if (stopping || reconnectUrl === undefined) return;
    h.closedAt = Date.now();
    void reconnect(h, reconnectUrl);
  });
}

async function reconnect(h: Held, url: string): Promise<void> {
  for (let attempt = 0; attempt < 100 && !stopping; attempt++) {
    try {
      const { ws, server } = await connectOne(withQuery(url, `${h.query}&resume=${h.lastSeq}`), undefined, 5000, frameHandler({ h }));
      h.ws = ws;
      h.server = server;
      h.reconnectedAt = Date.now();
      attach(h, url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
}

async function open(req: OpenRequest): Promise<OpenResult> {
  const started = performance.now();
  const connectMs: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  let opened = 0;
  let failed = 0;
  let consecutiveFailures = 0;
  let stoppedBy: OpenResult['stoppedBy'] = 'count';
  tracking = tracking || req.reconnectUrl !== undefined;
  const progress = setInterval(() => {
    emit({ opened, failed, open: countOpen() } satisfies HolderProgress);
  }, 1000);
  const lane = async (): Promise<void> => {
    for (;;) {
      if (next >= req.count) return;
      if (Date.now() > req.deadline) {
        stoppedBy = 'deadline';
        return;
      }
      if (consecutiveFailures >= req.maxConsecutiveFailures) {
        stoppedBy = 'failures';
        return;
      }
      const i = next++;
      const target = req.targets[i % req.targets.length];
      if (target === undefined) throw new Error('open: no targets');
      const user = `${req.userPrefix}${req.userStart + i}`;
      const query = await authQuery(req.auth, user);
      const t = performance.now();
      try {
        const ref: { h?: Held } = {};
        const { ws, server } = await connectOne(withQuery(target.url, query), target.localAddress, req.connectTimeoutMs, frameHandler(ref));
        connectMs.push(performance.now() - t);
        const h: Held = { user, query, ws, server, lastSeq: 0, seqs: new Set(), duplicates: 0, marks: new Map(), closeCodes: [] };
        ref.h = h;
        held.push(h);
        attach(h, req.reconnectUrl);
        opened += 1;
        consecutiveFailures = 0;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        failures[reason] = (failures[reason] ?? 0) + 1;
        failed += 1;
        consecutiveFailures += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, req.concurrency) }, lane));
  clearInterval(progress);
  return { opened, failed, failures, elapsedMs: Math.round(performance.now() - started), connectMs: summarize(connectMs, 1), open: countOpen(), stoppedBy };
}

function countOpen(): number {
  let n = 0;
  for (const h of held) if (h.ws.readyState === WebSocket.OPEN) n += 1;
  return n;
}

async function ping(sample: number, timeoutMs: number): Promise<PingResult> {
  const openOnes = held.filter((h) => h.ws.readyState === WebSocket.OPEN);
  const step = Math.max(1, Math.floor(openOnes.length / Math.max(1, sample)));
  const chosen = openOnes.filter((_, i) => i % step === 0).slice(0, sample);
  const rtts: number[] = [];
  let failed = 0;
  await Promise.all(chosen.map((h) => new Promise<void>((resolve) => {
    const t = performance.now();
    const timer = setTimeout(() => {
      h.onPong = undefined;
      failed += 1;
      resolve();
    }, timeoutMs);
    h.onPong = () => {
      clearTimeout(timer);
      h.onPong = undefined;
      rtts.push(performance.now() - t);
      resolve();
    };
    h.ws.send('{"type":"ping"}');
  })));
  return { sampled: chosen.length, ok: rtts.length, failed, rttMs: summarize(rtts, 2) };
}

function drainReport(req: DrainReportRequest): DrainReport {
  const codes: Record<string, number> = {};
  const servers: Record<string, number> = {};
  const reconnectMs: number[] = [];
  const marked = new Set(req.markedUsers);
  let closedByServer = 0;
  let reconnected = 0;
  let firstClose = Number.POSITIVE_INFINITY;
  let lastClose = 0;
  let lastReconnect = 0;
  let markedReceived = 0;
  let lastMark = 0;
  let duplicates = 0;
  for (const h of held) {
    for (const c of h.closeCodes) codes[String(c)] = (codes[String(c)] ?? 0) + 1;
    duplicates += h.duplicates;
    if (h.closedAt !== undefined) {
      closedByServer += 1;
      firstClose = Math.min(firstClose, h.closedAt);
      lastClose = Math.max(lastClose, h.closedAt);
    }
    if (h.reconnectedAt !== undefined && h.closedAt !== undefined) {
      reconnected += 1;
      reconnectMs.push(h.reconnectedAt - h.closedAt);
      lastReconnect = Math.max(lastReconnect, h.reconnectedAt);
    }
    if (h.ws.readyState === WebSocket.OPEN) servers[h.server] = (servers[h.server] ?? 0) + 1;
    if (marked.has(h.user)) {
      const at = h.marks.get(req.mark);
      if (at !== undefined) {
        markedReceived += 1;
        lastMark = Math.max(lastMark, at);
      }
    }
  }
  return {
    connections: held.length,
    closedByServer,
    closeCodes: codes,
    reconnected,
    notReconnected: closedByServer - reconnected,
    reconnectMs: summarize(reconnectMs, 0),
    firstCloseAfterMs: Number.isFinite(firstClose) ? firstClose - req.t0 : -1,
    lastCloseAfterMs: lastClose > 0 ? lastClose - req.t0 : -1,
    allReconnectedAfterMs: lastReconnect > 0 ? lastReconnect - req.t0 : -1,
    markedReceived,
    markedMissing: marked.size - markedReceived,
    lastMarkAfterMs: lastMark > 0 ? lastMark - req.t0 : -1,
    duplicates,
    serversAfter: servers,
  };
}

async function closeAll(): Promise<{ closed: number }> {
  stopping = true;
  let closed = 0;
  for (const h of held) {
    if (h.ws.readyState !== WebSocket.CLOSED) closed += 1;
    h.ws.terminate();
  }
  held.length = 0;
  tracking = false;
  // Let the terminations reach the servers before answering.
  await new Promise((r) => setTimeout(r, 200));
  stopping = false;
  return { closed };
}

serveWorker<HolderApi>({
  open,
  count: () => Promise.resolve({ open: countOpen(), total: held.length }),
  ping: (req) => ping(req.sample, req.timeoutMs),
  drainReport: (req) => Promise.resolve(drainReport(req)),
  close: () => closeAll(),
});
