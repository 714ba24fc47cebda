/**
 * The load runner's client for a Centrifugo peer (bench figure 7's comparison): the same simulated
 * users, jitter and counting as against ws-fleet (load/group.ts), over Centrifugo's JSON protocol
 * (github.com/centrifugal/protocol, client.proto) instead of the project's client library.
 *
 * It does what Centrifugo's SDKs do for a reconnecting, recovering client, and what FleetClient does
 * for ws-fleet:
 *  - the user's personal channel `personal:#<user>` is subscribed server-side on connect; its
 *    position (offset, epoch) goes into the next connect's `subs` with `recover: true`, and the
 *    publications missed meanwhile come in the connect reply;
 *  - rooms are `room:<name>` channels, subscribed with `recover` and their last position after a
 *    reconnect;
 *  - a publication at or below the channel's last offset is dropped (FleetClient drops a seq at or
 *    below its last the same way);
 *  - a lost socket reconnects with the runner's backoff (load/client.ts RECONNECT, full jitter);
 *  - the server's ping (`{}`) is answered with a pong (`{}`).
 * Differences that the figure states: a publish is not retried after a reconnect (the client
 * protocol has no idempotency key), so a publish whose socket dropped is "not acknowledged", never
 * "lost"; and the personal channel's recovery is inside the connect reply, so `replay_time`
 * (welcome → caught up) covers only the room subscriptions that follow it.
 */
import WebSocket from 'ws';
import { backoffDelay, backoffPolicy, type BackoffPolicy } from '../../client/src/backoff.js';
import { Emitter } from '../../client/src/emitter.js';
import { FleetError } from '../../client/src/errors.js';
import type { Ack } from '../../client/src/frames.js';
import { RECONNECT, type LoadClient, type LoadClientOptions, type LoadEvents, type LoadPositions } from '../client.js';

/** How long a publish or subscribe waits for its reply. */
const REPLY_TIMEOUT_MS = 10_000;
/** How long close() waits for the closing handshake before it terminates the socket. */
const CLOSE_WAIT_MS = 1000;
/** Key of the personal channel in positions (as client/src/positions.ts keys the inbox). */
const INBOX = '';

interface Position {
  offset: number;
  epoch: string;
}

interface Publication {
  data?: unknown;
  offset?: number;
  info?: { user?: string };
}

interface SubscribeResult {
  recoverable?: boolean;
  epoch?: string;
  offset?: number;
  publications?: Publication[];
  recovered?: boolean;
  was_recovering?: boolean;
}

interface Reply {
  id?: number;
  error?: { code?: number; message?: string };
  connect?: { client?: string; node?: string; subs?: Record<string, SubscribeResult> };
  subscribe?: SubscribeResult;
  publish?: Record<string, never>;
  push?: { channel?: string; pub?: Publication; disconnect?: { code?: number; reason?: string } };
}

interface Waiting {
  /** Runs in the same turn as the reply's frame, before any later frame of the socket is read. */
  resolve: (r: Reply) => void;
  reject: (err: FleetError) => void;
  timer: NodeJS.Timeout;
}

/** The `sub` claim of an HS256 JWT (the personal channel's name); the token was minted by the runner. */
export function tokenSubject(token: string): string {
  const payload = token.split('.')[1];
  if (payload === undefined) throw new FleetError('auth', 'the token is not a JWT');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
  if (typeof claims.sub !== 'string' || claims.sub === '') throw new FleetError('auth', 'the token has no sub claim');
  return claims.sub;
}

/** Centrifugo's WebSocket endpoint behind the balancer whose ws-fleet URL is `wsUrl` (…/ws). */
export function centrifugoUrl(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.pathname = '/connection/websocket';
  return u.toString();
}

export class CentrifugoLoadClient implements LoadClient {
  private readonly events = new Emitter<LoadEvents>();
  private readonly url: string;
  private readonly backoff: BackoffPolicy;
  private ws: WebSocket | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Channel → last position written to the user (INBOX for the personal channel). */
  private readonly positions = new Map<string, Position>();
  private readonly rooms = new Set<string>();
  private user: string | undefined;
  private welcomed = false;
  private closed = false;
  private failedAttempts = 0;
  private attemptsSinceWelcome = 0;
  private connectSettle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LoadClientOptions) {
    this.url = centrifugoUrl(opts.url);
    this.backoff = backoffPolicy(RECONNECT);
    const from = opts.resumeFrom;
    if (from !== undefined) {
      const epochs = from.epochs ?? {};
      if (from.inbox !== undefined && epochs[INBOX] !== undefined) this.positions.set(INBOX, { offset: from.inbox, epoch: epochs[INBOX] });
      for (const [room, offset] of Object.entries(from.rooms)) {
        const epoch = epochs[room];
        if (epoch !== undefined) this.positions.set(room, { offset, epoch });
      }
    }
  }

  on<E extends keyof LoadEvents>(event: E, fn: LoadEvents[E]): () => void {
    return this.events.on(event, fn);
  }

  get resumePositions(): LoadPositions {
    const rooms: Record<string, number> = {};
    const epochs: Record<string, string> = {};
    let inbox: number | undefined;
    for (const [key, p] of this.positions) {
      epochs[key] = p.epoch;
      if (key === INBOX) inbox = p.offset;
      else rooms[key] = p.offset;
    }
    return { ...(inbox === undefined ? {} : { inbox }), rooms, epochs };
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.connectSettle = { resolve, reject };
      this.open();
    });
  }

  send(to: string, data: unknown): Promise<Ack> {
    return this.publishTo(`personal:#${to}`, data);
  }

  publish(room: string, data: unknown): Promise<Ack> {
    return this.publishTo(`room:${room}`, data);
  }

  async join(room: string): Promise<void> {
    this.rooms.add(room);
    await this.subscribe(room);
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.failWaiting('closed', 'close() was called');
    const ws = this.ws;
    this.ws = undefined;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => { ws.terminate(); resolve(); }, CLOSE_WAIT_MS);
      ws.once('close', () => { clearTimeout(t); resolve(); });
      ws.close(1000);
    });
  }

  // ---- connection -------------------------------------------------------------------------------

  private open(): void {
    if (this.closed) return;
    const token = this.opts.token();
    this.user ??= tokenSubject(token);
    this.attemptsSinceWelcome += 1;
    this.events.emit('attempt', { attempt: this.attemptsSinceWelcome, url: this.url });
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    let welcomed = false;
    const timer = setTimeout(() => { ws.terminate(); }, this.opts.connectTimeoutMs);
    ws.once('open', () => {
      const inbox = this.positions.get(INBOX);
      const subs = inbox === undefined ? undefined : { [`personal:#${this.user ?? ''}`]: { recover: true, offset: inbox.offset, epoch: inbox.epoch } };
      ws.send(JSON.stringify({ id: this.nextId++, connect: { token, name: 'ws-fleet-load', ...(subs === undefined ? {} : { subs }) } }));
    });
    ws.on('message', (raw: Buffer) => {
      for (const line of raw.toString('utf8').split('\n')) {
        if (line === '') continue;
        if (line === '{}') {
          ws.send('{}');
          continue;
        }
        let f: Reply;
        try {
          f = JSON.parse(line) as Reply;
        } catch {
          this.events.emit('error', new FleetError('protocol', `not JSON: ${line.slice(0, 80)}`));
          continue;
        }
        if (f.connect !== undefined) {
          clearTimeout(timer);
          welcomed = true;
          this.onConnected(f.connect);
        } else if (f.error !== undefined && !welcomed && f.id !== undefined && !this.waiting.has(f.id)) {
          // The connect itself was refused (a bad token): no reconnect.
          clearTimeout(timer);
          this.closed = true;
          this.connectSettle?.reject(new FleetError('auth', `connect refused: ${f.error.code ?? '?'} ${f.error.message ?? ''}`));
          this.connectSettle = undefined;
          ws.terminate();
        } else this.onReply(f);
      }
    });
    ws.on('error', () => undefined); // the close that follows decides
    ws.once('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.welcomed = false;
      this.failWaiting('socket_closed', `socket closed (${code})`);
      this.events.emit('disconnect', { code, reason: reason.toString('utf8'), welcomed });
      if (this.closed) return;
      if (!welcomed) this.failedAttempts += 1;
      const delay = backoffDelay(this.backoff, this.failedAttempts);
      this.reconnectTimer = setTimeout(() => { this.open(); }, delay);
    });
  }

  private onConnected(result: NonNullable<Reply['connect']>): void {
    this.welcomed = true;
    this.failedAttempts = 0;
    this.attemptsSinceWelcome = 0;
    const user = this.user ?? '';
    // Rooms this client had joined before the socket dropped (a listener of the welcome may join more).
    const rooms = [...this.rooms];
    this.events.emit('welcome', { type: 'welcome', server: result.node !== undefined && result.node !== '' ? result.node : 'centrifugo', user, conn: result.client ?? '' });
    this.connectSettle?.resolve();
    this.connectSettle = undefined;
    let replayed = 0;
    let recovered = true;
    for (const [channel, sub] of Object.entries(result.subs ?? {})) {
      if (channel !== `personal:#${user}`) continue;
      const r = this.apply(INBOX, sub);
      replayed += r.replayed;
      recovered &&= r.recovered;
    }
    // They are subscribed again, from their positions.
    if (rooms.length === 0) {
      this.events.emit('resumed', { replayed, recovered, pending: 0 });
      return;
    }
    let pending = rooms.length;
    for (const room of rooms) {
      this.subscribe(room).then(
        (r) => {
          pending -= 1;
          this.events.emit('resumed', { room, replayed: r.replayed, recovered: r.recovered, pending });
        },
        () => { pending -= 1; },
      );
    }
  }

  private subscribe(room: string): Promise<{ replayed: number; recovered: boolean }> {
    const p = this.positions.get(room);
    // Applied as the reply is read: a live publication right behind it must find the position set.
    return this.request({ subscribe: { channel: `room:${room}`, ...(p === undefined ? {} : { recover: true, offset: p.offset, epoch: p.epoch }) } }, (reply) => this.apply(room, reply.subscribe ?? {}));
  }

  /** A subscribe result: the recovered publications in order, then the channel's position. */
  private apply(key: string, sub: SubscribeResult): { replayed: number; recovered: boolean } {
    let replayed = 0;
    for (const pub of sub.publications ?? []) if (this.deliver(key, pub, true)) replayed += 1;
    const known = this.positions.get(key);
    const epoch = sub.epoch ?? known?.epoch ?? '';
    const offset = Math.max(sub.offset ?? 0, known !== undefined && known.epoch === epoch ? known.offset : 0);
    this.positions.set(key, { offset, epoch });
    return { replayed, recovered: sub.recovered ?? known === undefined };
  }

  private deliver(key: string, pub: Publication, replayed: boolean): boolean {
    const offset = pub.offset;
    const known = this.positions.get(key);
    if (offset !== undefined && known !== undefined && offset <= known.offset) return false;
    if (offset !== undefined) this.positions.set(key, { offset, epoch: known?.epoch ?? '' });
    this.events.emit('message', {
      from: pub.info?.user ?? '', data: pub.data, ts: Date.now(),
      ...(offset === undefined ? {} : { seq: offset }),
      ...(key === INBOX ? {} : { room: key }),
      ...(replayed ? { replayed: true } : {}),
    });
    return true;
  }

  private onReply(f: Reply): void {
    if (f.push !== undefined) {
      const channel = f.push.channel ?? '';
      if (f.push.pub === undefined) return;
      if (channel === `personal:#${this.user ?? ''}`) this.deliver(INBOX, f.push.pub, false);
      else if (channel.startsWith('room:') && this.rooms.has(channel.slice(5))) this.deliver(channel.slice(5), f.push.pub, false);
      return;
    }
    if (f.id === undefined) return;
    const w = this.waiting.get(f.id);
    if (w === undefined) return;
    this.waiting.delete(f.id);
    clearTimeout(w.timer);
    if (f.error !== undefined) {
      const err = new FleetError(`centrifugo_${String(f.error.code ?? 'error')}`, f.error.message ?? 'refused');
      this.events.emit('error', err);
      w.reject(err);
    } else w.resolve(f);
  }

  // ---- requests ---------------------------------------------------------------------------------

  private async publishTo(channel: string, data: unknown): Promise<Ack> {
    const id = this.nextId;
    await this.request({ publish: { channel, data } }, () => undefined);
    // A publish answered without error is in the channel's history (Redis stream): stored.
    return { type: 'ack', id: String(id), stored: true };
  }

  private request<T>(body: Record<string, unknown>, onReply: (r: Reply) => T): Promise<T> {
    const ws = this.ws;
    if (ws === undefined || !this.welcomed || ws.readyState !== WebSocket.OPEN) return Promise.reject(new FleetError('socket_closed', 'not connected'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new FleetError('timeout', `no reply to ${Object.keys(body).join(',')} within ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (r) => {
          try {
            resolve(onReply(r));
          } catch (err) {
            reject(err instanceof FleetError ? err : new FleetError('protocol', String(err)));
          }
        },
        reject, timer,
      });
      ws.send(JSON.stringify({ id, ...body }));
    });
  }

  private failWaiting(code: string, message: string): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new FleetError(code, message));
    }
    this.waiting.clear();
  }
}
