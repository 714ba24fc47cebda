/**
 * Requests over one reply subscription: each request publishes with the reply subject
 * `<inbox>.<token>`, one wildcard subscription takes every answer, and one timer sweeps the
 * deadlines. The requests of one event-loop turn are published together, in the same socket write
 * as publish-batch.ts's publishes of that turn (turn-queue.ts). nats.js's `request()` builds, per
 * request, a request object, a deferred and a timer, and on every answer that arrives cancels the
 * request with a new `RequestError` (a stack trace taken for a promise already settled): about 7 %
 * of a sending replica's CPU at 1k direct messages/s (docs/benchmarks.md, session 9). Used for the
 * stream appends (history.ts) and the targeted deliveries to other replicas (delivery.ts).
 *
 * Failures are nats.js's own classes, so nats-errors.ts reads them as it reads nats.js's:
 *  - nobody listens on the subject (NATS answers a status 503): a RequestError caused by a
 *    NoRespondersError;
 *  - no answer by the deadline: a TimeoutError;
 *  - the connection closed: whatever `publish` throws (ClosedConnectionError), or, for requests
 *    in flight at `stop()`, a ClosedConnectionError;
 *  - the connection dropped under the request: a ConnectionError, at once. Its answer, if one
 *    comes, goes to the node it was asked of, not to the one nats.js reconnects to, so waiting
 *    for it would only spend the caller's deadline (the appends retry with the same Nats-Msg-Id).
 *
 * A request that has waited longer than SUSPECT_AFTER_MS calls `onSlow` (nats-liveness.ts probes
 * the node), once per sweep.
 */
import { ClosedConnectionError, ConnectionError, createInbox, NoRespondersError, RequestError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { SUSPECT_AFTER_MS } from './nats-liveness.js';
import { TurnQueue } from './turn-queue.js';

interface Pending {
  resolve: (m: Msg) => void;
  reject: (err: Error) => void;
  /** Date.now() after which the request fails with a TimeoutError. */
  deadline: number;
  /** Date.now() when it was queued. */
  since: number;
  subject: string;
}

/** The status NATS answers a request with when no subscriber has interest in its subject. */
const NO_RESPONDERS = 503;

export interface ReplyInboxOptions {
  /** How often deadlines are checked (ms): a request fails at most this late. Default 25. */
  sweepMs?: number;
  /** Called from a sweep that finds a request waiting longer than SUSPECT_AFTER_MS. */
  onSlow?: () => void;
}

interface Outgoing { subject: string; payload: Uint8Array; reply: string; headers: MsgHdrs | undefined; token: string }

export class ReplyInbox {
  private readonly prefix: string;
  private readonly pending = new Map<string, Pending>();
  private nextToken = 0;
  private sub: Subscription | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;
  private readonly onSlow: (() => void) | undefined;
  private readonly queue = new TurnQueue<Outgoing>((batch) => { for (const out of batch) this.send(out); });

  constructor(private readonly nc: NatsConnection, opts: ReplyInboxOptions = {}) {
    this.prefix = createInbox();
    this.sweepMs = opts.sweepMs ?? 25;
    this.onSlow = opts.onSlow;
  }

  /** A ReplyInbox taking answers already. */
  static started(nc: NatsConnection, opts: ReplyInboxOptions = {}): ReplyInbox {
    const inbox = new ReplyInbox(nc, opts);
    inbox.start();
    return inbox;
  }

  start(): void {
    if (this.sub !== undefined) return;
    this.sub = this.nc.subscribe(`${this.prefix}.*`, { callback: (err, msg) => {
      if (err === null) this.onAnswer(msg);
    } });
    this.sweeper = setInterval(() => { this.sweep(Date.now()); }, this.sweepMs);
    this.sweeper.unref();
    void this.failOnDisconnect();
  }

  private async failOnDisconnect(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.sub === undefined) return;
      if (s.type !== 'disconnect') continue;
      for (const p of this.pending.values()) p.reject(new ConnectionError('disconnected from NATS under the request'));
      this.pending.clear();
    }
  }

  /** Requests in flight (for tests and metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Publishes `payload` on `subject` and resolves with the first answer, or rejects by `timeoutMs`. */
  request(subject: string, payload: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    if (this.sub === undefined) return Promise.reject(new Error('ReplyInbox.start() was not called'));
    this.nextToken += 1;
    const token = this.nextToken.toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const now = Date.now();
      this.pending.set(token, { resolve, reject, deadline: now + timeoutMs, since: now, subject });
      const out = { subject, payload, reply: `${this.prefix}.${token}`, headers, token };
      this.queue.push(out);
    });
  }

  /** Publishes one request; one that cannot be published (the connection closed) fails at once. */
  private send(out: Outgoing): void {
    try {
      this.nc.publish(out.subject, out.payload, out.headers === undefined ? { reply: out.reply } : { reply: out.reply, headers: out.headers });
    } catch (err) {
      const p = this.pending.get(out.token);
      this.pending.delete(out.token);
      p?.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Fails every request in flight and stops taking answers. */
  stop(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.sub?.unsubscribe();
    this.sub = undefined;
    for (const p of this.pending.values()) p.reject(new ClosedConnectionError());
    this.pending.clear();
  }

  private onAnswer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    // An answer after its deadline: the caller was told TimeoutError already.
    if (p === undefined) return;
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS) {
      const cause = new NoRespondersError(p.subject);
      p.reject(new RequestError(cause.message, { cause }));
      return;
    }
    p.resolve(msg);
  }

  /** Fails the requests whose deadline has passed; tells `onSlow` when one has waited too long. */
  private sweep(now: number): void {
    let slow = false;
    for (const [token, p] of this.pending) {
      if (now - p.since > SUSPECT_AFTER_MS) slow = true;
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new TimeoutError());
    }
    if (slow) this.onSlow?.();
  }
}
