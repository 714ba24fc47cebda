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
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { jetStreamReplicas } from './nats-setup.js';
import { streams } from './subjects.js';

export type StoredMessage =
  | { kind: 'direct'; to: string; from: string; data: unknown; ts: number; prev: number }
  | { kind: 'room'; room: string; from: string; data: unknown; ts: number; prev: number };

/** A message before it is stored (the chain link `prev` is filled in by append). */
export type UnstoredMessage = { [K in StoredMessage['kind']]: Omit<Extract<StoredMessage, { kind: K }>, 'prev'> }[StoredMessage['kind']];

export interface Sequenced {
  seq: number;
  prev: number;
}

export interface HistoryEntry {
  seq: number;
  message: StoredMessage;
}

/** "wrong last sequence: N": another append got there first; N is the subject's tail now. */
const WRONG_LAST_SEQUENCE = 10071;
/** "wrong last sequence" without N: in a cluster, another conditional append to the subject is still in flight. */
const WRONG_LAST_SEQUENCE_IN_FLIGHT = 10164;
const MAX_APPEND_ATTEMPTS = 8;
/** How long an append keeps trying through a JetStream leader election (a NATS node lost). */
const APPEND_DEADLINE_MS = 8_000;
const REPLAY_BATCH = 256;
const LAST_SEQ_CACHE_MAX = 50_000;

/** Errors that a JetStream leader election or a NATS reconnect produces, and that go away. */
function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'TimeoutError' || /no responders|timeout|not enabled|leader|unavailable|disconnect|closed/i.test(err.message);
}

/** The subject's actual last sequence, from JetStream's "wrong last sequence: N" refusal. */
export function lastSequenceFromConflict(description: string): number | undefined {
  const m = /wrong last sequence: (\d+)/i.exec(description);
  if (m?.[1] === undefined) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Which stream holds a subject. */
function streamOf(subject: string): string {
  return subject.startsWith('inbox.') ? streams.inbox : streams.rooms;
}

export class History {
  /** subject → the last sequence this replica knows on it (a hint: a wrong one costs one retry). */
  private readonly lastSeq = new Map<string, number>();
  /** subject → tail of this replica's append queue, so appends to one subject keep their order. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  /** Creates or updates both streams (idempotent: whichever replica comes first) and opens them. */
  static async open(nc: NatsConnection, config: Config, log: Logger, metrics: Metrics): Promise<History> {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const replicas = jetStreamReplicas(config);
    const common: Partial<StreamConfig> = {
      num_replicas: replicas,
      max_age: config.history.maxAgeSec * 1_000_000_000,
      max_msgs_per_subject: config.history.maxMsgsPerUser,
      max_bytes: config.history.maxBytes,
      discard: 'old',
      allow_direct: true,
      storage: 'file',
    };
    for (const [name, subjects] of [[streams.inbox, ['inbox.*']], [streams.rooms, ['roomlog.*']]] as const) {
      const cfg = { ...common, name, subjects: [...subjects] };
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Exists already (another replica was first, or older limits): bring it to ours.
        try {
          await jsm.streams.update(name, cfg);
        } catch (updateErr) {
          const exists = await jsm.streams.info(name).then(() => true, () => false);
          if (!exists) {
            throw new Error(`cannot create JetStream stream ${name}: ${(addErr as Error).message}`, { cause: addErr });
          }
          log.warn({ err: updateErr, stream: name }, 'stream exists with a config we could not update; using it as it is');
        }
      }
    }
    return new History(jetstream(nc, { timeout: 5_000 }), jsm, log, metrics);
  }

  /**
   * Appends a message to `subject`'s chain and returns its sequence and predecessor. Appends to
   * one subject from this replica are queued, so they are stored in call order.
   */
  append(subject: string, message: UnstoredMessage): Promise<Sequenced> {
    const prevTail = this.queues.get(subject) ?? Promise.resolve();
    const result = prevTail.then(() => this.appendNow(subject, message), () => this.appendNow(subject, message));
    const tail = result.catch(() => undefined);
    this.queues.set(subject, tail);
    void tail.then(() => {
      if (this.queues.get(subject) === tail) this.queues.delete(subject);
    });
    return result;
  }

  private async appendNow(subject: string, message: UnstoredMessage): Promise<Sequenced> {
    const deadline = Date.now() + APPEND_DEADLINE_MS;
    let conflicts = 0;
    for (let backoffMs = 50; ; backoffMs = Math.min(backoffMs * 2, 500)) {
      try {
        const prev = this.lastSeq.get(subject) ?? (await this.lastSequenceOf(subject));
        const body = this.encoder.encode(JSON.stringify({ ...message, prev }));
        const started = performance.now();
        const ack = await this.js.publish(subject, body, { expect: { lastSubjectSequence: prev } });
        this.metrics.jetstreamPublishLatency.observe((performance.now() - started) / 1000);
        this.remember(subject, ack.seq);
        return { seq: ack.seq, prev };
      } catch (err) {
        this.lastSeq.delete(subject);
        if (err instanceof JetStreamApiError && (err.code === WRONG_LAST_SEQUENCE || err.code === WRONG_LAST_SEQUENCE_IN_FLIGHT)) {
          // Another replica appended meanwhile: the refusal names the new tail; try again after it.
          const actual = lastSequenceFromConflict(err.message);
          if (actual !== undefined) this.remember(subject, actual);
          conflicts += 1;
          if (conflicts < MAX_APPEND_ATTEMPTS) {
            this.metrics.historyAppendRetries.inc({ reason: actual === undefined ? 'in_flight' : 'conflict' });
            // The other append is still being stored: give it a moment to land before reading the tail.
            if (actual === undefined) await new Promise((r) => setTimeout(r, Math.min(2 * conflicts, 20)));
            continue;
          }
        } else if (isTransient(err) && Date.now() + backoffMs < deadline) {
          // No stream leader for a moment (a node went away, an election is running): wait and retry.
          this.metrics.historyAppendRetries.inc({ reason: 'transient' });
          await new Promise((r) => setTimeout(r, backoffMs));
          continue;
        }
        throw err;
      }
    }
  }

  /** The sequence of the last message stored on `subject`, 0 when there is none. */
  async lastSequenceOf(subject: string): Promise<number> {
    this.metrics.historyTailReads.inc();
    const m = await this.jsm.direct.getMessage(streamOf(subject), { last_by_subj: subject });
    return m?.seq ?? 0;
  }

  /** Every stored message on `subject` with a sequence above `after`, in order. */
  async *after(subject: string, after: number): AsyncGenerator<HistoryEntry> {
    let from = after + 1;
    for (;;) {
      const batch = await this.jsm.direct.getBatch(streamOf(subject), { seq: from, next_by_subj: subject, batch: REPLAY_BATCH });
      let count = 0;
      try {
        for await (const m of batch) {
          count += 1;
          from = m.seq + 1;
          try {
            yield { seq: m.seq, message: JSON.parse(this.decoder.decode(m.data)) as StoredMessage };
          } catch (err) {
            this.log.error({ err, subject, seq: m.seq }, 'unreadable stored message skipped');
          }
        }
      } catch (err) {
        // The end of the stream (no message at or after `from`) is how a batch says it is done.
        if (!(err instanceof Error) || !/message not found|no message found/i.test(err.message)) throw err;
      }
      if (count < REPLAY_BATCH) return;
    }
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
