/**
 * Moves messages to sockets, wherever they are:
 *  - direct: local sockets written here; for each other live replica holding the user, one
 *    request to `server.<id>` (never a broadcast), whose reply says how many sockets it wrote;
 *  - room: local members written here; one publish to `room.<room>`, which only replicas with
 *    members subscribe to (the connection is noEcho, so we don't hear ourselves);
 *  - broadcast: local sockets and one publish to `broadcast`.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { ClientConnection, LocalConnections } from './connections.js';
import { decodeEnvelope, decodeReply, encode, type Envelope } from './envelope.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { PresenceDirectory } from './presence.js';
import type { ServerFrame } from './protocol.js';
import { subjects } from './subjects.js';

export interface DirectResult {
  /** Sockets written, here and on other replicas. */
  delivered: number;
  /** Replicas that hold the user but could not be reached (NATS down, timeout). */
  unreachable: number;
}

/** Writes a frame to one socket unless it is closing or its send buffer is over the cap. */
export type SocketWriter = (conn: ClientConnection, text: string) => boolean;

export class Delivery {
  private readonly roomSubs = new Map<string, Subscription>();
  private readonly subs: Subscription[] = [];
  private natsUp = true;

  constructor(
    private readonly nc: NatsConnection,
    private readonly local: LocalConnections,
    private readonly presence: PresenceDirectory,
    private readonly serverId: string,
    private readonly write: SocketWriter,
    private readonly remoteTimeoutMs: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.subs.push(this.nc.subscribe(subjects.server(this.serverId), { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'direct') {
        msg.respond(encode({ delivered: 0 }));
        return;
      }
      this.metrics.crossReplicaReceived.inc({ kind: 'direct' });
      msg.respond(encode({ delivered: this.writeToUser(env, 'remote') }));
    } }));
    this.subs.push(this.nc.subscribe(subjects.broadcast, { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'broadcast') return;
      this.metrics.crossReplicaReceived.inc({ kind: 'broadcast' });
      this.writeToAll(env, 'remote');
    } }));
  }

  setNatsUp(up: boolean): void {
    this.natsUp = up;
  }

  async direct(env: Extract<Envelope, { kind: 'direct' }>): Promise<DirectResult> {
    let delivered = this.writeToUser(env, 'local');
    const remotes = this.presence.remoteServersFor(env.to);
    if (remotes.length === 0) return { delivered, unreachable: 0 };
    if (!this.natsUp) return { delivered, unreachable: remotes.length };
    const payload = encode(env);
    const replies = await Promise.allSettled(remotes.map((server) => {
      this.metrics.crossReplicaPublishes.inc({ kind: 'direct' });
      return this.nc.request(subjects.server(server), payload, { timeout: this.remoteTimeoutMs });
    }));
    let unreachable = 0;
    replies.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        delivered += decodeReply(r.value.data)?.delivered ?? 0;
      } else if (isNoResponders(r.reason)) {
        // The replica is gone (no subscriber on its subject): its sockets are gone with it.
        this.log.debug({ target: remotes[i] }, 'no responders for targeted delivery');
      } else {
        unreachable += 1;
        this.log.warn({ target: remotes[i], err: r.reason as unknown }, 'targeted delivery failed');
      }
    });
    return { delivered, unreachable };
  }

  /** Delivers to local room members and publishes once for the other replicas; returns local deliveries. */
  room(env: Extract<Envelope, { kind: 'room' }>): { local: number; published: boolean } {
    const local = this.writeToRoom(env, 'local');
    if (!this.natsUp) return { local, published: false };
    this.nc.publish(subjects.room(env.room), encode(env));
    this.metrics.crossReplicaPublishes.inc({ kind: 'room' });
    return { local, published: true };
  }

  broadcast(env: Extract<Envelope, { kind: 'broadcast' }>): { local: number; published: boolean } {
    const local = this.writeToAll(env, 'local');
    if (!this.natsUp) return { local, published: false };
    this.nc.publish(subjects.broadcast, encode(env));
    this.metrics.crossReplicaPublishes.inc({ kind: 'broadcast' });
    return { local, published: true };
  }

  /** Called when a room gets its first local member: start hearing other replicas' messages for it. */
  roomOpened(room: string): void {
    if (this.roomSubs.has(room)) return;
    this.roomSubs.set(room, this.nc.subscribe(subjects.room(room), { callback: (err, msg) => {
      if (err !== null) return;
      const env = decodeEnvelope(msg.data);
      if (env?.kind !== 'room' || env.room !== room) return;
      this.metrics.crossReplicaReceived.inc({ kind: 'room' });
      this.writeToRoom(env, 'remote');
    } }));
  }

  /** Called when a room's last local member left. */
  roomClosed(room: string): void {
    this.roomSubs.get(room)?.unsubscribe();
    this.roomSubs.delete(room);
  }

  private writeToUser(env: Extract<Envelope, { kind: 'direct' }>, path: 'local' | 'remote'): number {
    const conns = this.local.ofUser(env.to);
    if (conns === undefined) return 0;
    return this.writeFrame(conns, { type: 'message', from: env.from, data: env.data, ts: env.ts }, env.ts, path);
  }

  private writeToRoom(env: Extract<Envelope, { kind: 'room' }>, path: 'local' | 'remote'): number {
    const conns = this.local.inRoom(env.room);
    if (conns === undefined) return 0;
    return this.writeFrame(conns, { type: 'message', room: env.room, from: env.from, data: env.data, ts: env.ts }, env.ts, path);
  }

  private writeToAll(env: Extract<Envelope, { kind: 'broadcast' }>, path: 'local' | 'remote'): number {
    return this.writeFrame(this.local.all(), { type: 'message', broadcast: true, from: env.from, data: env.data, ts: env.ts }, env.ts, path);
  }

  private writeFrame(conns: Iterable<ClientConnection>, frame: ServerFrame, ts: number, path: 'local' | 'remote'): number {
    const text = JSON.stringify(frame);
    let n = 0;
    for (const conn of conns) {
      if (this.write(conn, text)) n += 1;
    }
    if (n > 0) {
      this.metrics.messages.inc({ type: 'message', direction: 'out' }, n);
      this.metrics.deliveryLatency.observe({ path }, Math.max(0, Date.now() - ts) / 1000);
    }
    return n;
  }
}

function isNoResponders(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; isNoResponders?: () => boolean };
  if (typeof e.isNoResponders === 'function') return e.isNoResponders();
  return e.code === '503' || /no responders/i.test(e.message);
}

