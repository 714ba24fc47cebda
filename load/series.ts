/**
 * The run over time: the workers' per-second records added up per second of the run, the memory
 * samples, and what a window of it (a chaos event) cost.
 */
import { addCounters, Histogram, TRENDS, zeroCounters, type Counters, type SecondRecord, type TrendName } from './stats.js';

export interface Second {
  /** Seconds from the start of traffic (negative during the ramp). */
  s: number;
  counters: Counters;
  trends: Record<TrendName, Histogram>;
  /** Sockets open, summed over the workers that reported this second. */
  open: number;
}

export interface MemorySample {
  /** Ms from the start of traffic. */
  atMs: number;
  rss: Record<string, number>;
}

export class Series {
  private readonly seconds = new Map<number, Second>();
  private readonly openByWorker = new Map<number, Map<number, number>>();
  readonly memory: MemorySample[] = [];

  constructor(readonly trafficStart: number) {}

  add(worker: number, r: SecondRecord): void {
    const s = Math.floor((r.t - this.trafficStart) / 1000);
    let sec = this.seconds.get(s);
    if (sec === undefined) {
      sec = { s, counters: zeroCounters(), trends: Object.fromEntries(TRENDS.map((n) => [n, new Histogram()])) as Record<TrendName, Histogram>, open: 0 };
      this.seconds.set(s, sec);
    }
    addCounters(sec.counters, r.counters);
    for (const n of TRENDS) sec.trends[n].merge(r.trends[n]);
    const opens = this.openByWorker.get(s) ?? new Map<number, number>();
    opens.set(worker, r.open);
    this.openByWorker.set(s, opens);
    sec.open = [...opens.values()].reduce((a, b) => a + b, 0);
  }

  list(): Second[] {
    return [...this.seconds.values()].sort((a, b) => a.s - b.s);
  }

  /** Counters and trends of the seconds that may overlap [fromMs, toMs) from the start of traffic (see `mayOverlap`). */
  window(fromMs: number, toMs: number): { counters: Counters; trends: Record<TrendName, Histogram> } {
    const counters = zeroCounters();
    const trends = Object.fromEntries(TRENDS.map((n) => [n, new Histogram()])) as Record<TrendName, Histogram>;
    for (const sec of this.seconds.values()) {
      const at = sec.s * 1000;
      if (!mayOverlap(at, fromMs, toMs)) continue;
      addCounters(counters, sec.counters);
      for (const n of TRENDS) trends[n].merge(sec.trends[n].serialize());
    }
    return { counters, trends };
  }

  /** A counter summed over the seconds outside every window. */
  outside(name: keyof Counters, windows: [number, number][]): number {
    let n = 0;
    for (const sec of this.seconds.values()) {
      const at = sec.s * 1000;
      if (windows.some(([a, b]) => mayOverlap(at, a, b))) continue;
      n += sec.counters[name];
    }
    return n;
  }
}

/**
 * A worker's second is not aligned with the run's: the record keyed `at` (floor of its start) began
 * in [at, at + 1000) and so ended before at + 2000. It counts for a window it may overlap: an event
 * at +10.0 s whose closes landed in a worker second from +9.4 s (keyed 9 s) is charged to the event.
 */
function mayOverlap(at: number, fromMs: number, toMs: number): boolean {
  return at + 2000 > fromMs && at < toMs;
}
