/**
 * A small protocol-level client (README protocol table, protocol v2 frames where the server has them)
 * with the FleetClient surface the runner uses: connect (first welcome), reconnect with full-jitter
 * backoff, resume of the inbox (`?resume=`) and of joined rooms (`join` with `after`), replay pages
 * (`replayed` with `more`), seq de-duplication, sends acknowledged by id. A send whose socket closes
 * before its ack fails with code `closed` (no retry: the runner counts it as not acknowledged).
 */
import type WebSocket from 'ws';
import type { Ack, ClientError, ClientEvents, ClientState, LoadClient, LoadClientOptions } from './client.js';

type Listener = (...args: never[]) => void;

interface Pending {
  resolve: (a: Ack) => void;
  reject: (e: ClientError & Error) => void;
  timer: NodeJS.Timeout;
}

const WELCOME_TIMEOUT_MS = 10_000;
const BACKOFF_INITIAL_MS = 100;
const BACKOFF_MAX_MS = 2000;

function clientError(code: string, message: string): ClientError & Error {
  return Object.assign(new Error(message), { code });
}

interface Frame {
  type?: unknown;
  id?: unknown;
  code?: unknown;
  message?: unknown;
  from?: unknown;
  data?: unknown;
  ts?: unknown;
  seq?: unknown;
  room?: unknown;
  server?: unknown;
  user?: unknown;
  last?: unknown;
  more?: unknown;
  recovered?: unknown;
}

export class ProtocolClient implements LoadClient {
  state: ClientState = 'idle';
  private ws: WebSocket | undefined;
  private readonly listeners = new Map<keyof ClientEvents, Set<Listener>>();
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;
  private attempt = 0;
  private inboxSeq: number | undefined;
  private readonly roomSeq = new Map<string, number>();
  private readonly rooms = new Set<string>();
  private readonly replayCount = new Map<string, number>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly opts: LoadClientOptions & { WebSocket: typeof WebSocket }) {
    this.inboxSeq = opts.resumeFrom?.inbox;
    for (const [room, seq] of Object.entries(opts.resumeFrom?.rooms ?? {})) this.roomSeq.set(room, seq);
  }

  on<E extends keyof ClientEvents>(event: E, fn: ClientEvents[E]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit<E extends keyof ClientEvents>(event: E, ...args: Parameters<ClientEvents[E]>): void {
    for (const fn of this.listeners.get(event) ?? []) (fn as unknown as (...a: Parameters<ClientEvents[E]>) => void)(...args);
  }

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  connect(): Promise<unknown> {
    if (this.state !== 'idle') return Promise.reject(new Error(`connect() in state ${this.state}`));
    return new Promise<void>((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  private open(): void {
    if (this.state === 'closed') return;
    this.setState('connecting');
    const url = this.inboxSeq === undefined ? this.opts.url : `${this.opts.url}?resume=${this.inboxSeq}`;
    const ws = new this.opts.WebSocket(url, { headers: { Authorization: `Bearer ${this.opts.token()}` }, handshakeTimeout: WELCOME_TIMEOUT_MS });
    this.ws = ws;
    let welcomed = false;
    const welcomeTimer = setTimeout(() => {
      if (!welcomed) ws.terminate();
    }, WELCOME_TIMEOUT_MS);
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      if (status === 401 && this.firstConnect !== undefined) {
        this.firstConnect.reject(clientError('auth', 'upgrade refused: 401'));
        this.firstConnect = undefined;
        this.state = 'closed';
      }
      ws.terminate();
    });
    ws.on('error', () => {
      // The close event follows and decides.
    });
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      let f: Frame;
      try {
        f = JSON.parse(raw.toString()) as Frame;
      } catch {
        return;
      }
      if (!welcomed) {
        if (f.type !== 'welcome') return;
        welcomed = true;
        clearTimeout(welcomeTimer);
        this.onWelcome(f);
        return;
      }
      this.onFrame(f);
    });
    ws.on('close', () => {
      clearTimeout(welcomeTimer);
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.failPending('closed', 'socket closed before the ack');
      if (this.state === 'closed') return;
      this.setState('reconnecting');
      this.attempt += 1;
      const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(this.attempt - 1, 10));
      this.reconnectTimer = setTimeout(() => {
        this.open();
      }, Math.random() * cap);
    });
  }

  private onWelcome(f: Frame): void {
    this.attempt = 0;
    this.setState('open');
    this.emit('welcome', { ...(typeof f.server === 'string' ? { server: f.server } : {}), ...(typeof f.user === 'string' ? { user: f.user } : {}) });
    if (this.firstConnect !== undefined) {
      this.firstConnect.resolve();
      this.firstConnect = undefined;
    }
    // Rejoin every room, resuming after the last seq seen in it.
    for (const room of this.rooms) {
      const after = this.roomSeq.get(room);
      this.write({ type: 'join', room, ...(after === undefined ? {} : { after }), id: `j${++this.nextId}` });
    }
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'message': {
        const room = typeof f.room === 'string' ? f.room : undefined;
        const seq = typeof f.seq === 'number' ? f.seq : undefined;
        if (seq !== undefined) {
          const last = room === undefined ? this.inboxSeq : this.roomSeq.get(room);
          if (last !== undefined && seq <= last) return; // a replay of a seq already seen
          if (room === undefined) this.inboxSeq = seq;
          else this.roomSeq.set(room, seq);
          const key = room ?? '';
          this.replayCount.set(key, (this.replayCount.get(key) ?? 0) + 1);
        }
        this.emit('message', {
          from: typeof f.from === 'string' ? f.from : '',
          data: f.data,
          ts: typeof f.ts === 'number' ? f.ts : Date.now(),
          ...(seq === undefined ? {} : { seq }),
          ...(room === undefined ? {} : { room }),
        });
        return;
      }
      case 'replayed': {
        const room = typeof f.room === 'string' ? f.room : undefined;
        if (f.more === true && typeof f.last === 'number') {
          this.write({ type: 'resume', after: f.last, ...(room === undefined ? {} : { room }), id: `r${++this.nextId}` });
          return;
        }
        const key = room ?? '';
        this.emit('resumed', { ...(room === undefined ? {} : { room }), replayed: this.replayCount.get(key) ?? 0, recovered: f.recovered !== false });
        this.replayCount.delete(key);
        return;
      }
      case 'ack':
      case 'error': {
        const id = typeof f.id === 'string' ? f.id : typeof f.id === 'number' ? String(f.id) : undefined;
        const p = id === undefined ? undefined : this.pending.get(id);
        if (f.type === 'error' && p === undefined) {
          this.emit('error', { code: typeof f.code === 'string' ? f.code : 'unknown', message: typeof f.message === 'string' ? f.message : '' });
        }
        if (p === undefined || id === undefined) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        if (f.type === 'ack') p.resolve(f as Ack);
        else p.reject(clientError(typeof f.code === 'string' ? f.code : 'unknown', typeof f.message === 'string' ? f.message : ''));
        return;
      }
      default:
        return;
    }
  }

  private write(frame: Record<string, unknown>): boolean {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  private request(frame: Record<string, unknown>, timeoutMs: number): Promise<Ack> {
    const id = `c${++this.nextId}`;
    return new Promise<Ack>((resolve, reject) => {
      if (this.state !== 'open' || !this.write({ ...frame, id })) {
        reject(clientError('closed', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(clientError('timeout', `no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  private failPending(code: string, message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(clientError(code, message));
    }
  }

  send(to: string, data: unknown, opts?: { timeoutMs?: number }): Promise<Ack> {
    return this.request({ type: 'send', to, data }, opts?.timeoutMs ?? this.opts.ackTimeoutMs);
  }

  publish(room: string, data: unknown, opts?: { timeoutMs?: number }): Promise<Ack> {
    return this.request({ type: 'publish', room, data }, opts?.timeoutMs ?? this.opts.ackTimeoutMs);
  }

  async join(room: string): Promise<void> {
    this.rooms.add(room);
    const after = this.roomSeq.get(room);
    await this.request({ type: 'join', room, ...(after === undefined ? {} : { after }) }, this.opts.ackTimeoutMs);
  }

  close(): Promise<void> {
    this.setState('closed');
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.failPending('closed', 'client closed');
    const ws = this.ws;
    this.ws = undefined;
    if (this.firstConnect !== undefined) {
      this.firstConnect.reject(clientError('closed', 'closed before the welcome'));
      this.firstConnect = undefined;
    }
    if (ws === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => {
        resolve();
      });
      if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.terminate();
      else resolve();
    });
  }
}
