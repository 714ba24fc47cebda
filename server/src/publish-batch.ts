/**
 * Fire-and-forget NATS publishes, handed to the client together once per event-loop turn.
 *
 * nats.js writes what was published since its last flush on a microtask, and Node runs the
 * microtasks after every I/O callback: each client frame that causes a publish costs one write on
 * the NATS socket of its own. Queued here and published from a setImmediate (the check phase, after
 * every I/O callback of the turn), the publishes of all the frames read in one turn go out in one
 * write. Order is kept (one queue, published in order); the delay is the rest of the current turn.
 *
 * For publishes nobody answers (room fan-out, broadcasts, volatile direct messages); requests are
 * batched the same way by reply-inbox.ts, which also takes their answers.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export class PublishBatch {
  private queue: { subject: string; payload: Uint8Array }[] = [];
  private scheduled = false;

  constructor(private readonly deps: { nc: Pick<NatsConnection, 'publish'>; log: Logger; metrics: Pick<Metrics, 'publishBatchFailures'> }) {}

  publish(subject: string, payload: Uint8Array): void {
    this.queue.push({ subject, payload });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => { this.flush(); });
  }

  /** Publishes everything queued, in order. A publish that throws (the connection closed) is logged and counted; the rest go on. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
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
