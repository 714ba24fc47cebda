import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from '../../../server/src/rate-limit.js';

describe('token bucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) assert.equal(b.take(0), true);
    assert.equal(b.take(0), false);
    assert.equal(b.take(99), false, 'less than one token after 99 ms at 10/s');
    assert.equal(b.take(100), true, 'one token after 100 ms');
    assert.equal(b.take(10_000), true);
    let granted = 0;
    for (let i = 0; i < 20; i++) if (b.take(10_000)) granted++;
    assert.equal(granted, 4, 'never more than the burst saved up');
  });

  it('ignores clocks going backwards', () => {
    const b = new TokenBucket(1, 1, 1000);
    assert.equal(b.take(1000), true);
    assert.equal(b.take(500), false);
  });
});
