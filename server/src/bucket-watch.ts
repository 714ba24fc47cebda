/**
 * A watch of a JetStream KV bucket that survives the loss of a NATS node.
 *
 * nats.js's `kv.watch()` reads through an ordered push consumer whose idle heartbeat is fixed at
 * 30 s. That consumer has one replica, on one NATS node. When that node dies, the watch goes
 * silent: measured here (tests/unit/server/bucket-watch.with-nats-server.test.ts, with kv.watch()
 * in its place), a change written after the kill was not seen for 90 s. For the presence directory
 * that is a routing view frozen while users come and go, and a purge of this replica's entries
 * that it never hears of.
 *
 * This watch reads the bucket's stream through nats.js's ordered pull consumer, whose server sends
 * a heartbeat every `heartbeatMs` when there is nothing to deliver, and replaces its own consume
 * when it has heard nothing for SILENT_HEARTBEATS heartbeats (`supervise`). Each new consume starts
 * after the last entry delivered, so no change is skipped and none is delivered twice.
 */
import { DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { Logger } from './logger.js';

export type BucketOperation = 'PUT' | 'DEL' | 'PURGE';

export interface BucketEntry {
  readonly key: string;
  readonly operation: BucketOperation;
  /** The stream sequence of this write (the KV's revision). */
  readonly revision: number;
  /** When the NATS server stored it. */
  readonly created: Date;
  readonly value: Uint8Array;
}

export interface BucketWatchOptions {
  js: JetStreamClient;
  bucket: string;
  log: Logger;
  /** The consumer's idle heartbeat: a lost consumer is replaced after two are missed (default 2000 ms). */
  heartbeatMs?: number;
  /** Pause before opening again after the consume ended (default 250 ms). */
  reopenMs?: number;
}

/** The header a KV delete or purge carries (nats.js's `kvOperationHdr`, which its package does not export). */
const KV_OPERATION_HEADER = 'KV-Operation';
const DEFAULT_HEARTBEAT_MS = 2000;
const DEFAULT_REOPEN_MS = 250;
const DEFAULT_CATCH_UP_MS = 5_000;
/** Heartbeats heard of neither an entry nor the server before the consume is replaced. */
const SILENT_HEARTBEATS = 3;

export class BucketWatch {
  private readonly heartbeatMs: number;
  private readonly reopenMs: number;
  /** The stream sequence of the last entry delivered: a reopened watch goes on after it. */
  private lastRevision = 0;
  private consumer: Consumer | undefined;
  private messages: ConsumerMessages | undefined;
  private stopped = false;

  constructor(private readonly opts: BucketWatchOptions) {
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.reopenMs = opts.reopenMs ?? DEFAULT_REOPEN_MS;
  }

  /**
   * Delivers every key's current entry, then every change, to `onEntry` until `stop`. Settles once
   * the entries the bucket held when the first consume opened have been delivered (or after
   * `catchUpMs`, with a warning): a replica that says it is ready knows where the others' users are.
   */
  start(onEntry: (entry: BucketEntry) => void, catchUpMs = DEFAULT_CATCH_UP_MS): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.opts.log.warn({ bucket: this.opts.bucket, waitedMs: catchUpMs }, 'bucket watch has not delivered the bucket\'s current entries yet: going on');
        resolve();
      }, catchUpMs);
      timer.unref();
      void this.run(onEntry, () => { clearTimeout(timer); resolve(); });
    });
  }

  /** Ends the watch and deletes its consumer (best effort: an unused one expires on the server by itself). */
  stop(): void {
    this.stopped = true;
    this.messages?.stop();
    void this.consumer?.delete().catch(() => undefined);
  }

  /** Read through a method: `stopped` changes while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /**
   * The consume's sign of life: an entry, or a heartbeat or pull expiry from the server. nats.js
   * answers missed heartbeats by asking the server for the consumer's info until it gets it, and
   * after a reconnect it does the same before it watches again: an R1 consumer whose node died
   * never answers, so the watch would wait for that node to come back. Silence for
   * SILENT_HEARTBEATS heartbeats ends this consume instead; `run` opens a new one (on a live node)
   * after the last entry delivered, and the old consumer is deleted when it can be.
   */
  private supervise(messages: ConsumerMessages, consumer: Consumer): { alive: () => void; done: () => void } {
    let lastSign = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - lastSign < this.heartbeatMs * SILENT_HEARTBEATS) return;
      clearInterval(timer);
      if (!this.isStopped()) this.opts.log.warn({ bucket: this.opts.bucket, silentMs: Date.now() - lastSign }, 'bucket watch heard nothing from its consumer: opening it again');
      messages.stop();
      void consumer.delete().catch(() => undefined);
    }, this.heartbeatMs);
    timer.unref();
    void (async () => {
      for await (const status of messages.status()) {
        if (status.type === 'heartbeat' || status.type === 'discard') lastSign = Date.now();
      }
    })();
    return { alive: () => { lastSign = Date.now(); }, done: () => { clearInterval(timer); } };
  }

  private async run(onEntry: (entry: BucketEntry) => void, caughtUp: () => void): Promise<void> {
    const { js, bucket, log } = this.opts;
    const prefix = `$KV.${bucket}.`;
    // Entries still to come before the watch has caught up with the bucket as its first consume found it.
    let backlog: number | undefined;
    const delivered = (): void => {
      if (backlog === undefined) return;
      backlog -= 1;
      if (backlog <= 0) {
        backlog = undefined;
        caughtUp();
      }
    };
    while (!this.isStopped()) {
      try {
        const start: Partial<OrderedConsumerOptions> = this.lastRevision === 0
          ? { deliver_policy: DeliverPolicy.LastPerSubject }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastRevision + 1 };
        const consumer = await js.consumers.get(`KV_${bucket}`, { filter_subjects: [`${prefix}>`], ...start });
        this.consumer = consumer;
        if (this.lastRevision === 0 && backlog === undefined) {
          // The consumer's pending count at its creation: the bucket's current entries.
          backlog = (await consumer.info(true)).num_pending;
          if (backlog === 0) {
            backlog = undefined;
            caughtUp();
          }
        }
        const messages = await consumer.consume({ expires: this.heartbeatMs * 2, idle_heartbeat: this.heartbeatMs });
        this.messages = messages;
        if (this.isStopped()) messages.stop();
        const life = this.supervise(messages, consumer);
        try {
          for await (const m of messages) {
            life.alive();
            this.lastRevision = m.seq;
            onEntry(toEntry(m, prefix));
            delivered();
          }
        } finally {
          life.done();
        }
      } catch (err) {
        if (!this.isStopped()) log.warn({ err, bucket }, 'bucket watch ended; opening it again');
      }
      if (!this.isStopped()) await new Promise((r) => setTimeout(r, this.reopenMs));
    }
  }
}

function toEntry(m: JsMsg, prefix: string): BucketEntry {
  const op = m.headers?.get(KV_OPERATION_HEADER);
  return {
    key: m.subject.startsWith(prefix) ? m.subject.slice(prefix.length) : m.subject,
    operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
    revision: m.seq,
    created: m.time,
    value: m.data,
  };
}
