/**
 * Notices, sooner than nats.js's own pings (1.5 s × 2, nats-setup.ts), that the NATS node this
 * replica is connected to has gone silent: cut off by a partition (no RST, packets dropped) or
 * frozen. Until then every append, targeted delivery and replay read on this replica waits on a
 * node that will never answer: the chaos run's partition window (docs/chaos.md).
 *
 * Whatever has waited on NATS for longer than SUSPECT_AFTER_MS calls `suspect()`. One probe then
 * asks the node itself: a PING, which the node answers with no cluster round trip (`flush()`), so
 * a slow answer from a healthy node (a stream election, a busy leader) is told apart from a silent
 * node. No PONG within `probeTimeoutMs`: the connection is moved to another node (`reconnect()`;
 * nats.js takes the next server of its pool).
 *
 * The verdict is read in the check phase after the timeout (a setImmediate from the timer), after
 * the poll phase has read the socket: an event loop that was busy past the timeout still counts a
 * PONG that arrived meanwhile, so a replica's own CPU load does not read as a silent node.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from './logger.js';

/** How long something may wait on NATS before the node is probed (a healthy answer takes milliseconds). */
export const SUSPECT_AFTER_MS = 500;

export interface NatsLivenessOptions {
  /** How long the node has to answer the probe's PING (ms). Default 1000. */
  probeTimeoutMs?: number;
  /** The least time between the end of one probe and the start of the next (ms). Default 1000. */
  minGapMs?: number;
}

export type ProbeOutcome = 'answered' | 'silent';

export interface NatsLivenessDeps {
  nc: Pick<NatsConnection, 'flush' | 'reconnect' | 'isClosed' | 'getServer'>;
  log: Logger;
  /** Told each probe's outcome (a metric). */
  onProbe?: (outcome: ProbeOutcome) => void;
}

export class NatsLiveness {
  private probing = false;
  private lastProbeEnd = Number.NEGATIVE_INFINITY;
  private readonly probeTimeoutMs: number;
  private readonly minGapMs: number;

  constructor(private readonly deps: NatsLivenessDeps, opts: NatsLivenessOptions = {}) {
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 1_000;
    this.minGapMs = opts.minGapMs ?? 1_000;
  }

  /** Something waited too long on NATS: probe the node, unless a probe is running or just ran. */
  suspect(): void {
    if (this.probing || this.deps.nc.isClosed()) return;
    if (performance.now() - this.lastProbeEnd < this.minGapMs) return;
    this.probing = true;
    let answered = false;
    // Rejected when the connection closes or drops meanwhile: nats.js is reconnecting already.
    this.deps.nc.flush().then(() => { answered = true; }, () => { answered = true; });
    setTimeout(() => {
      setImmediate(() => { this.verdict(answered); });
    }, this.probeTimeoutMs);
  }

  /** Whether a probe is running (for tests). */
  get busy(): boolean {
    return this.probing;
  }

  private verdict(answered: boolean): void {
    this.probing = false;
    this.lastProbeEnd = performance.now();
    this.deps.onProbe?.(answered ? 'answered' : 'silent');
    if (answered || this.deps.nc.isClosed()) return;
    const server = this.deps.nc.getServer();
    this.deps.log.warn({ nats: server, probeTimeoutMs: this.probeTimeoutMs }, 'NATS node did not answer a ping: moving to another node');
    this.deps.nc.reconnect().catch((err: unknown) => { this.deps.log.warn({ err }, 'NATS reconnect failed'); });
  }
}
