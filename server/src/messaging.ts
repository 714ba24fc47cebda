/**
 * What a user can do, whichever way it arrives (a WebSocket frame or an HTTP request):
 * the same checks and the same delivery path for both.
 */
import type { Delivery } from './delivery.js';
import type { Principal } from './auth.js';

export type SendOutcome =
  | { ok: true; delivered: number; stored: boolean; seq?: number; duplicate?: true }
  | { ok: false; code: 'forbidden' | 'remote_unavailable' | 'not_stored'; message: string; delivered: number };

export class Messaging {
  constructor(private readonly delivery: Delivery, private readonly serverId: string) {}

  /**
   * A direct message. Acknowledged (ok) once it is stored in JetStream and every live replica
   * holding the recipient has written it; or, when it could not be stored, once it reached
   * every socket of the recipient live.
   */
  async sendDirect(sender: Principal, to: string, data: unknown, claimedFrom?: string, clientId?: string | number): Promise<SendOutcome> {
    if (claimedFrom !== undefined && claimedFrom !== sender.userId) {
      return { ok: false, code: 'forbidden', message: 'cannot send as another user', delivered: 0 };
    }
    const r = await this.delivery.direct({ v: 1, kind: 'direct', to, from: sender.userId, data, ts: Date.now(), origin: this.serverId, ...msgIdOf(sender, clientId) });
    if (r.refused !== undefined) return { ok: false, code: 'not_stored', message: r.refused, delivered: 0 };
    if (r.stored !== undefined) return { ok: true, delivered: r.delivered, stored: true, seq: r.stored.seq, ...(r.stored.duplicate === true ? { duplicate: true } : {}) };
    if (r.unreachable > 0) {
      return { ok: false, code: 'remote_unavailable', message: `not stored, and ${r.unreachable} replica(s) holding the recipient could not be reached`, delivered: r.delivered };
    }
    if (r.delivered === 0) return { ok: false, code: 'not_stored', message: 'could not store the message and the recipient is not connected here', delivered: 0 };
    return { ok: true, delivered: r.delivered, stored: false };
  }

  async publishRoom(sender: Principal, room: string, data: unknown, claimedFrom?: string, clientId?: string | number): Promise<SendOutcome> {
    if (claimedFrom !== undefined && claimedFrom !== sender.userId) {
      return { ok: false, code: 'forbidden', message: 'cannot publish as another user', delivered: 0 };
    }
    const r = await this.delivery.room({ v: 1, kind: 'room', room, from: sender.userId, data, ts: Date.now(), origin: this.serverId, ...msgIdOf(sender, clientId) });
    if (r.refused !== undefined) return { ok: false, code: 'not_stored', message: r.refused, delivered: 0 };
    if (!r.published && r.stored === undefined) {
      return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local members got it', delivered: r.delivered };
    }
    return { ok: true, delivered: r.delivered, stored: r.stored !== undefined, ...(r.stored === undefined ? {} : { seq: r.stored.seq }), ...(r.stored?.duplicate === true ? { duplicate: true } : {}) };
  }

  broadcast(sender: Principal, data: unknown): SendOutcome {
    if (!sender.admin) return { ok: false, code: 'forbidden', message: 'broadcast needs an admin token', delivered: 0 };
    const r = this.delivery.broadcast({ v: 1, kind: 'broadcast', from: sender.userId, data, ts: Date.now(), origin: this.serverId });
    if (!r.published) return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local connections got it', delivered: r.delivered };
    return { ok: true, delivered: r.delivered, stored: false };
  }
}

/** The append's idempotency key: the sender and the client's id (a retry with the same id is stored once). */
function msgIdOf(sender: Principal, clientId: string | number | undefined): { msgId?: string } {
  return clientId === undefined ? {} : { msgId: `${sender.userId}:${String(clientId)}` };
}
