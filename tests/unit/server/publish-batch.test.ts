import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../../server/src/logger.js';
import { Metrics } from '../../../server/src/metrics.js';
import { PublishBatch } from '../../../server/src/publish-batch.js';

const log = createLogger('test', 'silent');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('publish batch', () => {
  it('hands the publishes of one turn to the client together, after the turn\'s callbacks, in order', async () => {
    const published: string[] = [];
    let phase = 'turn';
    const batch = new PublishBatch({ nc: { publish: (subject: string) => { published.push(`${subject}@${phase}`); } }, log, metrics: new Metrics('t') });
    batch.publish('room.a', bytes('1'));
    batch.publish('server.r2', bytes('2'));
    await Promise.resolve();
    assert.deepEqual(published, [], 'not on a microtask: the rest of the turn\'s I/O callbacks may add to the batch');
    batch.publish('room.a', bytes('3'));
    phase = 'check';
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(published, ['room.a@check', 'server.r2@check', 'room.a@check']);
    batch.publish('broadcast', bytes('4'));
    await new Promise((r) => setImmediate(r));
    assert.equal(published.length, 4, 'the next turn gets a batch of its own');
  });

  it('a publish that throws (the connection closed) is counted and the rest still go out', async () => {
    const metrics = new Metrics('t');
    const out: string[] = [];
    const batch = new PublishBatch({ nc: { publish: (subject: string) => { if (subject === 'bad') throw new Error('closed'); out.push(subject); } }, log, metrics });
    batch.publish('a', bytes(''));
    batch.publish('bad', bytes(''));
    batch.publish('b', bytes(''));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out, ['a', 'b']);
    assert.match(await metrics.registry.metrics(), /wsfleet_publish_failures_total\{server="t"\} 1/);
  });
});
