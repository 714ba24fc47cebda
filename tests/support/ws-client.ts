import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type?: string };

export interface TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[];
  readonly welcome: Frame;
  send(frame: unknown): void;
  sendRaw(data: string | Buffer, binary?: boolean): void;
  /** Resolves with the first frame (already received or coming) that matches; throws after timeoutMs. */
  next(match: (f: Frame) => boolean, timeoutMs?: number, what?: string): Promise<Frame>;
  /**
   * Sends a frame with its own id (a retry) or a fresh one, and waits for the ack or error carrying
   * that id that arrives after this send.
   */
  request(frame: Record<string, unknown>, timeoutMs?: number): Promise<Frame>;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

let counter = 0;

/** Opens a WebSocket and waits for the welcome frame. */
export async function connectClient(url: string, opts: { headers?: Record<string, string>; protocols?: string[]; timeoutMs?: number } = {}): Promise<TestClient> {
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
  const frames: Frame[] = [];
  const waiters = new Set<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void; from: number }>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => { resolve({ code, reason: reason.toString() }); });
  });
  ws.on('message', (data) => {
    let f: Frame;
    try {
      f = JSON.parse((data as Buffer).toString('utf8')) as Frame;
    } catch {
      return;
    }
    frames.push(f);
    for (const w of [...waiters]) {
      if (w.match(f)) {
        waiters.delete(w);
        w.resolve(f);
      }
    }
  });
  /** The first frame from index `from` on (0: any frame received so far) that matches. */
  const next = (match: (f: Frame) => boolean, timeoutMs = 5000, what = 'frame', from = 0): Promise<Frame> => {
    const seen = frames.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => { clearTimeout(timer); resolve(f); }, from: frames.length };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`connect to ${url} timed out`)); ws.terminate(); }, opts.timeoutMs ?? 5000);
    ws.once('open', () => { clearTimeout(timer); resolve(); });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      // The body says why (e.g. {"error":"kv_unreachable"}); keep it in the error.
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      const refuse = (): void => { reject(new Error(`upgrade refused: HTTP ${res.statusCode ?? '?'} ${body.slice(0, 200)}`.trim())); };
      res.once('end', refuse);
      res.once('error', refuse);
      res.once('close', refuse);
    });
  });
  const welcome = await next((f) => f.type === 'welcome', opts.timeoutMs ?? 5000, 'welcome');
  const client: TestClient = {
    ws,
    frames,
    welcome,
    send: (frame) => { ws.send(JSON.stringify(frame)); },
    sendRaw: (data, binary = false) => { ws.send(data, { binary }); },
    next,
    request: (frame, timeoutMs = 5000) => {
      counter += 1;
      // The caller's id when it gives one (a retry of the same frame), else a fresh one.
      const id = typeof frame.id === 'string' ? frame.id : `req-${counter}`;
      // Only answers that come after this send: a retry must not take the earlier attempt's answer.
      const from = frames.length;
      ws.send(JSON.stringify({ ...frame, id }));
      return next((f) => (f.type === 'ack' || f.type === 'error') && f.id === id, timeoutMs, `answer to ${String(frame.type)} ${id}`, from);
    },
    closed,
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      const timer = setTimeout(() => { ws.terminate(); }, 2000);
      await closed;
      clearTimeout(timer);
    },
  };
  return client;
}

/** Attempts an upgrade and returns the HTTP status and JSON body of a refusal (or 101). */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}, protocols: string[] = []): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('upgrade timed out')); }, 5000);
    ws.once('open', () => { clearTimeout(timer); ws.close(); resolve({ status: 101, body: null, headers: {} }); });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => {
        clearTimeout(timer);
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}
