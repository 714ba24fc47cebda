/**
 * Follows each replay the client asked for (inbox resume on connect, a room re-joined with
 * `after`) until it reaches the tail, then reports it once: how many messages it brought and
 * whether everything was recovered.
 *
 * A v2 server ends every replay with a `replayed` frame; `more: true` asks for the next page
 * (the caller sends `resume` from `last`). A v1 server sends no such frame: a replay is then taken
 * as complete when a live message of that subject arrives (its `ts` is after the welcome) or when
 * the subject has been quiet for `settleMs`.
 */
import { INBOX } from './positions.js';

export interface ReplayReport {
  room?: string;
  replayed: number;
  recovered: boolean;
  /** Subjects still replaying after this one (0: the client has caught up everywhere). */
  pending: number;
}

interface Progress {
  count: number;
  recovered: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface ReplayTrackerOptions {
  /** v1 only: quiet time after which a replay counts as done. */
  settleMs: number;
  onDone: (r: ReplayReport) => void;
  /** Asks the server for the next page of `subject` after `last` (v2, `more: true`). */
  requestPage: (subject: string, last: number) => void;
}

export class ReplayTracker {
  private readonly inProgress = new Map<string, Progress>();
  private v2 = false;
  /** Client time of the welcome: v1 tells live messages (ts after it) from replayed ones. */
  private liveSince = 0;

  constructor(private readonly opts: ReplayTrackerOptions) {}

  /** A new connection: drops what the old one had in flight (they are asked for again). */
  reset(v2: boolean, now: number): void {
    for (const p of this.inProgress.values()) if (p.timer !== undefined) clearTimeout(p.timer);
    this.inProgress.clear();
    this.v2 = v2;
    this.liveSince = now;
  }

  /** A replay of `subject` was asked for. `recovered: false` when the client already knows it is not (a stream reset). */
  begin(subject: string, recovered = true): void {
    const existing = this.inProgress.get(subject);
    if (existing !== undefined) {
      existing.recovered &&= recovered;
      return;
    }
    const p: Progress = { count: 0, recovered, timer: undefined };
    this.inProgress.set(subject, p);
    this.armSettle(subject, p);
  }

  isReplaying(subject: string): boolean {
    return this.inProgress.has(subject);
  }

  /** A message of `subject` was accepted (not a repeat). Returns true when it was part of a replay. */
  onMessage(subject: string, ts: number): boolean {
    const p = this.inProgress.get(subject);
    if (p === undefined) return false;
    if (!this.v2 && ts >= this.liveSince) {
      this.finish(subject, p);
      return false;
    }
    p.count += 1;
    this.armSettle(subject, p);
    return true;
  }

  /** A `replayed` frame. */
  onReplayed(frame: { room?: string; last: number; more: boolean; recovered: boolean }): void {
    const subject = frame.room ?? INBOX;
    let p = this.inProgress.get(subject);
    if (p === undefined) {
      // A replay the server started by itself (the stored cursor on connect).
      p = { count: 0, recovered: true, timer: undefined };
      this.inProgress.set(subject, p);
    }
    p.recovered &&= frame.recovered;
    if (frame.more) {
      this.opts.requestPage(subject, frame.last);
      return;
    }
    this.finish(subject, p);
  }

  /** Stops following `subject` without a report (the room was left). */
  cancel(subject: string): void {
    const p = this.inProgress.get(subject);
    if (p?.timer !== undefined) clearTimeout(p.timer);
    this.inProgress.delete(subject);
  }

  stop(): void {
    this.reset(this.v2, this.liveSince);
  }

  private armSettle(subject: string, p: Progress): void {
    if (this.v2) return;
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = setTimeout(() => { this.finish(subject, p); }, this.opts.settleMs);
  }

  private finish(subject: string, p: Progress): void {
    if (this.inProgress.get(subject) !== p) return;
    if (p.timer !== undefined) clearTimeout(p.timer);
    this.inProgress.delete(subject);
    this.opts.onDone({ ...(subject === INBOX ? {} : { room: subject }), replayed: p.count, recovered: p.recovered, pending: this.inProgress.size });
  }
}
