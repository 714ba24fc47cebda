/**
 * The load runner's timeline pieces: what an event's window counts (load/series.ts) and the chaos plan
 * with its rolling deploy (load/chaos.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CHAOS_PLAN, parseChaosPlan } from '../../../load/chaos.js';
import { Series } from '../../../load/series.js';
import { newTrends, zeroCounters, TRENDS, type SecondRecord, type SerializedHistogram, type TrendName } from '../../../load/stats.js';

function second(t: number, closes: number): SecondRecord {
  const counters = zeroCounters();
  counters.ws_closes_unexpected = closes;
  const trends = newTrends();
  return { t, counters, trends: Object.fromEntries(TRENDS.map((n) => [n, trends[n].serialize()])) as Record<TrendName, SerializedHistogram>, open: 1 };
}

describe('load series and chaos plan', () => {
  it("an event's window counts a worker second that began before the event and overlaps it", () => {
    const s = new Series(0);
    s.add(0, second(9_400, 67)); // second 9, covers 9.4-10.4 s: the crash at 10.0 s lands in it
    s.add(0, second(10_400, 1));
    s.add(0, second(25_400, 5)); // after the window
    assert.equal(s.window(10_000, 20_000).counters.ws_closes_unexpected, 68);
    assert.equal(s.outside('ws_closes_unexpected', [[10_000, 20_000]]), 5);
  });

  it('the default chaos plan has every fault, the rolling deploy last', () => {
    const plan = parseChaosPlan(DEFAULT_CHAOS_PLAN);
    assert.deepEqual(plan.map((e) => e.action.kind), ['crash-replica', 'kill-nats', 'scale', 'scale', 'partition-nats', 'rolling']);
    assert.throws(() => parseChaosPlan('10s=redeploy'), /unknown action "redeploy"/);
  });
});
