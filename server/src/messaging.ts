/**
 * What a user can do, whichever way it arrives (a WebSocket frame or an HTTP request):
 * the same checks and the same delivery path for both.
 */
import type { Delivery } from './delivery.js';
import type { Principal } from './auth.js';

export type SendOutcome =
  | { ok: true; delivered: number }
  | { ok: false; code: 'forbidden' | 'remote_unavailable'; message: string; delivered: number };

export class Messaging {
  constructor(private readonly delivery: Delivery, private readonly serverId: string) {}

  async sendDirect(sender: Principal, to: string, data: unknown, claimedFrom?: string): Promise<SendOutcome> {
    if (claimedFrom !== undefined && claimedFrom !== sender.userId) {
      return { ok: false, code: 'forbidden', message: 'cannot send as another user', delivered: 0 };
    }
    const result = await this.delivery.direct({ v: 1, kind: 'direct', to, from: sender.userId, data, ts: Date.now(), origin: this.serverId });
    if (result.unreachable > 0) {
      return { ok: false, code: 'remote_unavailable', message: `${result.unreachable} replica(s) holding the recipient could not be reached`, delivered: result.delivered };
    }
    return { ok: true, delivered: result.delivered };
  }

  publishRoom(sender: Principal, room: string, data: unknown, claimedFrom?: string): SendOutcome {
    if (claimedFrom !== undefined && claimedFrom !== sender.userId) {
      return { ok: false, code: 'forbidden', message: 'cannot publish as another user', delivered: 0 };
    }
    const r = this.delivery.room({ v: 1, kind: 'room', room, from: sender.userId, data, ts: Date.now(), origin: this.serverId });
    if (!r.published) return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local members got it', delivered: r.local };
    return { ok: true, delivered: r.local };
  }

  broadcast(sender: Principal, data: unknown): SendOutcome {
    if (!sender.admin) return { ok: false, code: 'forbidden', message: 'broadcast needs an admin token', delivered: 0 };
    const r = this.delivery.broadcast({ v: 1, kind: 'broadcast', from: sender.userId, data, ts: Date.now(), origin: this.serverId });
    if (!r.published) return { ok: false, code: 'remote_unavailable', message: 'NATS is unreachable: only local connections got it', delivered: r.local };
    return { ok: true, delivered: r.local };
  }
}
