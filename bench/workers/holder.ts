/**
 * Holder worker: opens many WebSocket clients (bounded concurrency, count and deadline), holds them
 * idle, checks a sample with pings, and for the drain test reconnects closed ones with ?resume and
 * tracks what they received. Frames are only parsed where the answer matters (pongs, tracking).
 */
import { summarize } from '../lib/stats.js';
import { emit, serveWorker } from '../lib/worker-runtime.js';
import type { DrainReport, DrainReportRequest, HolderApi, HolderProgress, OpenRequest, OpenResult, PingResult } from './holder-api.js';
import { RawWsClient } from './raw-ws.js';
import { authQuery, withQuery } from './tokens.js';

interface Held {
  user: string;
  query: string;
  ws: RawWsClient;
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
/** Why reconnect attempts failed (drain test), by reason. */
const reconnectFailures: Record<string, number> = {};
let stopping = false;

function trackFrame(h: Held, text: string): void {
  let f: { type?: unknown; seq?: unknown; room?: unknown; data?: unknown };
  try {
    f = JSON.parse(text) as typeof f;
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

/**
 * Opens one raw WebSocket client (bench/workers/raw-ws.ts: cheap on the generator's CPU) and resolves
 * with it and the server named in its welcome frame. Later text frames go to `onFrame`, from the same
 * read as the welcome on (a resume replay may share it); the end of the connection to `onClose`.
 */
function connectOne(url: string, localAddress: string | undefined, timeoutMs: number, onFrame: (text: string) => void, onClose: (code: number) => void): Promise<{ ws: RawWsClient; server: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let failed = false;
    let client: RawWsClient | undefined;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      failed = true;
      clearTimeout(timer);
      client?.close();
      reject(new Error(reason));
    };
    const timer = setTimeout(() => { fail('timeout'); }, timeoutMs);
    RawWsClient.open({
      url,
      ...(localAddress === undefined ? {} : { localAddress }),
      timeoutMs,
      onControlText: (text, self) => {
        if (settled) {
          onFrame(text);
          return;
        }
        let f: { type?: unknown; server?: unknown };
        try {
          f = JSON.parse(text) as typeof f;
        } catch {
          fail('no_welcome');
          return;
        }
        if (f.type !== 'welcome') {
          fail('no_welcome');
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve({ ws: self, server: String(f.server) });
      },
      onClose: (code) => {
        if (!settled) fail('closed_before_welcome');
        else onClose(code);
      },
    }).then(
      (c) => {
        client = c;
        if (failed) c.close();
      },
      (err: unknown) => {
        const e = err as Error & { code?: string };
        const m = /upgrade refused: HTTP\/1\.1 (\d+)[^[]*(?:\[(\w+)\])?/.exec(e.message);
        fail(m?.[1] !== undefined ? `http_${m[1]}${m[2] === undefined ? '' : `_${m[2]}`}` : (e.code ?? e.message));
      },
    );
  });
}

function frameHandler(ref: { h?: Held }): (text: string) => void {
  return (text) => {
    const h = ref.h;
    if (h !== undefined && (tracking || h.onPong !== undefined)) trackFrame(h, text);
  };
}

function closeHandler(ref: { h?: Held }, reconnectUrl: string | undefined): (code: number) => void {
  return (code) => {
    const h = ref.h;
    if (h === undefined) return;
    h.closeCodes.push(code);
    if (stopping || reconnectUrl === undefined) return;
    h.closedAt = Date.now();
    void reconnect(h, reconnectUrl);
  };
}

/**
 * Reconnects like a well-behaved client: exponential backoff with full jitter (100 ms doubling to
 * 2 s), so a thousand clients closed together do not retry in lock step; bounded at 60 s.
 */
async function reconnect(h: Held, url: string): Promise<void> {
  const giveUpAt = Date.now() + 60_000;
  for (let attempt = 0; !stopping && Date.now() < giveUpAt; attempt++) {
    try {
      const { ws, server } = await connectOne(withQuery(url, `${h.query}&resume=${h.lastSeq}`), undefined, 10_000, frameHandler({ h }), closeHandler({ h }, url));
      h.ws = ws;
      h.server = server;
      h.reconnectedAt = Date.now();
      return;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      reconnectFailures[reason] = (reconnectFailures[reason] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 100 * 2 ** attempt)));
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
        const { ws, server } = await connectOne(withQuery(target.url, query), target.localAddress, req.connectTimeoutMs, frameHandler(ref), closeHandler(ref, req.reconnectUrl));
        connectMs.push(performance.now() - t);
        const h: Held = { user, query, ws, server, lastSeq: 0, seqs: new Set(), duplicates: 0, marks: new Map(), closeCodes: [] };
        ref.h = h;
        held.push(h);
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
  for (const h of held) if (h.ws.open) n += 1;
  return n;
}

async function ping(sample: number, timeoutMs: number): Promise<PingResult> {
  const openOnes = held.filter((h) => h.ws.open);
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
    h.ws.sendText('{"type":"ping"}');
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
    if (h.ws.open) servers[h.server] = (servers[h.server] ?? 0) + 1;
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
    reconnectFailures: { ...reconnectFailures },
  };
}

async function closeAll(): Promise<{ closed: number }> {
  stopping = true;
  let closed = 0;
  for (const h of held) {
    if (h.ws.open) closed += 1;
    h.ws.close();
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
