/**
 * FleetClient: one logical connection to a ws-fleet deployment that survives replicas going away.
 * It owns the connection state machine (idle → connecting → open ⇄ reconnecting → closed) and ties
 * the small parts together: backoff, subject positions, replay tracking, pending requests.
 */
import { CloseCode } from '../../protocol/codes.js';
import { backoffDelay, backoffPolicy, quickDelay, type BackoffOptions, type BackoffPolicy } from './backoff.js';
import { Emitter } from './emitter.js';
import { AuthError, ClosedError, FleetError, ServerError } from './errors.js';
import { parseServerFrame, speaksV2, type Ack, type ClientFrame, type MessageFrame, type ServerFrame, type Welcome } from './frames.js';
import { PendingRequests } from './pending-requests.js';
import { INBOX, SubjectPositions, type PositionsSnapshot } from './positions.js';
import { ReplayTracker, type ReplayReport } from './replay-tracker.js';
import {
  OPEN, globalWebSocket, openSocket, upgradeStatus, withResume,
  type CloseEventLike, type ErrorEventLike, type MessageEventLike, type TokenPlacement, type WebSocketConstructorLike, type WebSocketLike,
} from './transport.js';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
export type TokenSource = string | (() => string | Promise<string>);
export type RoomTokenSource = string | (() => Promise<string>);

export interface FleetClientOptions {
  /**
   * The WebSocket endpoint, e.g. `ws://host:port/ws` (`wss://` in production): normally the balancer.
   * A function is asked again on every (re)connect (e.g. to rotate through replicas without a balancer).
   */
  url: string | (() => string);
  /** The user token, or a provider called on every (re)connect and for every refresh. */
  token: TokenSource;
  /** Node: pass `ws`'s WebSocket (the token then goes as an Authorization header). Browser: the global one is used. */
  WebSocket?: WebSocketConstructorLike;
  /** Where the token goes; default 'header' when `WebSocket` is passed in, 'protocol' with the platform's. */
  tokenIn?: TokenPlacement;
  /** Exponential backoff with full jitter. Defaults: 250 ms, 15 s, ×2. */
  reconnect?: BackoffOptions;
  /** Per-attempt ack timeout for send/publish/join/leave. Default 5000. */
  ackTimeoutMs?: number;
  /** Extra attempts after an ack timeout (each with the same id). Default 2. */
  sendRetries?: number;
  /** Most requests waiting for an ack at once (queued while reconnecting, or in flight). Default 1000. */
  queueLimit?: number;
  /** Positions from an earlier client: the inbox resumes after `inbox`, a room joined later after `rooms[room]`. */
  resumeFrom?: { inbox?: number; rooms?: Record<string, number>; epoch?: string };
  /** Opening + welcome must take at most this long, else the attempt is dropped and retried. Default 10000. */
  connectTimeoutMs?: number;
  /** With nothing received for this long a ping is sent; with nothing for twice as long the socket is dropped. 0 = off. Default 25000. */
  idleTimeoutMs?: number;
  /** v1 servers only (no `replayed` frame): quiet time after which a replay counts as done. Default 750. */
  replaySettleMs?: number;
}

/** A message as delivered to `message` listeners. */
export interface FleetMessage {
  from: string;
  data: unknown;
  /** Server time of the original send (unix ms). */
  ts: number;
  /** Stream seq (absent when the server could not store it). */
  seq?: number;
  room?: string;
  broadcast?: true;
  /** True when it arrived in a replay (resume) rather than live. */
  replayed?: boolean;
}

export interface FleetEvents {
  state: (s: ConnectionState) => void;
  message: (m: FleetMessage) => void;
  welcome: (w: Welcome) => void;
  /** A replay reached the tail: `replayed` messages came in it; `recovered: false` when some could not be (trimmed, stream reset). */
  resumed: (r: ReplayReport) => void;
  ack: (a: Ack) => void;
  error: (e: FleetError) => void;
  /** A (re)connect attempt opens a socket: `attempt` counts from 1 since the last welcome. */
  attempt: (a: ConnectAttempt) => void;
  /** A socket is gone: `welcomed` false means the attempt failed before its welcome (refused, timed out, network). */
  disconnect: (d: Disconnect) => void;
}

export interface ConnectAttempt {
  attempt: number;
  url: string;
}

export interface Disconnect {
  code: number;
  reason: string;
  welcomed: boolean;
}

export interface RequestOptions {
  /** Per-attempt ack timeout (ms); default the client's `ackTimeoutMs`. */
  timeoutMs?: number;
}

interface RoomWanted {
  token: RoomTokenSource | undefined;
  /** A join() for it is waiting for its ack (it is written again after a reconnect: no separate re-join). */
  joining: boolean;
}

type JoinFrame = Extract<ClientFrame, { type: 'join' }>;

const NAME_PART = /^[A-Za-z0-9_-]{1,64}$/;
const CLOSE_NORMAL = 1000;
const CLOSE_IDLE = 4000;
const QUICK_RECONNECT_CODES = new Set<number>([CloseCode.serviceRestart, CloseCode.tryAgainLater]);
const AUTH_CLOSE_CODES = new Set<number>([CloseCode.tokenExpired, CloseCode.forbidden]);
const REFRESH_MARGIN_MIN_MS = 5_000;
const REFRESH_MARGIN_MAX_MS = 60_000;

let instances = 0;

export class FleetClient {
  private readonly events = new Emitter<FleetEvents>();
  private readonly positions = new SubjectPositions();
  private readonly pending: PendingRequests;
  private readonly replays: ReplayTracker;
  private readonly rooms = new Map<string, RoomWanted>();
  /**
   * Rooms whose re-join frame is not written yet on this connection: their publishes wait behind it
   * (a publish the server reads first is refused `forbidden` in a namespace where members publish).
   */
  private readonly rejoinsUnwritten = new Set<string>();
  private readonly policy: BackoffPolicy;
  private readonly Impl: WebSocketConstructorLike;
  private readonly placement: TokenPlacement;
  private readonly ackTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  /** Unique per client instance: the server de-duplicates `<user>:<id>`, and one user may have many clients. */
  private readonly idPrefix: string;
  private nextId = 0;

  private socket: WebSocketLike | undefined;
  private currentState: ConnectionState = 'idle';
  private attempt = 0;
  private welcomes = 0;
  private lastWelcome: Welcome | undefined;
  private epoch: string | undefined;
  private connectPromise: Promise<Welcome> | undefined;
  private connectSettle: { resolve: (w: Welcome) => void; reject: (e: FleetError) => void } | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReceived = 0;
  private closeWaiters: (() => void)[] = [];
  private readonly counters = { reconnects: 0, duplicatesDropped: 0, replayed: 0, attempts: 0, failedAttempts: 0 };
  /** The current socket has had its welcome. */
  private welcomed = false;
  /** Sockets opened since the last welcome (for the `attempt` event). */
  private triesSinceWelcome = 0;

  constructor(private readonly opts: FleetClientOptions) {
    if (typeof opts.url === 'string') checkUrl(opts.url);
    else if (typeof opts.url !== 'function') throw new RangeError('url must be a ws:// or wss:// URL or a function returning one');
    const Impl = opts.WebSocket ?? globalWebSocket();
    if (Impl === undefined) throw new RangeError('no WebSocket implementation: pass `WebSocket` (in Node: import WebSocket from "ws")');
    this.Impl = Impl;
    this.placement = opts.tokenIn ?? (opts.WebSocket !== undefined && opts.WebSocket !== globalWebSocket() ? 'header' : 'protocol');
    this.policy = backoffPolicy(opts.reconnect);
    this.ackTimeoutMs = positive('ackTimeoutMs', opts.ackTimeoutMs, 5_000);
    this.connectTimeoutMs = positive('connectTimeoutMs', opts.connectTimeoutMs, 10_000);
    this.idleTimeoutMs = nonNegative('idleTimeoutMs', opts.idleTimeoutMs, 25_000);
    this.pending = new PendingRequests({
      limit: positive('queueLimit', opts.queueLimit, 1_000),
      retries: nonNegative('sendRetries', opts.sendRetries, 2),
      write: (frame) => this.write(frame),
    });
    this.replays = new ReplayTracker({
      settleMs: positive('replaySettleMs', opts.replaySettleMs, 750),
      onDone: (r) => { this.events.emit('resumed', r); },
      requestPage: (subject, last) => {
        this.write({ type: 'resume', after: last, ...this.epochField(), ...(subject === INBOX ? {} : { room: subject }) });
      },
    });
    if (opts.resumeFrom?.inbox !== undefined) this.positions.set(INBOX, opts.resumeFrom.inbox);
    this.epoch = opts.resumeFrom?.epoch;
    for (const [room, seq] of Object.entries(opts.resumeFrom?.rooms ?? {})) this.positions.set(checkRoom(room), seq);
    instances += 1;
    this.idPrefix = `${randomTag()}${instances.toString(36)}-`;
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The replica id from the last welcome. */
  get server(): string | undefined {
    return this.lastWelcome?.server;
  }

  /** The last welcome (user, conn, exp, limits). */
  get welcome(): Welcome | undefined {
    return this.lastWelcome;
  }

  /** Counters since construction: reconnects (welcomes after the first), repeats dropped, replayed messages, socket attempts and attempts that never reached a welcome. */
  get stats(): { reconnects: number; duplicatesDropped: number; replayed: number; attempts: number; failedAttempts: number } {
    return { ...this.counters };
  }

  /** The last seq received per subject: pass it as `resumeFrom` to a later client. */
  get resumePositions(): PositionsSnapshot {
    return { ...this.positions.snapshot(), ...this.epochField() };
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof FleetEvents>(event: E, fn: FleetEvents[E]): () => void {
    return this.events.on(event, fn);
  }

  /**
   * Opens the connection. Resolves on the first welcome; rejects on an auth refusal or `close()`.
   * Network failures are retried with backoff meanwhile (watch `state` and `error`).
   */
  connect(): Promise<Welcome> {
    if (this.currentState === 'closed') return Promise.reject(new ClosedError());
    if (this.connectPromise !== undefined) return this.connectPromise;
    this.connectPromise = new Promise<Welcome>((resolve, reject) => { this.connectSettle = { resolve, reject }; });
    this.setState('connecting');
    void this.open();
    return this.connectPromise;
  }

  /** Sends `data` to every socket of user `to`. Resolves with the ack; retries after a timeout keep the same id. */
  send(to: string, data: unknown, opts: RequestOptions = {}): Promise<Ack> {
    if (!NAME_PART.test(to)) return Promise.reject(new FleetError('bad_frame', `user id must be 1-64 letters, digits, "_" or "-", got ${JSON.stringify(to)}`));
    return this.request({ type: 'send', to, data, id: this.newId() }, opts);
  }

  /** Publishes `data` to a room (joining is not required when the namespace lets non-members publish). */
  publish(room: string, data: unknown, opts: RequestOptions = {}): Promise<Ack> {
    try {
      checkRoom(room);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new FleetError('bad_frame', String(err)));
    }
    return this.request({ type: 'publish', room, data, id: this.newId() }, opts);
  }

  /**
   * Joins a room: its messages arrive as `message` events with `room` set. After a reconnect the
   * room is joined again from its last seq. `token` is a room token (or its provider) for rooms
   * that need one.
   */
  async join(room: string, opts: { token?: RoomTokenSource } = {}): Promise<void> {
    checkRoom(room);
    if (this.currentState === 'closed') throw new ClosedError();
    const wanted: RoomWanted = { token: opts.token, joining: true };
    this.rooms.set(room, wanted);
    try {
      this.joined(room, await this.request(await this.joinFrame(room), {}));
    } catch (err) {
      if (this.rooms.get(room) === wanted) this.rooms.delete(room);
      throw err;
    } finally {
      wanted.joining = false;
    }
  }

  /** Leaves a room; its position is forgotten. */
  async leave(room: string): Promise<void> {
    checkRoom(room);
    this.rooms.delete(room);
    this.replays.cancel(room);
    this.positions.delete(room);
    await this.request({ type: 'leave', room, id: this.newId() }, {});
  }

  /** Closes for good: pending requests reject with ClosedError; no reconnect. Resolves when the socket is closed. */
  close(): Promise<void> {
    if (this.currentState === 'closed') return Promise.resolve();
    return this.shutdown(new ClosedError('close() was called'), false);
  }

  // ---- internals -------------------------------------------------------------------------------

  private request(frame: ClientFrame & { id: string }, opts: RequestOptions): Promise<Ack> {
    if (this.currentState === 'closed') return Promise.reject(new ClosedError());
    const timeoutMs = positive('timeoutMs', opts.timeoutMs, this.ackTimeoutMs);
    return this.pending.add(frame, timeoutMs);
  }

  private newId(): string {
    this.nextId += 1;
    return this.idPrefix + this.nextId.toString(36);
  }

  private async joinFrame(room: string): Promise<JoinFrame> {
    const after = this.positions.get(room);
    const source = this.rooms.get(room)?.token;
    const token = source === undefined ? undefined : typeof source === 'string' ? source : await source();
    return { type: 'join', room, id: this.newId(), ...(after === undefined ? {} : { after, ...this.epochField() }), ...(token === undefined ? {} : { token }) };
  }

  /**
   * A join's ack names the seq its live subscription starts after: with no message received in the
   * room yet, that is the position a rejoin after a reconnect resumes from (without it, the rejoin
   * would start at the new tail and miss what was published while the client was away).
   */
  private joined(room: string, ack: Ack): void {
    if (ack.after !== undefined && this.rooms.has(room) && this.positions.get(room) === undefined) this.positions.set(room, ack.after);
  }

  /**
   * A replay's end is a position even when it wrote nothing: every seq up to `last` was written before
   * this frame. Without it a client that has received nothing on the inbox yet reconnects without
   * `?resume`, and the server starts it at the user's stored cursor: the last seq handed to the kernel
   * for the dropped socket, which may be past messages that never reached this client (the bench's
   * jitter run at 2,500 clients lost 9 acknowledged messages that way).
   */
  private replayedTo(frame: { room?: string; last: number }): void {
    const subject = frame.room ?? INBOX;
    if (!Number.isSafeInteger(frame.last) || frame.last < 0) return;
    if (subject !== INBOX && !this.rooms.has(subject)) return;
    this.positions.set(subject, frame.last);
  }

  /** `{ epoch }` once a welcome named one: sent with every position, so a stale one is replayed from the start. */
  private epochField(): { epoch?: string } {
    return this.epoch === undefined ? {} : { epoch: this.epoch };
  }

  private write(frame: ClientFrame): boolean {
    const s = this.socket;
    if (s === undefined || s.readyState !== OPEN || this.currentState !== 'open') return false;
    if (frame.type === 'publish' && this.rejoinsUnwritten.has(frame.room)) return false;
    if (frame.type === 'join' && frame.after !== undefined) this.replays.begin(frame.room);
    s.send(JSON.stringify(frame));
    return true;
  }

  private setState(s: ConnectionState): void {
    if (this.currentState === s) return;
    this.currentState = s;
    this.events.emit('state', s);
  }

  private async resolveToken(): Promise<string> {
    const source = this.opts.token;
    const token = typeof source === 'string' ? source : await source();
    if (typeof token !== 'string' || token === '') throw new AuthError('the token provider returned no token');
    return token;
  }

  private async open(): Promise<void> {
    let token: string;
    try {
      token = await this.resolveToken();
    } catch (err) {
      this.events.emit('error', err instanceof FleetError ? err : new AuthError('the token provider failed', {}, { cause: err }));
      this.scheduleReconnect(undefined);
      return;
    }
    if (this.currentState === 'closed') return;
    let socket: WebSocketLike;
    try {
      const url = withResume(checkUrl(typeof this.opts.url === 'string' ? this.opts.url : this.opts.url()), this.positions.get(INBOX), this.epoch);
      socket = openSocket(this.Impl, url, token, this.placement);
      this.counters.attempts += 1;
      this.welcomed = false;
      this.triesSinceWelcome += 1;
      this.events.emit('attempt', { attempt: this.triesSinceWelcome, url });
    } catch (err) {
      this.events.emit('error', new FleetError('closed', 'could not open a WebSocket', { cause: err }));
      this.scheduleReconnect(undefined);
      return;
    }
    this.socket = socket;
    let refusedStatus: number | undefined;
    let opened = false;
    this.connectTimer = setTimeout(() => { this.dropSocket(socket, 'no welcome in time'); }, this.connectTimeoutMs);
    socket.onopen = () => { opened = true; this.touch(); };
    socket.onerror = (ev: ErrorEventLike) => { refusedStatus ??= upgradeStatus(ev); };
    socket.onmessage = (ev: MessageEventLike) => {
      if (this.socket !== socket) return;
      this.touch();
      const text = typeof ev.data === 'string' ? ev.data : undefined;
      const frame = text === undefined ? null : parseServerFrame(text);
      if (frame === null) {
        this.events.emit('error', new FleetError('protocol', `unreadable frame from the server: ${String(text).slice(0, 120)}`));
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = (ev: CloseEventLike) => {
      if (this.socket !== socket) return;
      this.onSocketGone(opened ? undefined : refusedStatus, ev.code, ev.reason);
    };
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        return;
      case 'message':
        this.onMessage(frame);
        return;
      case 'ack':
        if (this.pending.onAck(frame)) this.events.emit('ack', frame);
        if (frame.exp !== undefined) this.scheduleRefresh(frame.exp);
        return;
      case 'error':
        if (!this.pending.onError(frame)) this.events.emit('error', new ServerError(frame.code, frame.message, frame.id, frame.delivered));
        return;
      case 'replayed':
        this.replayedTo(frame);
        this.replays.onReplayed(frame);
        return;
      case 'refresh':
        void this.refresh();
        return;
      case 'pong':
        return;
    }
  }

  private onWelcome(w: Welcome): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const first = this.welcomes === 0;
    this.welcomes += 1;
    if (!first) this.counters.reconnects += 1;
    const reset = this.epoch !== undefined && w.epoch !== undefined && w.epoch !== this.epoch;
    if (w.epoch !== undefined) this.epoch = w.epoch;
    this.lastWelcome = w;
    this.attempt = 0;
    this.welcomed = true;
    this.triesSinceWelcome = 0;
    const inboxFrom = this.positions.get(INBOX);
    this.replays.reset(speaksV2(w), Date.now());
    this.setState('open');
    if (reset) {
      // The streams were replaced: old seqs mean nothing. The server saw the old epoch with the
      // position (in the URL, or with the stored cursor) and replays the new inbox from its start;
      // the rooms are joined again from 0. Recovery was not possible, and `resumed` says so.
      this.positions.clear();
      this.replays.begin(INBOX, false);
    } else if (inboxFrom !== undefined) {
      this.replays.begin(INBOX);
    }
    this.armIdle();
    if (w.exp !== undefined) this.scheduleRefresh(w.exp);
    this.events.emit('welcome', w);
    this.rejoinsUnwritten.clear();
    for (const [room, wanted] of this.rooms) {
      if (wanted.joining) continue;
      // Counted as replaying from now on, so a report of another subject does not say "caught up" too early.
      if (reset || this.positions.get(room) !== undefined) this.replays.begin(room, !reset);
      this.rejoinsUnwritten.add(room);
      void this.rejoin(room, reset);
    }
    this.pending.flush();
    const settle = this.connectSettle;
    this.connectSettle = undefined;
    settle?.resolve(w);
  }

  private async rejoin(room: string, reset: boolean): Promise<void> {
    const socket = this.socket;
    // Once the join frame is written (or will not be), the room's publishes follow it.
    const releasePublishes = (): void => { if (this.socket === socket && this.rejoinsUnwritten.delete(room)) this.pending.flush(); };
    try {
      const frame = await this.joinFrame(room);
      if (reset) frame.after = 0;
      const acked = this.pending.add(frame, this.ackTimeoutMs, true);
      releasePublishes();
      this.joined(room, await acked);
    } catch (err) {
      releasePublishes();
      if (err instanceof ClosedError || (err instanceof FleetError && err.code === 'closed')) return;
      if (err instanceof ServerError && (err.code === 'forbidden' || err.code === 'not_member' || err.code === 'too_many_rooms')) this.rooms.delete(room);
      this.events.emit('error', err instanceof FleetError ? err : new FleetError('internal', `re-joining ${room} failed`, { cause: err }));
    }
  }

  private onMessage(m: MessageFrame): void {
    const subject = m.room ?? INBOX;
    if (m.seq !== undefined && !this.positions.accept(subject, m.seq)) {
      this.counters.duplicatesDropped += 1;
      return;
    }
    const replayed = this.replays.onMessage(subject, m.ts);
    if (replayed) this.counters.replayed += 1;
    const out: FleetMessage = { from: m.from, data: m.data, ts: m.ts };
    if (m.seq !== undefined) out.seq = m.seq;
    if (m.room !== undefined) out.room = m.room;
    if (m.broadcast === true) out.broadcast = true;
    if (replayed) out.replayed = true;
    this.events.emit('message', out);
  }

  /** Sends a `refresh` frame with a fresh token from the provider. */
  private async refresh(): Promise<void> {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    try {
      const token = await this.resolveToken();
      const ack = await this.pending.add({ type: 'refresh', token, id: this.newId() }, this.ackTimeoutMs, true);
      if (ack.exp !== undefined) this.scheduleRefresh(ack.exp);
    } catch (err) {
      // The connection went away meanwhile: the next one authenticates with a fresh token anyway.
      if (err instanceof FleetError && err.code === 'closed') return;
      const e = err instanceof FleetError ? err : new AuthError('token refresh failed', {}, { cause: err });
      this.events.emit('error', e);
    }
  }

  /** Refreshes a little before `exp` (unix s): 10% of the remaining lifetime, between 5 s and 60 s early. */
  private scheduleRefresh(exp: number): void {
    if (typeof this.opts.token === 'string') return; // nothing new to send
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    const remaining = exp * 1000 - Date.now();
    const margin = Math.min(REFRESH_MARGIN_MAX_MS, Math.max(REFRESH_MARGIN_MIN_MS, remaining * 0.1));
    // setTimeout's delay is a 32-bit int: a far exp is looked at again later.
    const delay = Math.min(Math.max(0, remaining - margin), 2 ** 31 - 1);
    this.refreshTimer = setTimeout(() => {
      if (delay === 2 ** 31 - 1) this.scheduleRefresh(exp);
      else void this.refresh();
    }, delay);
  }

  private touch(): void {
    this.lastReceived = Date.now();
  }

  private armIdle(): void {
    if (this.idleTimeoutMs === 0) return;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const socket = this.socket;
    let pinged = false;
    const check = (): void => {
      if (this.socket !== socket || socket === undefined) return;
      const quiet = Date.now() - this.lastReceived;
      if (quiet >= this.idleTimeoutMs * 2) {
        this.dropSocket(socket, `nothing received for ${quiet} ms`);
        return;
      }
      if (quiet >= this.idleTimeoutMs && !pinged) {
        pinged = true;
        this.write({ type: 'ping' });
      } else if (quiet < this.idleTimeoutMs) {
        pinged = false;
      }
      // Next look: when the ping falls due (quiet for idleTimeoutMs), or, once pinged, when the answer
      // is overdue (quiet for twice that). Looking a whole idleTimeoutMs later instead let a quiet
      // socket reach the drop with no ping sent when the timer fired late (a busy event loop).
      const due = quiet < this.idleTimeoutMs ? this.idleTimeoutMs - quiet : this.idleTimeoutMs * 2 - quiet;
      this.idleTimer = setTimeout(check, Math.max(1, due));
    };
    this.idleTimer = setTimeout(check, this.idleTimeoutMs);
  }

  /** Gives up on a socket that is stuck (no welcome, no traffic): reconnect without waiting for its close handshake. */
  private dropSocket(socket: WebSocketLike, why: string): void {
    if (this.socket !== socket) return;
    if (socket.terminate !== undefined) socket.terminate();
    else socket.close(CLOSE_IDLE, why.slice(0, 120));
    this.onSocketGone(undefined, 1006, why);
  }

  /** The socket closed (or never opened). Decides: reconnect quickly, back off, or stop for good. */
  private onSocketGone(refusedStatus: number | undefined, code: number, reason: string): void {
    const socket = this.socket;
    this.socket = undefined;
    if (socket !== undefined) {
      detach(socket);
      if (!this.welcomed) this.counters.failedAttempts += 1;
      this.events.emit('disconnect', { code, reason, welcomed: this.welcomed });
      this.welcomed = false;
    }
    this.clearConnectionTimers();
    this.replays.stop();
    this.pending.disconnected(new FleetError('closed', `connection lost (${code}${reason === '' ? '' : ` ${reason}`})`));
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const w of waiters) w();
    if (this.currentState === 'closed') return;
    if (refusedStatus === 401 || AUTH_CLOSE_CODES.has(code)) {
      const err = new AuthError(
        refusedStatus === 401 ? 'the server refused the token (HTTP 401)' : `the server closed the connection: ${code} ${reason}`.trim(),
        { ...(refusedStatus === undefined ? {} : { status: refusedStatus }), closeCode: code, reason },
      );
      this.events.emit('error', err);
      void this.shutdown(err, true);
      return;
    }
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code: number | undefined): void {
    if (this.currentState === 'closed') return;
    this.setState(this.welcomes === 0 ? 'connecting' : 'reconnecting');
    const quick = code !== undefined && QUICK_RECONNECT_CODES.has(code) && this.attempt === 0;
    const delay = quick ? quickDelay(this.policy) : backoffDelay(this.policy, this.attempt);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  private clearConnectionTimers(): void {
    for (const t of [this.connectTimer, this.idleTimer, this.refreshTimer]) if (t !== undefined) clearTimeout(t);
    this.connectTimer = undefined;
    this.idleTimer = undefined;
    this.refreshTimer = undefined;
  }

  private async shutdown(err: FleetError, refused: boolean): Promise<void> {
    this.setState('closed');
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.clearConnectionTimers();
    this.replays.stop();
    this.pending.rejectAll(err);
    const settle = this.connectSettle;
    this.connectSettle = undefined;
    settle?.reject(err);
    const socket = this.socket;
    if (socket === undefined || refused) return;
    const closed = new Promise<void>((resolve) => { this.closeWaiters.push(resolve); });
    socket.close(CLOSE_NORMAL, 'client closed');
    const bound = new Promise<void>((resolve) => { setTimeout(resolve, 1_000); });
    await Promise.race([closed, bound]);
    if (this.socket === socket) {
      socket.terminate?.();
      this.onSocketGone(undefined, CLOSE_NORMAL, 'client closed');
    }
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onerror = null;
  socket.onclose = null;
}

/** Checks a room name: `<namespace>:<name>` or `<name>`, each part 1-64 of [A-Za-z0-9_-]. */
export function checkRoom(room: string): string {
  const parts = typeof room === 'string' ? room.split(':') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => NAME_PART.test(p))) {
    throw new FleetError('bad_frame', `room must be "<namespace>:<name>" or "<name>", each 1-64 letters, digits, "_" or "-"; got ${JSON.stringify(room)}`);
  }
  return room;
}

function checkUrl(url: string): string {
  if (typeof url !== 'string' || !/^wss?:\/\/[^/]/.test(url)) throw new RangeError(`url must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  return url;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number > 0, got ${String(value)}`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || !Number.isInteger(value)) throw new RangeError(`${name} must be an integer ≥ 0, got ${String(value)}`);
  return value;
}

function randomTag(): string {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(36).padStart(2, '0')).join('');
}
