/**
 * A test WebSocket client for the e2e suite: connects through the balancer with a JWT, remembers the
 * replica that welcomed it and the sticky cookie it was given, acknowledges-tracks its sends, collects
 * the messages it receives (deduplicated by the sender's id), and optionally reconnects by itself
 * (with `?resume=<last seq>`) when the server closes it, e.g. with 1012 during a drain.
 */
import WebSocket from 'ws';

export interface Welcome {
  type: 'welcome';
  server: string;
  user: string;
  conn: string;
}

interface Ack {
  type: 'ack' | 'error';
  id?: string | number;
  delivered?: number;
  stored?: boolean;
  code?: string;
}

interface Message {
  type: 'message';
  from: string;
  data: unknown;
  seq?: number;
}

export interface ClientOptions {
  url: string;
  token: string;
  /** Cookie header to send on the upgrade (sticky sessions). */
  cookie?: string;
  /** Reconnect when the server closes the socket (bounded by `reconnectUntil`). */
  autoReconnect?: boolean;
  connectTimeoutMs?: number;
}

function parse(data: WebSocket.RawData): unknown {
  const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
  return JSON.parse(text);
}

export class TestClient {
  /** Every replica that welcomed this client, in order. */
  readonly servers: string[] = [];
  /** Ids (`data.id`) of every message received, deduplicated. */
  readonly received = new Set<string>();
  /** Close codes the server sent. */
  readonly closeCodes: number[] = [];
  setCookie: string | undefined;
  reconnects = 0;
  private ws: WebSocket | undefined;
  private lastSeq: number | undefined;
  private closedByUs = false;
  private readonly pending = new Map<string, (ack: Ack) => void>();
  private reconnecting: Promise<void> | undefined;

  constructor(private readonly opts: ClientOptions) {}

  get server(): string | undefined {
    return this.servers.at(-1);
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket and resolves with the welcome frame. */
  async connect(): Promise<Welcome> {
    const url = new URL(this.opts.url);
    url.searchParams.set('token', this.opts.token);
    if (this.lastSeq !== undefined) url.searchParams.set('resume', String(this.lastSeq));
    const headers: Record<string, string> = {};
    if (this.opts.cookie !== undefined) headers['Cookie'] = this.opts.cookie;
    const ws = new WebSocket(url, { headers, handshakeTimeout: this.opts.connectTimeoutMs ?? 5000 });
    this.ws = ws;
    ws.on('upgrade', (res) => {
      const cookies = res.headers['set-cookie'];
      if (cookies !== undefined && cookies.length > 0) this.setCookie = cookies.map((c) => c.split(';')[0]).join('; ');
    });
    const welcome = await new Promise<Welcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('no welcome within 5 s'));
        ws.terminate();
      }, this.opts.connectTimeoutMs ?? 5000);
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`upgrade refused: HTTP ${res.statusCode ?? '?'}`));
        ws.terminate();
      });
      // One listener from the start: a replay can arrive in the same read as the welcome, and a
      // listener added after `await` would miss those frames.
      let welcomed = false;
      ws.on('message', (data) => {
        const frame = parse(data) as { type?: unknown };
        if (welcomed) {
          this.onFrame(frame);
          return;
        }
        welcomed = true;
        clearTimeout(timer);
        if (frame.type !== 'welcome') reject(new Error(`first frame was ${JSON.stringify(frame)}`));
        else resolve(frame as Welcome);
      });
    });
    this.servers.push(welcome.server);
    ws.on('error', () => {
      /* reported through 'close' */
    });
    ws.on('close', (code) => {
      this.closeCodes.push(code);
      for (const [id, resolve] of this.pending) resolve({ type: 'error', id, code: 'closed' });
      this.pending.clear();
      if (!this.closedByUs && this.opts.autoReconnect === true) this.reconnecting ??= this.reconnectLoop();
    });
    return welcome;
  }

  private onFrame(frame: unknown): void {
    const f = frame as { type?: string };
    if (f.type === 'message') {
      const m = frame as Message;
      if (typeof m.seq === 'number') this.lastSeq = Math.max(this.lastSeq ?? 0, m.seq);
      const id = (m.data as { id?: unknown } | null)?.id;
      if (typeof id === 'string') this.received.add(id);
    } else if (f.type === 'ack' || f.type === 'error') {
      const a = frame as Ack;
      const key = String(a.id);
      const resolve = this.pending.get(key);
      if (resolve !== undefined) {
        this.pending.delete(key);
        resolve(a);
      }
    }
  }

  /** Reconnects with jitter until it succeeds or 30 s have passed. */
  private async reconnectLoop(): Promise<void> {
    const deadline = Date.now() + 30_000;
    try {
      while (!this.closedByUs && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
        try {
          await this.connect();
          this.reconnects += 1;
          return;
        } catch {
          // The balancer may still route to a replica that just went away: try again.
        }
      }
    } finally {
      this.reconnecting = undefined;
    }
  }

  /** Resolves once the client is connected again (after a server-side close), or rejects after `ms`. */
  async waitConnected(ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.isOpen) {
      if (Date.now() > deadline) throw new Error(`client not reconnected within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Sends a direct message and resolves with the ack, or with an error-typed result when the socket
   * closed first or no ack came within `timeoutMs`.
   */
  send(to: string, id: string, timeoutMs = 5000): Promise<Ack> {
    const ws = this.ws;
    if (ws?.readyState !== WebSocket.OPEN) return Promise.resolve({ type: 'error', id, code: 'not_open' });
    return new Promise<Ack>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ type: 'error', id, code: 'timeout' });
      }, timeoutMs);
      this.pending.set(id, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      ws.send(JSON.stringify({ type: 'send', to, id, data: { id } }));
    });
  }

  /** Closes without reconnecting; resolves when the socket is closed (bounded). */
  async close(): Promise<void> {
    this.closedByUs = true;
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }
}

/** True when an ack means the server took responsibility for the message (delivered or stored). */
export function acknowledged(ack: Ack): boolean {
  return ack.type === 'ack' && ((ack.delivered ?? 0) > 0 || ack.stored === true);
}
