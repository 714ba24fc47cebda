import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addTallies, closeKind, tally } from '../../../load/tallies.js';

describe('load tallies', () => {
  it('closes of one kind count as one, whatever numbers their reasons carry', () => {
    const closes = new Map<string, number>();
    for (const [code, reason] of [[1006, 'nothing received for 50013 ms'], [1006, 'nothing received for 50047 ms'], [1012, 'server restart'], [1006, '']] as const) tally(closes, closeKind(code, reason));
    assert.deepEqual(Object.fromEntries(closes), { '1006 nothing received for N ms': 2, '1012 server restart': 1, '1006': 1 });
  });

  it('adds a worker\'s counts into the run\'s', () => {
    const run: Record<string, number> = { a: 1 };
    addTallies(run, { a: 2, b: 3 });
    assert.deepEqual(run, { a: 3, b: 3 });
  });
});
