import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Turn, TurnQueue } from '../../../server/src/turn-queue.js';

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

test('queues sharing a turn are drained from one callback: no microtask (no nats.js write) runs between them', async () => {
  const turn = new Turn();
  const log: string[] = [];
  const drainer = (name: string) => (items: string[]) => {
    log.push(`${name}:${items.join(',')}`);
    queueMicrotask(() => { log.push(`microtask after ${name}`); });
  };
  const publishes = new TurnQueue<string>(drainer('publishes'), turn);
  const requests = new TurnQueue<string>(drainer('requests'), turn);
  requests.push('r1');
  publishes.push('p1');
  requests.push('r2');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['requests:r1,r2', 'publishes:p1', 'microtask after requests', 'microtask after publishes'],
    'drained in the order each queue first asked, both before any microtask');
  log.length = 0;
  requests.push('r3');
  requests.flush();
  publishes.push('p2');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['requests:r3', 'microtask after requests', 'publishes:p2', 'microtask after publishes'],
    'a queue flushed early is not drained again; the next turn is scheduled afresh');
});
