/**
 * What a sender can do, whichever way it arrives (a WebSocket frame, an HTTP request with a user
 * token, or the server API): the same checks (identity, namespace policy and grants, the per-user
 * rate limit) and the same delivery path for all.
 */
import type { Access, Actor } from './access.js';
import type { DeliveryClass } from './config.js';
import type { Delivery } from './delivery.js';
import type { StreamFullError } from './history.js';
import type { Metrics } from './metrics.js';
import type { UserRateLimits } from './rate-limit.js';
import { parseRoom } from './rooms.js';

/** Who sends: a user (with what its token and connection allow) or the server API. */
export type Sender =
  | { kind: 'user'; userId: string; actor: Extract<Actor, { kind: 'user' }> }
  | { kind: 'server' };

export type SendOutcome =
  /** `forwarded`: volatile only, the other replicas the message was published to (their sockets are not counted). */
  | { ok: true; delivered: number; stored: boolean; seq?: number; duplicate?: boolean; forwarded?: number }
  | {
      ok: false;
      code: 'forbidden' | 'remote_unavailable' | 'not_stored' | 'store_unavailable' | 'rate_limited';
      message: string;
      delivered: number;
      retryAfterMs?: number;
      /** not_stored: the recipient's or room's quota is full (`quota`: the client's matter), or the store as a whole (`store`). */
      full?: 'quota' | 'store';
    };

/** Name used as `from` when the server API sends without naming a sender. */
export const SERVER_SENDER = 'server';

/** When a sender told store_unavailable may try again: about one JetStream leader election. */
const STORE_RETRY_AFTER_MS = 1000;

export interface SendOptions {
  /** Claimed sender: a user must claim itself; the server API may name anyone. */
  from?: string | undefined;
  /** The client's id for this message (WebSocket `id`): makes a retry idempotent (Nats-Msg-Id `<user>:<id>`). */
  clientId?: string | number | undefined;
  transport: 'ws' | 'http';
}

export interface MessagingDeps {
  delivery: Delivery;
  /** This replica (the envelopes' origin). */
  serverId: string;
  access: Access;
  /** The per-user rate limit, shared by every transport. */
  rates: UserRateLimits;
  /** Direct messages: durable (stored first) or volatile (not stored, at most once). */
  directDelivery: DeliveryClass;
  metrics: Metrics;
}

export class Messaging {

  constructor(private readonly deps: MessagingDeps) {}

  /** Identity and rate checks common to every send; the `from` to use, or a refusal. */
  private admit(sender: Sender, opts: SendOptions): { from: string; msgId?: string } | SendOutcome {
    if (sender.kind === 'server') return { from: opts.from ?? SERVER_SENDER };
    if (opts.from !== undefined && opts.from !== sender.userId) {
      return { ok: false, code: 'forbidden', message: 'cannot send as another user', delivered: 0 };
    }
    const waitMs = this.deps.rates.take(sender.userId);
    if (waitMs > 0) {
      this.deps.metrics.rateLimited.inc({ transport: opts.transport });
      return { ok: false, code: 'rate_limited', message: 'too many messages from this user: slow down', delivered: 0, retryAfterMs: waitMs };
    }
    return { from: sender.userId, ...(opts.clientId === undefined ? {} : { msgId: `${sender.userId}:${String(opts.clientId)}` }) };
  }

  /**
   * A direct message. Volatile (DIRECT_DELIVERY): acknowledged once written here and published to the
   * other replicas holding the recipient (`delivered`: this replica's sockets). Durable: acknowledged (ok) once it is stored in JetStream and every live replica
   * holding the recipient was asked to write it (`delivered` counts the sockets written). Not
   * stored is not acknowledged: a full history answers not_stored, a store that did not answer in
   * time store_unavailable (send again, same id), and neither was delivered anywhere.
   */
  async sendDirect(sender: Sender, to: string, data: unknown, opts: SendOptions): Promise<SendOutcome> {
    const admitted = this.admit(sender, opts);
    if ('ok' in admitted) return admitted;
    const { from, msgId } = admitted;
    const durable = this.deps.directDelivery === 'durable';
    const r = await this.deps.delivery.direct({ v: 1, kind: 'direct', to, from, data, ts: Date.now(), origin: this.deps.serverId, ...(msgId === undefined ? {} : { msgId }) }, durable);
    if (!durable) {
      if (r.published === false) return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only sockets on this replica got it', delivered: r.delivered };
      return { ok: true, delivered: r.delivered, stored: false, forwarded: r.forwarded ?? 0 };
    }
    if (r.stored !== undefined) return { ok: true, delivered: r.delivered, stored: true, seq: r.stored.seq, ...duplicateOf(r.stored) };
    if (r.refused !== undefined) return notStored(r.refused);
    return storeUnavailable();
  }

  async publishRoom(sender: Sender, room: string, data: unknown, opts: SendOptions): Promise<SendOutcome> {
    const name = parseRoom(room);
    if (name === null) return { ok: false, code: 'forbidden', message: 'not a room', delivered: 0 };
    const decision = this.deps.access.publish(sender.kind === 'server' ? sender : sender.actor, name);
    if (!decision.ok) {
      this.deps.metrics.forbidden.inc({ action: 'publish' });
      return { ok: false, code: 'forbidden', message: decision.message, delivered: 0 };
    }
    const admitted = this.admit(sender, opts);
    if ('ok' in admitted) return admitted;
    const { from, msgId } = admitted;
    const keep = this.deps.access.policy(name)?.keepHistory ?? false;
    const r = await this.deps.delivery.room({ v: 1, kind: 'room', room: name.room, from, data, ts: Date.now(), origin: this.deps.serverId, ...(msgId === undefined ? {} : { msgId }) }, keep);
    if (r.refused !== undefined) return notStored(r.refused);
    if (r.unavailable === true) return storeUnavailable();
    if (!r.published && r.stored === undefined) {
      return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local members got it', delivered: r.delivered };
    }
    return { ok: true, delivered: r.delivered, stored: r.stored !== undefined, ...(r.stored === undefined ? {} : { seq: r.stored.seq, ...duplicateOf(r.stored) }) };
  }

  /** To every connection of the fleet: the server API only (no user token grants it). */
  broadcast(sender: Sender, data: unknown, from?: string): SendOutcome {
    if (sender.kind !== 'server') return { ok: false, code: 'forbidden', message: 'broadcast is for the server API only', delivered: 0 };
    const r = this.deps.delivery.broadcast({ v: 1, kind: 'broadcast', from: from ?? SERVER_SENDER, data, ts: Date.now(), origin: this.deps.serverId });
    if (!r.published) return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local connections got it', delivered: r.delivered };
    return { ok: true, delivered: r.delivered, stored: false };
  }
}

/** `duplicate: true` when the store says the message was there already (an earlier try of the same id). */
function duplicateOf(stored: object): { duplicate?: true } {
  return (stored as { duplicate?: unknown }).duplicate === true ? { duplicate: true } : {};
}

/** The sender's answer when the store did not answer in time: nothing was delivered; the same id again is safe. */
function storeUnavailable(): SendOutcome {
  return {
    ok: false,
    code: 'store_unavailable',
    message: 'the message store did not answer in time (a NATS leader election?): not delivered; send it again with the same id',
    delivered: 0,
    retryAfterMs: STORE_RETRY_AFTER_MS,
  };
}

/** The sender's answer when the history refused the message because it is full. */
function notStored(refused: StreamFullError): SendOutcome {
  return {
    ok: false,
    code: 'not_stored',
    message: refused.message,
    delivered: 0,
    full: refused.limit === 'per_subject' ? 'quota' : 'store',
    ...(refused.retryAfterSec === undefined ? {} : { retryAfterMs: refused.retryAfterSec * 1000 }),
  };
}
