/**
 * Fire-and-forget NATS publishes, handed to the client together once per event-loop turn
 * (turn-queue.ts: why that saves a socket write per client frame). Order is kept.
 *
 * For publishes nobody answers (room fan-out, broadcasts, volatile direct messages); requests are
 * batched the same way by reply-inbox.ts, which also takes their answers; both share the turn, so
 * one socket write carries them.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { TurnQueue } from './turn-queue.js';

export class PublishBatch {
  private readonly queue = new TurnQueue<{ subject: string; payload: Uint8Array }>((batch) => { this.publishAll(batch); });

  constructor(private readonly deps: { nc: Pick<NatsConnection, 'publish'>; log: Logger; metrics: Pick<Metrics, 'publishBatchFailures'> }) {}

  publish(subject: string, payload: Uint8Array): void {
    this.queue.push({ subject, payload });
  }

  /** Publishes everything queued now, in order. */
  flush(): void {
    this.queue.flush();
  }

  /** A publish that throws (the connection closed) is logged and counted; the rest go on. */
  private publishAll(batch: { subject: string; payload: Uint8Array }[]): void {
    for (const { subject, payload } of batch) {
      try {
        this.deps.nc.publish(subject, payload);
      } catch (err) {
        this.deps.metrics.publishBatchFailures.inc();
        this.deps.log.warn({ err, subject }, 'publish failed (not retried: nobody awaits it)');
      }
    }
  }
}
