import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QUICK_RECONNECT_MAX_MS, backoffCeiling, backoffDelay, backoffPolicy, quickDelay } from '../../../client/src/backoff.js';

describe('client backoff', () => {
  const policy = backoffPolicy({ initialMs: 100, maxMs: 5_000, factor: 2 });

  it('grows the ceiling exponentially up to maxMs', () => {
    assert.deepEqual([0, 1, 2, 3, 5, 6, 20].map((a) => backoffCeiling(policy, a)), [100, 200, 400, 800, 3_200, 5_000, 5_000]);
  });

  it('full jitter: every delay in [0, ceiling), both ends reachable', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = backoffCeiling(policy, attempt);
      assert.equal(backoffDelay(policy, attempt, () => 0), 0);
      assert.equal(backoffDelay(policy, attempt, () => 0.999999), ceiling - 1);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(policy, attempt);
        assert.ok(d >= 0 && d < ceiling, `attempt ${attempt}: ${d} within [0, ${ceiling})`);
      }
    }
  });

  it('spreads delays (not all the same)', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(policy, 5)));
    assert.ok(delays.size > 10, `${delays.size} distinct delays`);
  });

  it('quick reconnect stays under a second', () => {
    for (let i = 0; i < 100; i++) assert.ok(quickDelay(policy) < QUICK_RECONNECT_MAX_MS);
    assert.equal(quickDelay(backoffPolicy({ initialMs: 10, maxMs: 200 }), () => 0.999), 199);
  });

  it('rejects bad options, naming the value', () => {
    assert.throws(() => backoffPolicy({ initialMs: -1 }), /initialMs .* got -1/);
    assert.throws(() => backoffPolicy({ initialMs: 500, maxMs: 100 }), /maxMs .* got 100/);
    assert.throws(() => backoffPolicy({ factor: 0.5 }), /factor .* got 0.5/);
    assert.throws(() => backoffPolicy({ maxMs: Number.NaN }), /maxMs/);
  });
});
