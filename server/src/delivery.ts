/**
 * Moves messages to sockets, wherever they are:
 *  - direct: stored on `inbox.<user>` (JetStream) first, then written to local sockets, and for
 *    each other live replica holding the user, one request to `server.<id>` (never a broadcast)
 *    whose reply says how many sockets it wrote;
 *  - room: stored on `roomlog.<room>`, written to local members, published once on
 *    `room.<room>`, which only replicas with members subscribe to (noEcho: we don't hear ourselves);
 *    (the volatile class, DIRECT_DELIVERY=volatile: not stored, one publish per such replica, no reply);
 *  - broadcast: local sockets and one publish to `broadcast` (not stored).
 * Stored messages carry seq/prev, and reach each connection through its cursor (ordered-delivery).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { ClientConnection, ConnectionWriter, LiveItem, LocalConnections } from './connections.js';
import { decodeEnvelope, decodeReply, encode, type Envelope } from './envelope.js';
import { StreamFullError, type History, type Sequenced } from './history.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { isNoResponders } from './nats-errors.js';
import type { OrderedDelivery } from './ordered-delivery.js';
import type { PresenceDirectory } from './presence.js';
import type { ServerFrame } from './protocol.js';
import { PublishBatch } from './publish-batch.js';
import type { ReplyInbox } from './reply-inbox.js';
import { subjects } from './subjects.js';

type Direct = Extract<Envelope, { kind: 'direct' }>;
type Room = Extract<Envelope, { kind: 'room' }>;
type Broadcast = Extract<Envelope, { kind: 'broadcast' }>;

/** What `settle` returns for an append whose outcome is unknown (no answer before its deadline). */
const STORE_UNAVAILABLE = 'store_unavailable';

export interface DeliveryResult {
  /** Sockets written (or queued behind a replay), here and on other replicas. */
  delivered: number;
  /** Replicas that hold the recipient but could not be reached (NATS down, timeout). */
  unreachable: number;
  /** Where the message sits in its subject's history (`duplicate`: stored before, by an earlier try); absent when it could not be stored. */
  stored?: Sequenced;
  /** Refused, not delivered anywhere: the history is full (which limit and why, for the sender's `not_stored` error). */
  refused?: StreamFullError;
  /**
   * Not delivered anywhere: the store did not answer before its deadline (no stream leader). It may
   * still land; the sender's retry with the same id finds it (a duplicate) or stores it. Delivering
   * it live instead would hand out a copy without a seq that no client can tell from the stored one.
   */
  unavailable?: true;
}

export interface DeliveryDeps {
  nc: NatsConnection;
  /** Targeted deliveries to other replicas are requests over it. */
  inbox: Pick<ReplyInbox, 'request'>;
  /** Stores before delivering; remembers seqs seen live (the next append's predecessor hint). */
  history: Pick<History, 'append' | 'observe'>;
  /** Sequenced messages reach each connection through its cursor. */
  ordered: Pick<OrderedDelivery, 'offer'>;
  local: LocalConnections;
  /** Which other live replicas hold a user's sockets. */
  presence: Pick<PresenceDirectory, 'remoteServersFor'>;
  /** Unsequenced messages (broadcasts, ones that could not be stored) are written straight out. */
  writer: ConnectionWriter;
  serverId: string;
  /** REMOTE_TIMEOUT_MS: how long a targeted delivery to another replica may take. */
  remoteTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
}

export class Delivery {
  private readonly roomSubs = new Map<string, Subscription>();
  private natsUp = true;
  /** The publishes nobody answers, written once per event-loop turn. */
  private readonly publishes: PublishBatch;

  constructor(private readonly deps: DeliveryDeps) {
    this.publishes = new PublishBatch({ nc: deps.nc, log: deps.log, metrics: deps.metrics });
  }

  start(): void {
    this.deps.nc.subscribe(subjects.server(this.deps.serverId), { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'direct') {
        msg.respond(encode({ delivered: 0 }));
        return;
      }
      this.deps.metrics.crossReplicaReceived.inc({ kind: 'direct' });
      const delivered = this.writeToUser(env, 'remote');
      // A volatile message is published, not requested: nobody waits for the count.
      if (msg.reply !== undefined && msg.reply !== '') msg.respond(encode({ delivered }));
    } });
    this.deps.nc.subscribe(subjects.broadcast, { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'broadcast') return;
      this.deps.metrics.crossReplicaReceived.inc({ kind: 'broadcast' });
      this.writeToAll(env, 'remote');
    } });
  }

  setNatsUp(up: boolean): void {
    this.natsUp = up;
  }

  /**
   * Stores, then delivers a direct message. Call without awaiting anything first: order matters.
   * `env.msgId` (`<sender>:<client id>`) makes a retry of an already stored message a duplicate:
   * stored once, and delivered through the cursors, which drop it where it was written already.
   */
  async direct(env: Direct, store = true): Promise<DeliveryResult & { published?: boolean; forwarded?: number }> {
    if (!store) return this.directVolatile(env);
    const { msgId, ...message } = env;
    const stored = await this.settle(this.deps.history.append(subjects.inbox(env.to), { kind: 'direct', to: env.to, from: env.from, data: env.data, ts: env.ts }, msgId), { to: env.to });
    if (stored instanceof StreamFullError) return { delivered: 0, unreachable: 0, refused: stored };
    if (stored === STORE_UNAVAILABLE) return { delivered: 0, unreachable: 0, unavailable: true };
    const sequenced: Direct = { ...message, seq: stored.seq, prev: stored.prev };
    let delivered = this.writeToUser(sequenced, 'local');
    const remotes = this.deps.presence.remoteServersFor(env.to);
    if (remotes.length === 0) return { delivered, unreachable: 0, stored };
    // Stored means NATS answered just now: the live path is tried even if a status event said otherwise.
    const payload = encode(sequenced);
    const replies = await Promise.all(remotes.map((server) => this.requestDelivery(server, payload)));
    let unreachable = 0;
    for (const r of replies) {
      if (r === null) unreachable += 1;
      else delivered += r;
    }
    return { delivered, unreachable, stored };
  }

  /**
   * The volatile class: not stored, no seq; written to local sockets and published once to each other
   * replica holding the user, with no reply awaited (at most once, as Socket.IO's adapter does).
   * `delivered` counts this replica's sockets only, `forwarded` the replicas published to; `published` is false when other replicas hold the
   * user but NATS is down (they did not get it).
   */
  private directVolatile(env: Direct): DeliveryResult & { published: boolean; forwarded: number } {
    const { msgId: _unused, ...message } = env;
    const delivered = this.writeToUser(message, 'local');
    const remotes = this.deps.presence.remoteServersFor(env.to);
    if (remotes.length === 0) return { delivered, unreachable: 0, published: true, forwarded: 0 };
    if (!this.natsUp) return { delivered, unreachable: remotes.length, published: false, forwarded: 0 };
    const payload = encode(message);
    for (const server of remotes) {
      this.publishes.publish(subjects.server(server), payload);
      this.deps.metrics.crossReplicaPublishes.inc({ kind: 'direct' });
    }
    return { delivered, unreachable: 0, published: true, forwarded: remotes.length };
  }

  /**
   * Stores (unless the room's namespace keeps no history: `store` false), then delivers a room
   * message here and publishes it once for the other replicas (`msgId`: as for direct).
   */
  async room(env: Room, store = true): Promise<DeliveryResult & { published: boolean }> {
    const { msgId, ...message } = env;
    const stored = store ? await this.settle(this.deps.history.append(subjects.roomLog(env.room), { kind: 'room', room: env.room, from: env.from, data: env.data, ts: env.ts }, msgId), { room: env.room }) : undefined;
    if (stored instanceof StreamFullError) return { delivered: 0, unreachable: 0, published: false, refused: stored };
    if (stored === STORE_UNAVAILABLE) return { delivered: 0, unreachable: 0, published: false, unavailable: true };
    const sequenced: Room = stored === undefined ? message : { ...message, seq: stored.seq, prev: stored.prev };
    const delivered = this.writeToRoom(sequenced, 'local');
    if (!this.natsUp && stored === undefined) return { delivered, unreachable: 0, published: false };
    this.publishes.publish(subjects.room(env.room), encode(sequenced));
    this.deps.metrics.crossReplicaPublishes.inc({ kind: 'room' });
    return { delivered, unreachable: 0, published: true, ...(stored === undefined ? {} : { stored }) };
  }

  broadcast(env: Broadcast): { delivered: number; published: boolean } {
    const delivered = this.writeToAll(env, 'local');
    if (!this.natsUp) return { delivered, published: false };
    this.publishes.publish(subjects.broadcast, encode(env));
    this.deps.metrics.crossReplicaPublishes.inc({ kind: 'broadcast' });
    return { delivered, published: true };
  }

  /** Called when a room gets its first local member: start hearing other replicas' messages for it. */
  async roomOpened(room: string): Promise<void> {
    if (this.roomSubs.has(room)) return;
    this.roomSubs.set(room, this.deps.nc.subscribe(subjects.room(room), { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'room' || env.room !== room) return;
      this.deps.metrics.crossReplicaReceived.inc({ kind: 'room' });
      this.writeToRoom(env, 'remote');
    } }));
    // The NATS server has the interest once it answers the flush; not fatal when it cannot (the late tail check covers it).
    await this.deps.nc.flush().catch((err: unknown) => { this.deps.log.warn({ err, room }, 'flush after a room subscription failed'); });
  }

  /** Called when a room's last local member left. */
  roomClosed(room: string): void {
    this.roomSubs.get(room)?.unsubscribe();
    this.roomSubs.delete(room);
  }

  /**
   * Waits for an append already queued (so call order is kept). Stored messages only are delivered:
   * a full history refuses (the StreamFullError), and a store that did not answer in time
   * (STORE_UNAVAILABLE) is no delivery either, never a live-only copy (see `unavailable`).
   */
  private async settle(storing: Promise<Sequenced>, target: { to: string } | { room: string }): Promise<Sequenced | StreamFullError | typeof STORE_UNAVAILABLE> {
    try {
      return await storing;
    } catch (err) {
      if (err instanceof StreamFullError) {
        this.deps.log.info({ ...target, limit: err.limit }, 'history full: message refused');
        return err;
      }
      this.deps.log.warn({ err, ...target }, 'could not store a message in time: not delivered; the sender is told to send it again');
      return STORE_UNAVAILABLE;
    }
  }

  /** One targeted request, retried once on a timeout; null when the replica could not be reached. */
  private async requestDelivery(server: string, payload: Uint8Array): Promise<number | null> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      this.deps.metrics.crossReplicaPublishes.inc({ kind: 'direct' });
      try {
        const reply = await this.deps.inbox.request(subjects.server(server), payload, this.deps.remoteTimeoutMs);
        return decodeReply(reply.data)?.delivered ?? 0;
      } catch (err) {
        if (isNoResponders(err)) {
          // The replica is gone (nobody listens on its subject): its sockets went with it, and
          // its clients will resume from the stored history on whichever replica they reach.
          return 0;
        }
        this.deps.log.warn({ target: server, attempt, err: err as Error }, 'targeted delivery failed');
      }
    }
    return null;
  }

  private writeToUser(env: Direct, path: 'local' | 'remote'): number {
    if (path === 'remote' && env.seq !== undefined) this.deps.history.observe(subjects.inbox(env.to), env.seq);
    const conns = this.deps.local.ofUser(env.to);
    if (conns === undefined) return 0;
    return this.writeEach(conns, subjects.inbox(env.to), { type: 'message', from: env.from, data: env.data, ts: env.ts }, env, path);
  }

  private writeToRoom(env: Room, path: 'local' | 'remote'): number {
    if (path === 'remote' && env.seq !== undefined) this.deps.history.observe(subjects.roomLog(env.room), env.seq);
    const conns = this.deps.local.inRoom(env.room);
    if (conns === undefined) return 0;
    return this.writeEach(conns, subjects.roomLog(env.room), { type: 'message', room: env.room, from: env.from, data: env.data, ts: env.ts }, env, path);
  }

  private writeToAll(env: Broadcast, path: 'local' | 'remote'): number {
    const bytes = Buffer.from(JSON.stringify({ type: 'message', broadcast: true, from: env.from, data: env.data, ts: env.ts } satisfies ServerFrame));
    let n = 0;
    for (const conn of this.deps.local.all()) if (this.deps.writer.write(conn, bytes)) n += 1;
    this.observe(n, env.ts, path);
    return n;
  }

  /** Sequenced messages go through each connection's cursor; unsequenced ones straight out. */
  private writeEach(conns: Iterable<ClientConnection>, subject: string, frame: LiveItem['frame'], env: { ts: number; seq?: number; prev?: number }, path: 'local' | 'remote'): number {
    let n = 0;
    if (env.seq !== undefined && env.prev !== undefined) {
      const item: LiveItem = { seq: env.seq, prev: env.prev, frame };
      for (const conn of conns) if (this.deps.ordered.offer(conn, subject, item)) n += 1;
    } else {
      const bytes = Buffer.from(JSON.stringify(frame));
      for (const conn of conns) if (this.deps.writer.write(conn, bytes)) n += 1;
    }
    this.observe(n, env.ts, path);
    return n;
  }

  private observe(n: number, ts: number, path: 'local' | 'remote'): void {
    if (n === 0) return;
    this.deps.metrics.messages.inc({ type: 'message', direction: 'out' }, n);
    this.deps.metrics.deliveryLatency.observe({ path }, Math.max(0, Date.now() - ts) / 1000);
  }
}
