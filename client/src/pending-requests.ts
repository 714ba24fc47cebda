/**
 * Requests waiting for their ack: a bounded queue while the connection is down, a per-attempt
 * timeout while it is up, and retries that resend the very same frame (same `id`), so a v2 server
 * stores a retried send once (Nats-Msg-Id) and answers `duplicate: true`.
 *
 * Each request is written when the connection is open; on a disconnect every unacknowledged
 * request goes back to "unwritten" (its attempt clock stops) and is written again, same id, after
 * the next welcome. A timeout counts as an attempt only while the connection was open.
 */
import { ErrorCode } from '../../protocol/codes.js';
import { QueueFullError, ServerError, TimeoutError, type FleetError } from './errors.js';
import type { Ack, ClientFrame, ErrorFrame } from './frames.js';

/** Server error codes that are worth another attempt (after a pause) rather than a rejection. */
const RETRYABLE: ReadonlySet<string> = new Set([ErrorCode.draining, ErrorCode.remoteUnavailable, ErrorCode.storeUnavailable, ErrorCode.rateLimited]);
const RETRY_PAUSE_MS = 250;

export interface PendingOptions {
  /** Most requests waiting at once (queued and in flight). */
  limit: number;
  /** Extra attempts after the first. */
  retries: number;
  /** Writes a frame; false when the connection is not open (the request waits for `flush`). */
  write: (frame: ClientFrame) => boolean;
}

interface Request {
  id: string;
  frame: ClientFrame & { id: string };
  timeoutMs: number;
  attempts: number;
  written: boolean;
  /** Dropped (not resent) on a disconnect: the client makes these again itself (re-join on welcome). */
  perConnection: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (a: Ack) => void;
  reject: (e: FleetError) => void;
}

export class PendingRequests {
  private readonly requests = new Map<string, Request>();

  constructor(private readonly opts: PendingOptions) {}

  get size(): number {
    return this.requests.size;
  }

  /** Ids of the requests waiting, oldest first. */
  ids(): string[] {
    return [...this.requests.keys()];
  }

  /** Attempts made so far for `id` (0 while still queued). */
  attempts(id: string): number | undefined {
    return this.requests.get(id)?.attempts;
  }

  /**
   * Adds a request and writes it at once when the connection is open.
   * Throws QueueFullError (synchronously) when `limit` requests are already waiting.
   */
  add(frame: ClientFrame & { id: string }, timeoutMs: number, perConnection = false): Promise<Ack> {
    if (this.requests.size >= this.opts.limit) return Promise.reject(new QueueFullError(this.opts.limit));
    return new Promise<Ack>((resolve, reject) => {
      const req: Request = { id: frame.id, frame, timeoutMs, attempts: 0, written: false, perConnection, timer: undefined, resolve, reject };
      this.requests.set(frame.id, req);
      this.attempt(req);
    });
  }

  /** The connection is open (after its welcome): writes every request still waiting, in order. */
  flush(): void {
    for (const req of [...this.requests.values()]) if (!req.written && req.timer === undefined) this.attempt(req);
  }

  /** The connection is gone: acks of in-flight requests will not come; they are written again after the next welcome. */
  disconnected(reason: FleetError): void {
    for (const req of [...this.requests.values()]) {
      this.clearTimer(req);
      req.written = false;
      if (req.perConnection) this.settle(req, reason);
    }
  }

  onAck(ack: Ack): boolean {
    const req = this.requests.get(String(ack.id));
    if (req === undefined) return false;
    this.clearTimer(req);
    this.requests.delete(req.id);
    req.resolve(ack);
    return true;
  }

  onError(frame: ErrorFrame): boolean {
    if (frame.id === undefined) return false;
    const req = this.requests.get(String(frame.id));
    if (req === undefined) return false;
    this.clearTimer(req);
    const err = new ServerError(frame.code, frame.message, frame.id, frame.delivered);
    if (RETRYABLE.has(frame.code) && req.attempts <= this.opts.retries) {
      req.written = false;
      req.timer = setTimeout(() => { req.timer = undefined; this.attempt(req, err); }, RETRY_PAUSE_MS * req.attempts);
      return true;
    }
    this.settle(req, err);
    return true;
  }

  /** Rejects everything (close, auth refusal). */
  rejectAll(err: FleetError): void {
    for (const req of [...this.requests.values()]) this.settle(req, err);
  }

  private attempt(req: Request, lastError?: FleetError): void {
    if (req.attempts > this.opts.retries) {
      this.settle(req, lastError ?? new TimeoutError(`no ack for ${req.frame.type} ${req.id} after ${req.attempts} attempt(s) of ${req.timeoutMs} ms`, req.attempts));
      return;
    }
    if (!this.opts.write(req.frame)) {
      req.written = false;
      return;
    }
    req.written = true;
    req.attempts += 1;
    req.timer = setTimeout(() => {
      req.timer = undefined;
      req.written = false;
      this.attempt(req);
    }, req.timeoutMs);
  }

  private settle(req: Request, err: FleetError): void {
    this.clearTimer(req);
    this.requests.delete(req.id);
    req.reject(err);
  }

  private clearTimer(req: Request): void {
    if (req.timer !== undefined) clearTimeout(req.timer);
    req.timer = undefined;
  }
}
