/**
 * This replica's load as its heartbeat carries it and the demo's fleet panel shows it: open
 * connections, and frames per second in from clients and out to clients over the last sampling
 * window, read from its own metrics.
 */
import type { Metrics } from './metrics.js';

export interface ReplicaLoad {
  connections: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
}

const SAMPLE_MS = 2_000;

export class LoadMeter {
  private last: { at: number; in: number; out: number } | undefined;
  private rates = { in: 0, out: 0 };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly metrics: Metrics) {}

  /** Starts sampling the message counters (idempotent). */
  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => { void this.sample(); }, SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The numbers now (rates: 0 until two samples were taken). */
  async current(): Promise<ReplicaLoad> {
    return {
      connections: (await this.metrics.connections.get()).values[0]?.value ?? 0,
      messagesInPerSec: round(this.rates.in),
      messagesOutPerSec: round(this.rates.out),
    };
  }

  private async sample(): Promise<void> {
    const { values } = await this.metrics.messages.get();
    let inCount = 0;
    let outCount = 0;
    for (const v of values) {
      if (v.labels.direction === 'in') inCount += v.value;
      else if (v.labels.direction === 'out') outCount += v.value;
    }
    const now = Date.now();
    if (this.last !== undefined && now > this.last.at) {
      const sec = (now - this.last.at) / 1000;
      this.rates = { in: (inCount - this.last.in) / sec, out: (outCount - this.last.out) / sec };
    }
    this.last = { at: now, in: inCount, out: outCount };
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Reads a heartbeat's load numbers; undefined when it carries none (an older version's `{at}`) or they are malformed. */
export function parseReplicaLoad(value: unknown): ReplicaLoad | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const n = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined);
  const connections = n(v.connections);
  const messagesInPerSec = n(v.messagesInPerSec);
  const messagesOutPerSec = n(v.messagesOutPerSec);
  if (connections === undefined || messagesInPerSec === undefined || messagesOutPerSec === undefined) return undefined;
  return { connections, messagesInPerSec, messagesOutPerSec };
}
