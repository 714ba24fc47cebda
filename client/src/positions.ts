/**
 * The last seq received per subject (the inbox, each room): the resume positions, and the
 * de-duplication and ordering rule. Within a subject the server writes messages in seq order; the
 * seqs of one subject are increasing but not contiguous (a stream holds many subjects), so a
 * message at or below the subject's last seq is a repeat (a replay overlapping what arrived live,
 * a retry stored twice by a v1 server is a different seq and passes) and is dropped.
 */

/** The inbox's key. Room names are never empty, so it cannot collide with one. */
export const INBOX = '';

export interface PositionsSnapshot {
  inbox?: number;
  rooms: Record<string, number>;
  /** The welcome's epoch these seqs belong to (absent before the first welcome of a server that sends one). */
  epoch?: string;
}

export class SubjectPositions {
  private readonly last = new Map<string, number>();

  /** The last seq of `subject`, or undefined when none was received (or set). */
  get(subject: string): number | undefined {
    return this.last.get(subject);
  }

  /** Sets a position (from `resumeFrom`), keeping the higher one when a position is already known. */
  set(subject: string, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`a resume position must be a non-negative integer, got ${String(seq)} for ${subject === INBOX ? 'the inbox' : `room "${subject}"`}`);
    const known = this.last.get(subject);
    if (known === undefined || seq > known) this.last.set(subject, seq);
  }

  /** Records a received seq: true when it is new (past the last one), false for a repeat to drop. */
  accept(subject: string, seq: number): boolean {
    const known = this.last.get(subject);
    if (known !== undefined && seq <= known) return false;
    this.last.set(subject, seq);
    return true;
  }

  delete(subject: string): void {
    this.last.delete(subject);
  }

  /** Forgets every position (the streams were reset: old seqs mean nothing now). */
  clear(): void {
    this.last.clear();
  }

  snapshot(): PositionsSnapshot {
    const rooms: Record<string, number> = {};
    let inbox: number | undefined;
    for (const [subject, seq] of this.last) {
      if (subject === INBOX) inbox = seq;
      else rooms[subject] = seq;
    }
    return inbox === undefined ? { rooms } : { inbox, rooms };
  }
}
