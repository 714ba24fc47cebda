import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TurnQueue } from '../../../server/src/turn-queue.js';

test('items of one turn are handed over together, in order, after the turn; the next turn gets its own hand-over', async () => {
  const handed: number[][] = [];
  const q = new TurnQueue<number>((items) => { handed.push(items); });
  q.push(1);
  q.push(2);
  await Promise.resolve();
  assert.deepEqual(handed, [], 'not on a microtask: after the I/O callbacks of the turn');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(handed, [[1, 2]]);
  q.push(3);
  q.flush();
  assert.deepEqual(handed, [[1, 2], [3]], 'flush hands over at once');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(handed, [[1, 2], [3]], 'nothing handed over twice, no empty hand-over');
});
