/**
 * One group of simulated users, as in the k6 scripts (k6/lib/group.js): every message stays inside
 * its group (direct messages to a random other member, room messages to a room of the group), so the
 * group sees both ends of every message and counts losses and duplicates without shared state.
 * Each user is one client of load/client.ts through the balancer: FleetClient of the client library,
 * or, against a Centrifugo peer, load/peers/centrifugo-client.ts.
 *
 * Message data: { r: run id, m: "<sender global index>.<counter>", t: send time, p?: padding }.
 * Counted as the k6 scripts count (docs/k6.md "Users, groups and messages"), plus ack_latency (send →
 * ack), acks_not_stored (an ack with stored:false), replay_time (welcome → replay done) and the
 * jitter profile's deliberate drops (jitter_drops; their down time is not a reconnect time).
 */
import { createLoadClient, type Ack, type LoadClient, type LoadPositions, type LoadProtocol } from './client.js';
import { connectAt, type Params } from './scenarios.js';
import type { Counters, JitterProfile, Trends } from './stats.js';
import { closeKind, tally } from './tallies.js';

/** Without room seq: a member must have stayed joined from the send until this long after the ack. */
const ROOM_DELIVERY_WINDOW_MS = 2000;
const SETTLE_POLL_MS = 250;

interface User {
  idx: number;
  gi: number;
  id: string;
  room: string;
  client: LoadClient | undefined;
  /** Unsubscribes of the current client's listeners. */
  offs: (() => void)[];
  open: boolean;
  everOpen: boolean;
  /** Since when a server-side close has kept the user down (undefined: up or deliberately dropped). */
  downSince: number | undefined;
  /** A jitter drop is in progress (the replacement client opens after the down time). */
  jittered: boolean;
  welcomedAt: number | undefined;
  counter: number;
  /** Positions of the user's last client (its resumePositions when it was dropped): the next client resumes from them. */
  positions: LoadPositions | undefined;
  firstJoinedAt: number | undefined;
  joined: boolean;
  gaps: [number, number | undefined][];
  /** The current client has joined the room once (it rejoins by itself on its reconnects). */
  clientJoined: boolean;
}

interface MessageRecord {
  kind: 'direct' | 'room';
  from: number;
  to: number;
  room: string;
  sentAt: number;
  ackAt: number | undefined;
  state: 'pending' | 'acked' | 'undelivered';
  /** Recipient index → how the first copy came (seq, replayed), for the log line of a duplicate. */
  recv: Map<number, string>;
  settled: boolean;
}

export interface GroupContext {
  runId: string;
  wsUrl: string;
  /** What the users speak (load/client.ts): ws-fleet's protocol, or a Centrifugo peer's. */
  protocol: LoadProtocol;
  token: (user: string) => string;
  params: Params;
  schedule: { t0: number; trafficStart: number; trafficEnd: number; graceEnd: number };
  jitter: JitterProfile | undefined;
  roomPrefix: string;
  counters: Counters;
  trends: Trends;
  /** Welcomes per replica id. */
  servers: Map<string, number>;
  /** Sends not acknowledged, by reason: the error code of the refusal, `timeout`, `socket_closed`, or `not_delivered` (acked with nothing delivered or stored). */
  undelivered: Map<string, number>;
  /** Closes the client did not ask for, after the welcome, by close code and reason ("1012 draining"). */
  closes: Map<string, number>;
  log: (text: string) => void;
}

export class Group {
  private readonly users: User[] = [];
  private readonly byRoom = new Map<string, User[]>();
  private readonly msgs = new Map<string, MessageRecord>();
  private roomSeqSeen = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private finished = false;
  private readonly padding: string | undefined;
  readonly rate: number;
  private credit = 0;

  constructor(private readonly ctx: GroupContext, readonly index: number) {
    const p = ctx.params;
    const first = index * p.groupSize;
    const last = Math.min(p.users, first + p.groupSize);
    for (let gi = first; gi < last; gi++) {
      const idx = gi - first;
      const u: User = {
        idx, gi, id: `load-${ctx.runId}-${gi}`, room: `${ctx.roomPrefix}load-${ctx.runId}-g${index}-r${Math.floor(idx / p.roomSize)}`,
        client: undefined, offs: [], open: false, everOpen: false, downSince: undefined, jittered: false, welcomedAt: undefined,
        counter: 0, positions: undefined, firstJoinedAt: undefined, joined: false, gaps: [], clientJoined: false,
      };
      this.users.push(u);
      const list = this.byRoom.get(u.room) ?? [];
      list.push(u);
      this.byRoom.set(u.room, list);
    }
    this.rate = (p.rate * this.users.length) / p.users;
    this.padding = p.payloadBytes > 0 ? 'x'.repeat(p.payloadBytes) : undefined;
  }

  private isFinished(): boolean {
    return this.finished;
  }

  get openSockets(): number {
    return this.users.filter((u) => u.open).length;
  }

  private later(ms: number, fn: () => void): void {
    const h = setTimeout(() => {
      this.timers.delete(h);
      fn();
    }, Math.max(0, ms));
    this.timers.add(h);
  }

  /** Schedules the connects; the runner drives `tick` for traffic and calls `settle` at the end. */
  start(): void {
    for (const u of this.users) this.later(connectAt(this.ctx.schedule, this.ctx.params, u.gi) - Date.now(), () => void this.connect(u));
    if (this.ctx.jitter !== undefined) {
      for (const u of this.users) this.scheduleJitter(u, this.ctx.schedule.trafficStart - Date.now() + this.jitterGap());
    }
  }

  // ---- connections ------------------------------------------------------------------------------

  private async connect(u: User): Promise<void> {
    if (this.finished) return;
    const c = this.ctx;
    const client = createLoadClient(c.protocol, {
      url: c.wsUrl,
      token: () => c.token(u.id),
      connectTimeoutMs: c.params.connectTimeoutMs,
      ...(u.positions === undefined ? {} : { resumeFrom: u.positions }),
    });
    u.client = client;
    u.clientJoined = false;
    u.offs = [
      client.on('attempt', () => { if (u.client === client) c.counters.ws_connect_attempts += 1; }),
      client.on('disconnect', (d) => { this.onDisconnect(u, client, d.welcomed, closeKind(d.code, d.reason)); }),
      client.on('welcome', (w) => { this.onWelcome(u, client, w.server); }),
      client.on('resumed', (r) => {
        // Every subject replayed (r.pending 0): the time from the welcome is the replay time.
        if (r.pending === 0 && u.welcomedAt !== undefined && u.client === client) {
          c.trends.replay_time.add(Date.now() - u.welcomedAt);
          u.welcomedAt = undefined;
        }
      }),
      client.on('message', (m) => { this.onMessage(u, m.data, m.seq, m.room, m.replayed === true); }),
      client.on('error', () => { c.counters.server_errors += 1; }),
    ];
    try {
      await client.connect();
    } catch (err) {
      if (u.client !== client || this.isFinished()) return;
      // The first connect was refused for good (an auth refusal; network failures are retried inside the client): try again later.
      this.ctx.log(`${u.id}: connect failed: ${err instanceof Error ? err.message : String(err)}`);
      this.dropClient(u);
      this.later(1000, () => void this.connect(u));
    }
  }

  /** A socket of the current client is gone: before its welcome a connect failure, after it a close by the server or the network. */
  private onDisconnect(u: User, client: LoadClient, welcomed: boolean, how: string): void {
    if (u.client !== client) return;
    const c = this.ctx.counters;
    if (!welcomed) {
      c.ws_connect_failures += 1;
    } else if (u.open) {
      u.open = false;
      c.ws_closes_unexpected += 1;
      tally(this.ctx.closes, how);
      u.downSince ??= Date.now();
      this.leftRoom(u);
    }
  }

  private onWelcome(u: User, client: LoadClient, server: string | undefined): void {
    if (u.client !== client) return;
    const c = this.ctx;
    u.open = true;
    c.counters.ws_connects += 1;
    if (server !== undefined) tally(c.servers, server);
    if (u.downSince !== undefined) {
      c.counters.ws_reconnects += 1;
      c.trends.ws_reconnect_time.add(Date.now() - u.downSince);
      u.downSince = undefined;
    }
    const resuming = u.everOpen;
    u.everOpen = true;
    u.welcomedAt = resuming ? Date.now() : undefined;
    if (!u.clientJoined) {
      client.join(u.room).then(
        () => {
          u.clientJoined = true;
          this.onJoined(u, client);
        },
        (err: unknown) => { this.ctx.log(`${u.id}: join failed: ${describeError(err)}`); },
      );
    } else {
      // The client rejoins by itself on a reconnect; the room counts as joined again at the welcome.
      this.onJoined(u, client);
    }
  }

  private onJoined(u: User, client: LoadClient): void {
    if (u.client !== client) return;
    const now = Date.now();
    u.joined = true;
    if (u.firstJoinedAt === undefined) {
      u.firstJoinedAt = now;
    } else {
      const open = u.gaps[u.gaps.length - 1];
      if (open !== undefined && open[1] === undefined) open[1] = now;
    }
  }

  private leftRoom(u: User): void {
    if (u.joined && u.firstJoinedAt !== undefined) u.gaps.push([Date.now(), undefined]);
    u.joined = false;
  }

  private dropClient(u: User): void {
    const client = u.client;
    for (const off of u.offs) off();
    u.offs = [];
    u.client = undefined;
    u.open = false;
    if (client !== undefined) {
      u.positions = client.resumePositions;
      void client.close();
    }
  }

  private jitterGap(): number {
    const j = this.ctx.jitter;
    if (j === undefined) return Infinity;
    return j.everyMs + (Math.random() * 2 - 1) * j.spreadMs;
  }

  /** The jitter profile: the socket is dropped (the client closed abruptly) and reopened after the down time. */
  private scheduleJitter(u: User, inMs: number): void {
    const j = this.ctx.jitter;
    if (j === undefined) return;
    const stopAt = this.ctx.schedule.trafficEnd - j.stopBeforeEndMs;
    if (Date.now() + inMs >= stopAt) return;
    this.later(inMs, () => {
      if (this.finished || Date.now() >= stopAt) return;
      if (u.open && !u.jittered) {
        this.ctx.counters.jitter_drops += 1;
        u.jittered = true;
        this.leftRoom(u);
        this.dropClient(u);
        const down = j.downMs + (Math.random() * 2 - 1) * j.downSpreadMs;
        this.later(down, () => {
          u.jittered = false;
          void this.connect(u);
        });
      }
      this.scheduleJitter(u, this.jitterGap());
    });
  }

  // ---- traffic ----------------------------------------------------------------------------------

  /** Called by the worker every tick during traffic: sends this group's share of the rate. */
  tick(now: number, elapsedMs: number): void {
    if (this.finished) return;
    this.credit += (this.rate * elapsedMs) / 1000;
    let n = Math.min(Math.floor(this.credit), Math.ceil(this.rate) + 1);
    this.credit -= Math.floor(this.credit);
    while (n > 0) {
      n -= 1;
      this.sendOne(now);
    }
  }

  private sendOne(now: number): void {
    const open = this.users.filter((x) => x.open && x.joined);
    if (open.length === 0 || this.users.length < 2) return;
    const u = open[Math.floor(Math.random() * open.length)];
    const client = u?.client;
    if (u === undefined || client === undefined) return;
    u.counter += 1;
    const id = `${u.gi}.${u.counter}`;
    const data = this.padding === undefined ? { r: this.ctx.runId, m: id, t: now } : { r: this.ctx.runId, m: id, t: now, p: this.padding };
    const c = this.ctx;
    let rec: MessageRecord;
    let ack: Promise<Ack>;
    if (Math.random() < c.params.roomShare) {
      rec = { kind: 'room', from: u.idx, to: -1, room: u.room, sentAt: now, ackAt: undefined, state: 'pending', recv: new Map(), settled: false };
      ack = client.publish(u.room, data);
    } else {
      let other = Math.floor(Math.random() * (this.users.length - 1));
      if (other >= u.idx) other += 1;
      const to = this.users[other];
      if (to === undefined) return;
      rec = { kind: 'direct', from: u.idx, to: other, room: '', sentAt: now, ackAt: undefined, state: 'pending', recv: new Map(), settled: false };
      ack = client.send(to.id, data);
    }
    this.msgs.set(id, rec);
    c.counters.messages_sent += 1;
    ack.then(
      (a) => {
        if (rec.state !== 'pending') return;
        rec.ackAt = Date.now();
        c.trends.ack_latency.add(rec.ackAt - rec.sentAt);
        if (a.stored === false) c.counters.acks_not_stored += 1;
        if (rec.kind === 'room' || (typeof a.delivered === 'number' && a.delivered >= 1) || a.stored === true) {
          rec.state = 'acked';
          c.counters.messages_acked += 1;
        } else {
          this.undelivered(rec, 'not_delivered');
        }
      },
      (err: unknown) => {
        if (rec.state !== 'pending') return;
        this.undelivered(rec, reasonOf(err));
      },
    );
  }

  private undelivered(rec: MessageRecord, reason: string): void {
    rec.state = 'undelivered';
    this.ctx.counters.messages_undelivered += 1;
    tally(this.ctx.undelivered, reason);
  }

  private onMessage(u: User, data: unknown, seq: number | undefined, room: string | undefined, replayed: boolean): void {
    if (this.finished || data === null || typeof data !== 'object') return;
    const d = data as { r?: unknown; m?: unknown; t?: unknown };
    if (d.r !== this.ctx.runId || typeof d.m !== 'string') return;
    // Room messages with a seq: the server stores rooms, so a member away for a while still gets them (replay).
    if (seq !== undefined && room !== undefined) this.roomSeqSeen = true;
    const rec = this.msgs.get(d.m);
    if (rec === undefined) return;
    const how = `seq ${seq === undefined ? '-' : String(seq)}${replayed ? ' replayed' : ' live'} at +${Date.now() - this.ctx.schedule.trafficStart} ms`;
    const first = rec.recv.get(u.idx);
    if (first !== undefined) {
      this.ctx.counters.messages_duplicated += 1;
      this.ctx.log(`duplicate: ${rec.kind} ${d.m} to ${u.id}${room === undefined ? '' : ` in ${room}`}: first ${first}, again ${how} (sent at +${rec.sentAt - this.ctx.schedule.trafficStart} ms)`);
      return;
    }
    rec.recv.set(u.idx, how);
    this.ctx.counters.messages_received += 1;
    if (typeof d.t === 'number') this.ctx.trends.e2e_latency.add(Date.now() - d.t);
  }

  // ---- end of run -------------------------------------------------------------------------------

  private expected(rec: MessageRecord): { expected: User[]; excused: User[] } {
    if (rec.kind === 'direct') {
      const to = this.users[rec.to];
      return { expected: to === undefined ? [] : [to], excused: [] };
    }
    const expected: User[] = [];
    const excused: User[] = [];
    const until = (rec.ackAt ?? rec.sentAt) + ROOM_DELIVERY_WINDOW_MS;
    for (const m of this.byRoom.get(rec.room) ?? []) {
      if (m.firstJoinedAt === undefined || m.firstJoinedAt > rec.sentAt) continue;
      if (this.roomSeqSeen || !wasAway(m, rec.sentAt, until)) expected.push(m);
      else excused.push(m);
    }
    return { expected, excused };
  }

  /** True while some send waits for its ack or some acknowledged message misses a recipient. */
  unsettled(): boolean {
    for (const rec of this.msgs.values()) {
      if (rec.settled) continue;
      if (rec.state === 'pending') return true;
      if (rec.state === 'acked' && this.expected(rec).expected.some((m) => !rec.recv.has(m.idx))) return true;
      rec.settled = true;
    }
    return false;
  }

  /** Waits (bounded by graceEnd) for in-flight messages, then counts and closes. */
  settle(): Promise<void> {
    return new Promise((resolve) => {
      const poll = (): void => {
        if (Date.now() >= this.ctx.schedule.graceEnd || !this.unsettled()) {
          void this.finish().then(resolve);
          return;
        }
        this.later(SETTLE_POLL_MS, poll);
      };
      poll();
    });
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const c = this.ctx;
    const now = Date.now();
    for (const u of this.users) {
      if (u.downSince !== undefined || (!u.open && !u.jittered)) {
        c.counters.ws_reconnect_incomplete += 1;
        if (u.downSince !== undefined) c.trends.ws_reconnect_time.add(now - u.downSince);
      }
    }
    for (const rec of this.msgs.values()) {
      if (rec.state === 'pending') this.undelivered(rec, 'no_ack_by_end');
      if (rec.state !== 'acked') continue;
      const { expected, excused } = this.expected(rec);
      for (const m of expected) {
        if (rec.recv.has(m.idx)) continue;
        c.counters.messages_lost += 1;
        const t0 = c.schedule.trafficStart;
        c.log(`lost: ${rec.kind} from ${this.users[rec.from]?.id ?? '?'} to ${m.id}, sent at +${rec.sentAt - t0} ms, acked at +${(rec.ackAt ?? 0) - t0} ms`);
      }
      for (const m of excused) if (!rec.recv.has(m.idx)) c.counters.messages_missed_offline += 1;
    }
    for (const h of this.timers) clearTimeout(h);
    this.timers.clear();
    await Promise.all(
      this.users.map((u) => {
        const cl = u.client;
        for (const off of u.offs) off();
        u.offs = [];
        u.client = undefined;
        return cl === undefined ? Promise.resolve() : cl.close();
      }),
    );
  }
}

function wasAway(m: User, from: number, to: number): boolean {
  for (const [gapFrom, gapTo] of m.gaps) if (gapFrom <= to && (gapTo === undefined || gapTo >= from)) return true;
  return false;
}

/** Why a send was not acknowledged, from its rejection: the server's error code, else the client library's. */
function reasonOf(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string' && /^[a-z_]{1,40}$/.test(err.code)) return err.code;
  return 'other';
}

function describeError(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err) return `${String((err).code)}: ${err instanceof Error ? err.message : ''}`;
  return String(err);
}
