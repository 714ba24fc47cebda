/**
 * The record that makes the live path recoverable: every direct message is appended to the
 * JetStream stream WSF_INBOX on `inbox.<user>`, every room message to WSF_ROOMS on
 * `roomlog.<room>`, before it is delivered live.
 *
 * Each stored message carries `prev`, the stream sequence of the previous message on the same
 * subject. The append is conditional on it (Nats-Expected-Last-Subject-Sequence), so the chain
 * has no holes: a receiver that sees a message whose `prev` is past the last seq it delivered
 * knows exactly that it missed something, and fetches the gap from the stream.
 *
 * The predecessor comes from a per-subject hint: the last sequence this replica appended or saw
 * delivered live on the subject, or the one a refused append names ("wrong last sequence: N"),
 * so most appends need no read of the subject's tail first. A stale hint only costs a retry:
 * the condition, not the hint, keeps the chain exact.
 *
 * Nothing acknowledged is evicted: the streams refuse new appends when full (`discard: new`,
 * per subject too), so one user's traffic cannot push another's stored messages out; only age
 * (`max_age`) removes messages. Every append carries a Nats-Msg-Id, so a publish retried after a
 * timeout, or a message the client sends again after a lost ack, is stored once.
 */
import { createHash, randomUUID } from 'node:crypto';
import { TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { HistoryLimits } from './history-limits.js';
import { SUSPECT_AFTER_MS } from './nats-liveness.js';
import { ReplyInbox } from './reply-inbox.js';
import { appendToStream } from './stream-append.js';
import { ServerErrorCodes, isApiError, isNoMessage, isTransient, wrongLastSequence } from './nats-errors.js';
import { streams } from './subjects.js';
import { within } from './within.js';

export type StoredMessage =
  | { kind: 'direct'; to: string; from: string; data: unknown; ts: number; prev: number }
  | { kind: 'room'; room: string; from: string; data: unknown; ts: number; prev: number };

/** A message before it is stored (the chain link `prev` is filled in by append). */
export type UnstoredMessage = { [K in StoredMessage['kind']]: Omit<Extract<StoredMessage, { kind: K }>, 'prev'> }[StoredMessage['kind']];

export interface Sequenced {
  seq: number;
  prev: number;
  /**
   * The append was a repeat of one already stored (same Nats-Msg-Id within the duplicate window):
   * `seq` is the original's. `prev` is then `seq - 1`, an upper bound of the original's link, so a
   * receiver that might lack anything before it reads the gap from history rather than skip it.
   */
  duplicate?: true;
}

export interface HistoryEntry {
  seq: number;
  message: StoredMessage;
}

/**
 * The stream (or the subject's share of it) is full: the message was refused, nothing was evicted.
 * `per_subject` is the recipient's or the room's quota (a client's matter: HTTP 429), `stream` the
 * whole store (the deployment's capacity: HTTP 503). `retryAfterSec`: when the subject's oldest
 * message ages out, if known.
 */
export class StreamFullError extends Error {
  constructor(readonly subject: string, readonly limit: 'per_subject' | 'stream', readonly retryAfterSec?: number) {
    super(limit === 'stream'
      ? 'message store full: no new messages are stored until older ones age out'
      : `history full for this ${subject.startsWith('roomlog.') ? 'room' : 'recipient'}: the oldest messages must age out before new ones are stored`);
    this.name = 'StreamFullError';
  }
}

/** Lost races an append retries at once; past this many it pauses at random before each retry (still bounded by the deadline). */
const MAX_APPEND_ATTEMPTS = 8;
/** How long an append keeps trying through a JetStream leader election (a NATS node lost): every step of every attempt is bounded by it. */
const APPEND_DEADLINE_MS = 8_000;
/**
 * The most a step of an append (a read, the publish) may take before it is tried again: a request
 * in flight when the NATS connection dropped is never answered, and must not eat the deadline.
 */
const MAX_STEP_MS = 2_000;
/** The least time a step of an append is given, even past the deadline (the last attempt). */
const MIN_STEP_MS = 250;
const LAST_SEQ_CACHE_MAX = 50_000;
const LEADER_READ_TIMEOUT_MS = 2_000;
/**
 * The most a direct get (one message, or a batch for a replay page) may take. A healthy one takes
 * milliseconds; one that got no answer was routed to a replica that cannot answer (a NATS node cut
 * off, whose routes the others have not yet dropped: nats.js gives a batch 5 s, hard-coded). Tried
 * again, it is likely to reach another replica.
 */
const DIRECT_READ_TIMEOUT_MS = 1_000;
/** Stored messages read per direct-get batch. */
export const READ_BATCH_MAX = 256;

/**
 * The subject's actual last sequence, from the text of a JetStreamApiCodes.StreamWrongLastSequence
 * refusal ("wrong last sequence: N"): the code says what happened, only the text carries N.
 */
export function lastSequenceFromConflict(description: string): number | undefined {
  const m = /wrong last sequence: (\d+)/i.exec(description);
  if (m?.[1] === undefined) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Which limit a "store failed" refusal (ServerErrorCodes.StreamStoreFailed) names, or undefined when it is not a full stream. */
export function fullLimitOf(description: string): StreamFullError['limit'] | undefined {
  if (/maximum messages per subject exceeded/i.test(description)) return 'per_subject';
  if (/maximum (bytes|messages) exceeded/i.test(description)) return 'stream';
  return undefined;
}

/**
 * The Nats-Msg-Id of an append. A caller's id (`<user>:<client id>`) is scoped to the subject and
 * the payload, so a client that reuses an id for another recipient or another message does not
 * have that message dropped as a repeat; a retry (same id, same recipient, same data) is one.
 * Without a caller's id, a fresh one: the append's own retries after a timeout are still stored once.
 */
export function appendMsgId(subject: string, data: unknown, msgId: string | undefined): string {
  if (msgId === undefined) return randomUUID();
  const digest = createHash('sha256').update(JSON.stringify({ data })).digest('base64url').slice(0, 22);
  return `${msgId}|${subject}|${digest}`;
}

/** Which stream holds a subject. */
function streamOf(subject: string): string {
  return subject.startsWith('inbox.') ? streams.inbox : streams.rooms;
}

export interface HistoryDeps {
  /** Appends (publish with the expected last subject sequence) go out over it and its answers come back on it. */
  inbox: Pick<ReplyInbox, 'request'>;
  /** Direct gets: any replica of the stream answers. */
  jsm: JetStreamManager;
  /** For reads the stream leader must answer: short, since there is no answer at all while a leader is being elected. */
  leader: JetStreamManager;
  log: Logger;
  metrics: Metrics;
  /** Where a room's namespace keeps less than the stream (history-limits.ts). */
  limits: HistoryLimits;
  /** Called when a read has waited longer than SUSPECT_AFTER_MS (nats-liveness.ts probes the node). */
  suspect?: () => void;
}

export class History {
  /** subject → the last sequence this replica knows on it (a hint: a wrong one costs one retry). */
  private readonly lastSeq = new Map<string, number>();
  /** subject → tail of this replica's append queue, so appends to one subject keep their order. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();


  constructor(private readonly deps: HistoryDeps) {}

  /** Opens the clients on the streams (nats-setup.ts creates the streams beside the buckets). */
  /** `inbox`: the replica's (shared with its deliveries); one of its own when not given. */
  static async open(nc: NatsConnection, config: Config, log: Logger, metrics: Metrics, inbox: ReplyInbox = ReplyInbox.started(nc), suspect?: () => void): Promise<History> {
    const limits = new HistoryLimits(config);
    if (limits.capped.length > 0) log.warn({ capped: limits.capped }, 'namespaces ask for more history than the streams keep: the streams\' limits apply');
    return new History({
      inbox,
      jsm: await jetstreamManager(nc, { timeout: DIRECT_READ_TIMEOUT_MS }),
      leader: await jetstreamManager(nc, { timeout: LEADER_READ_TIMEOUT_MS }),
      log,
      metrics,
      limits,
      ...(suspect === undefined ? {} : { suspect }),
    });
  }

  /** `read`, with the NATS node probed (deps.suspect) should it take longer than SUSPECT_AFTER_MS. */
  private async watched<T>(read: () => Promise<T>): Promise<T> {
    const { suspect } = this.deps;
    if (suspect === undefined) return read();
    const timer = setTimeout(suspect, SUSPECT_AFTER_MS);
    try {
      return await read();
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Appends a message to `subject`'s chain and returns its sequence and predecessor. Appends to
   * one subject from this replica are queued, so they are stored in call order. `msgId` (the
   * sender and the client's id) makes a repeat of an already stored message an answer
   * `duplicate: true` with the original's seq instead of a second copy.
   * Throws StreamFullError when the stream or the subject is at its limit.
   */
  append(subject: string, message: UnstoredMessage, msgId?: string): Promise<Sequenced> {
    const id = appendMsgId(subject, message.data, msgId);
    const prevTail = this.queues.get(subject) ?? Promise.resolve();
    const result = prevTail.then(() => this.appendNow(subject, message, id), () => this.appendNow(subject, message, id));
    const tail = result.catch(() => undefined);
    this.queues.set(subject, tail);
    void tail.then(() => {
      if (this.queues.get(subject) === tail) this.queues.delete(subject);
    });
    return result;
  }

  private async appendNow(subject: string, message: UnstoredMessage, msgId: string): Promise<Sequenced> {
    const deadline = Date.now() + APPEND_DEADLINE_MS;
    // Each read and the publish get at most MAX_STEP_MS of what is left of the deadline (the clients'
    // 5-10 s request timeouts would let one attempt run past it, and the appends queued behind it on
    // the subject wait); a step cut short is a transient failure, tried again with the same msgID.
    const left = (): number => Math.min(MAX_STEP_MS, Math.max(MIN_STEP_MS, deadline - Date.now()));
    const limits = this.deps.limits.of(subject);
    let conflicts = 0;
    for (let backoffMs = 50; ; backoffMs = Math.min(backoffMs * 2, 500)) {
      try {
        const prev = this.lastSeq.get(subject) ?? (await within(this.tailHint(subject), left()));
        // Counted after the predecessor is known: an append that lands in between changes the tail,
        // so this append's condition fails and the count is taken again.
        if (limits.maxMsgs !== undefined && (await within(this.countOn(subject), left())) >= limits.maxMsgs) {
          throw new StreamFullError(subject, 'per_subject', await this.retryAfterSec(subject));
        }
        const body = this.encoder.encode(JSON.stringify({ ...message, prev }));
        const started = performance.now();
        // A timed-out attempt is retried here, with the same msgID.
        const ack = await appendToStream(this.deps.inbox, subject, body, { msgId, expectLastSubjectSequence: prev, timeoutMs: left(), ...(limits.ttlSec === undefined ? {} : { ttlSec: limits.ttlSec }) });
        this.deps.metrics.jetstreamPublishLatency.observe((performance.now() - started) / 1000);
        if (ack.duplicate) {
          this.deps.metrics.historyAppendRetries.inc({ reason: 'duplicate' });
          return { seq: ack.seq, prev: ack.seq - 1, duplicate: true };
        }
        this.remember(subject, ack.seq);
        return { seq: ack.seq, prev };
      } catch (err) {
        this.lastSeq.delete(subject);
        if (err instanceof StreamFullError) throw err;
        if (isApiError(err, ServerErrorCodes.StreamStoreFailed)) {
          const limit = fullLimitOf(err.message);
          if (limit !== undefined) throw new StreamFullError(subject, limit, limit === 'per_subject' ? await this.retryAfterSec(subject) : undefined);
          throw err;
        }
        if (isApiError(err, ServerErrorCodes.DuplicateMessageInFlight) && Date.now() + backoffMs < deadline) {
          // Our earlier, timed-out attempt is still being stored (a leader election): its outcome decides.
          this.deps.metrics.historyAppendRetries.inc({ reason: 'in_flight' });
          await new Promise((r) => setTimeout(r, backoffMs));
          continue;
        }
        const conflict = wrongLastSequence(err);
        if (conflict !== undefined) {
          // Another replica appended meanwhile: the refusal names the new tail (or, in a cluster, that
          // another conditional append to the subject is still in flight); try again after it.
          const actual = conflict.tailNamed ? lastSequenceFromConflict(conflict.description) : undefined;
          if (actual !== undefined) this.remember(subject, actual);
          conflicts += 1;
          // Each lost race is another append stored, so the subject moves on: one busy subject (a
          // room with publishers on many replicas) may cost an append many rounds, and it keeps
          // trying until the deadline; past MAX_APPEND_ATTEMPTS rounds with a random pause, so the
          // losers of one round do not meet again in the next.
          if (conflicts < MAX_APPEND_ATTEMPTS || Date.now() < deadline) {
            this.deps.metrics.historyAppendRetries.inc({ reason: actual === undefined ? 'in_flight' : 'conflict' });
            // The other append is still being stored: give it a moment to land before reading the tail.
            if (actual === undefined) await new Promise((r) => setTimeout(r, Math.min(2 * conflicts, 20)));
            else if (conflicts >= MAX_APPEND_ATTEMPTS) await new Promise((r) => setTimeout(r, Math.random() * 5));
            continue;
          }
        } else if (isTransient(err) && Date.now() + backoffMs < deadline) {
          // No stream leader for a moment, or no ack in time (stored or not: the msgID makes the retry safe).
          this.deps.metrics.historyAppendRetries.inc({ reason: 'transient' });
          await new Promise((r) => setTimeout(r, backoffMs));
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * The sequence of the last message stored on `subject`, 0 when there is none. Asked of the
   * stream leader (not a direct get, which any replica may answer from behind): this is the tail
   * a replay must reach.
   */
  async lastSequenceOf(subject: string): Promise<number> {
    this.deps.metrics.historyTailReads.inc();
    const m = await this.deps.leader.streams.getMessage(streamOf(subject), { last_by_subj: subject });
    return m?.seq ?? 0;
  }

  /** How many messages `subject` holds, asked of the stream leader (a namespace's room quota). */
  private async countOn(subject: string): Promise<number> {
    const info = await this.deps.leader.streams.info(streamOf(subject), { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  /**
   * Seconds until the oldest message on a full subject ages out (when a new one fits again), or
   * undefined when it cannot be read: only asked when an append was refused.
   */
  private async retryAfterSec(subject: string): Promise<number | undefined> {
    try {
      const oldest = await this.deps.jsm.direct.getMessage(streamOf(subject), { seq: 1, next_by_subj: subject });
      if (oldest === null) return undefined;
      const ts = (JSON.parse(this.decoder.decode(oldest.data)) as { ts?: unknown }).ts;
      if (typeof ts !== 'number') return undefined;
      return Math.max(1, Math.ceil((ts + this.deps.limits.maxAgeSecOf(subject) * 1000 - Date.now()) / 1000));
    } catch {
      return undefined;
    }
  }

  /**
   * The subject's last sequence as any replica of the stream knows it (a direct get): the
   * predecessor an append tries first, and a replay's end while the stream has no leader. It may
   * be behind the leader's (a follower that has not applied the latest appends), never ahead. A
   * stale answer costs one refused append, and it answers during a leader election, when the
   * leader cannot.
   */
  async tailHint(subject: string): Promise<number> {
    this.deps.metrics.historyTailReads.inc();
    const m = await this.watched(() => this.deps.jsm.direct.getMessage(streamOf(subject), { last_by_subj: subject }));
    return m?.seq ?? 0;
  }

  /**
   * Up to `limit` stored messages on `subject` with a sequence above `after`, in order. A direct
   * get, answered by whichever replica of the stream is nearest: it may stop short of the tail
   * (a follower that has not applied the latest appends yet), never skip a message it has.
   */
  async page(subject: string, after: number, limit: number): Promise<HistoryEntry[]> {
    const out: HistoryEntry[] = [];
    const batch = await this.deps.jsm.direct.getBatch(streamOf(subject), { seq: after + 1, next_by_subj: subject, batch: Math.max(1, Math.min(limit, READ_BATCH_MAX)) });
    const deadline = { hit: false };
    const timer = setTimeout(() => { deadline.hit = true; batch.stop(); }, DIRECT_READ_TIMEOUT_MS);
    const suspectTimer = this.deps.suspect === undefined ? undefined : setTimeout(this.deps.suspect, SUSPECT_AFTER_MS);
    try {
      for await (const m of batch) {
        try {
          out.push({ seq: m.seq, message: JSON.parse(this.decoder.decode(m.data)) as StoredMessage });
        } catch (err) {
          this.deps.log.error({ err, subject, seq: m.seq }, 'unreadable stored message skipped');
        }
      }
    } catch (err) {
      // The end of the stream (no message at or after `from`) is how a batch says it is done.
      if (!isNoMessage(err)) throw err;
    } finally {
      clearTimeout(timer);
      clearTimeout(suspectTimer);
    }
    // Stopped by the deadline: what came may be a prefix of the batch, which is still in order and
    // without holes, but an empty answer would read as "nothing there": the caller tries again.
    if (deadline.hit) {
      this.deps.metrics.historyReadTimeouts.inc();
      if (out.length === 0) throw new TimeoutError();
    }
    return out;
  }

  /** Whether message `seq` of `subject` is still stored, asked of the stream leader: false means retention removed it. */
  async isRetained(subject: string, seq: number): Promise<boolean> {
    if (seq <= 0) return false;
    const m = await this.deps.leader.streams.getMessage(streamOf(subject), { seq });
    return m !== null && m.subject === subject;
  }

  /**
   * A sequenced message on `subject` seen live (delivered from another replica): a later append
   * here can chain to it without reading the tail. Only ever raises the hint.
   */
  observe(subject: string, seq: number): void {
    if (seq > (this.lastSeq.get(subject) ?? 0)) this.remember(subject, seq);
  }

  private remember(subject: string, seq: number): void {
    if (this.lastSeq.size >= LAST_SEQ_CACHE_MAX && !this.lastSeq.has(subject)) this.lastSeq.clear();
    this.lastSeq.set(subject, seq);
  }
}
