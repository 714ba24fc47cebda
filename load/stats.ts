/**
 * The runner's measurements: counters with k6's metric names, a mergeable latency histogram
 * (log buckets, ~1 % resolution) and the per-second records workers send to the runner.
 */
import type { LoadProtocol } from './client.js';
import type { Params } from './scenarios.js';

/** Counters every worker keeps; the names are the k6 scripts' metric names (docs/k6.md). */
export const COUNTERS = [
  'messages_sent',
  'messages_acked',
  'messages_undelivered',
  'messages_received',
  'messages_lost',
  'messages_duplicated',
  'messages_redelivered',
  'messages_missed_offline',
  'server_errors',
  'acks_not_stored',
  'ws_connects',
  'ws_connect_attempts',
  'ws_connect_failures',
  'ws_reconnects',
  'ws_reconnect_incomplete',
  'ws_closes_unexpected',
  'jitter_drops',
] as const;
export type CounterName = (typeof COUNTERS)[number];
export type Counters = Record<CounterName, number>;

export const TRENDS = ['e2e_latency', 'ack_latency', 'ws_reconnect_time', 'replay_time'] as const;
export type TrendName = (typeof TRENDS)[number];

export function zeroCounters(): Counters {
  return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters;
}

export function addCounters(into: Counters, from: Counters): void {
  for (const c of COUNTERS) into[c] += from[c];
}

const LOG_BASE = Math.log(1.01);

/** Latencies in ms, bucketed by ~1 %; merge by adding bucket counts. */
export class Histogram {
  readonly buckets = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(ms: number): void {
    const v = Math.max(0, ms);
    const b = Math.floor(Math.log(v + 1) / LOG_BASE);
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(h: SerializedHistogram): void {
    for (const [b, n] of h.b) this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    this.count += h.n;
    this.sum += h.s;
    if (h.n > 0) {
      this.min = Math.min(this.min, h.lo);
      this.max = Math.max(this.max, h.hi);
    }
  }

  /** The value at quantile q (0..1): the upper edge of the bucket holding it, capped by the max seen. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (const b of [...this.buckets.keys()].sort((x, y) => x - y)) {
      seen += this.buckets.get(b) ?? 0;
      if (seen >= rank) return Math.min(this.max, Math.exp((b + 1) * LOG_BASE) - 1);
    }
    return this.max;
  }

  serialize(): SerializedHistogram {
    return { b: [...this.buckets.entries()], n: this.count, s: this.sum, lo: this.count === 0 ? 0 : this.min, hi: this.count === 0 ? 0 : this.max };
  }

  /** k6's trend statistics (avg, min, med, max, p(90), p(95), p(99)) and the count; empty: count only. */
  values(): Record<string, number> {
    if (this.count === 0) return { count: 0 };
    const q = (x: number): number => this.quantile(x) ?? 0;
    return { count: this.count, avg: this.sum / this.count, min: this.min, med: q(0.5), max: this.max, 'p(90)': q(0.9), 'p(95)': q(0.95), 'p(99)': q(0.99) };
  }
}

export interface SerializedHistogram {
  b: [number, number][];
  n: number;
  s: number;
  lo: number;
  hi: number;
}

export type Trends = Record<TrendName, Histogram>;

export function newTrends(): Trends {
  return Object.fromEntries(TRENDS.map((t) => [t, new Histogram()])) as Trends;
}

/** One worker's second: what changed in it, and the gauges at its end. */
export interface SecondRecord {
  /** Unix ms of the start of the second. */
  t: number;
  counters: Counters;
  trends: Record<TrendName, SerializedHistogram>;
  /** Sockets open at the end of the second. */
  open: number;
}

/** Worker → runner messages. */
export type WorkerMessage =
  | { type: 'second'; record: SecondRecord }
  | { type: 'log'; text: string }
  | { type: 'done'; counters: Counters; trends: Record<TrendName, SerializedHistogram>; servers: Record<string, number>; undelivered: Record<string, number>; closes: Record<string, number> };

/** Runner → worker: the worker's part of the run. */
export interface WorkerTask {
  runId: string;
  wsUrl: string;
  protocol: LoadProtocol;
  secret: string;
  params: Params;
  schedule: { t0: number; trafficStart: number; trafficEnd: number; graceEnd: number };
  /** Global group indices this worker drives. */
  groups: number[];
  jitter: JitterProfile | undefined;
  /** Room names are `<roomPrefix><group>-r<n>`: a namespace part (`ns:`) can be put in front. */
  roomPrefix: string;
}

export interface JitterProfile {
  /** Mean time between drops of one socket, and the spread around it (uniform ± spread). */
  everyMs: number;
  spreadMs: number;
  /** How long a dropped socket stays down (uniform ± downSpreadMs). */
  downMs: number;
  downSpreadMs: number;
  /** Drops happen from trafficStart until this long before trafficEnd. */
  stopBeforeEndMs: number;
}
