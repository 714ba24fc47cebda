/**
 * NatsLiveness's verdicts, on a fake connection whose PONG is a real socket read: an answer in time
 * is no reconnect, no answer is one, and an answer that arrived while the event loop was busy past
 * the probe's timeout still counts (the verdict is read after the poll phase).
 */
import assert from 'node:assert/strict';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../../server/src/logger.js';
import { NatsLiveness, type NatsLivenessDeps, type ProbeOutcome } from '../../../server/src/nats-liveness.js';

const log = createLogger('test', 'silent');

/** A connection whose flush() resolves when `pong()` is called, or never. */
function fakeNc(): { nc: NatsLivenessDeps['nc']; reconnects: () => number; pong: () => void; flushes: () => number } {
  let reconnects = 0;
  let flushes = 0;
  let resolvePong: (() => void) | undefined;
  const nc: NatsLivenessDeps['nc'] = {
    flush: () => {
      flushes += 1;
      return new Promise<void>((resolve) => { resolvePong = resolve; });
    },
    reconnect: () => {
      reconnects += 1;
      return Promise.resolve();
    },
    isClosed: () => false,
    getServer: () => 'nats://127.0.0.1:4222',
  };
  return { nc, reconnects: () => reconnects, pong: () => { resolvePong?.(); }, flushes: () => flushes };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function outcomes(): { list: ProbeOutcome[]; onProbe: (o: ProbeOutcome) => void } {
  const list: ProbeOutcome[] = [];
  return { list, onProbe: (o) => { list.push(o); } };
}

describe('NATS liveness probe', () => {
  let server: Server;
  let port = 0;
  /** The "node"'s end of the last connection. */
  let nodeSide: Promise<Socket>;
  let gotNodeSide: (s: Socket) => void = () => undefined;
  before(async () => {
    server = createServer((s) => { gotNodeSide(s); });
    await new Promise<void>((r) => { server.listen(0, '127.0.0.1', () => { r(); }); });
    const addr = server.address();
    port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  });
  after(() => { server.close(); });

  it('a node that answers the ping is kept; one that does not is left for another node', async () => {
    const fake = fakeNc();
    const seen = outcomes();
    const liveness = new NatsLiveness({ nc: fake.nc, log, onProbe: seen.onProbe }, { probeTimeoutMs: 50, minGapMs: 0 });
    liveness.suspect();
    fake.pong();
    await sleep(100);
    assert.deepEqual(seen.list, ['answered']);
    assert.equal(fake.reconnects(), 0);

    liveness.suspect();
    await sleep(100);
    assert.deepEqual(seen.list, ['answered', 'silent']);
    assert.equal(fake.reconnects(), 1);
  });

  it('one probe at a time, and none again within minGapMs of the last', async () => {
    const fake = fakeNc();
    const liveness = new NatsLiveness({ nc: fake.nc, log }, { probeTimeoutMs: 30, minGapMs: 200 });
    for (let i = 0; i < 10; i++) liveness.suspect();
    assert.equal(fake.flushes(), 1);
    await sleep(60);
    liveness.suspect();
    assert.equal(fake.flushes(), 1, 'within the gap');
    await sleep(250);
    liveness.suspect();
    assert.equal(fake.flushes(), 2);
  });

  it('a PONG read from the socket while the event loop was busy past the timeout counts as an answer', async () => {
    const fake = fakeNc();
    const seen = outcomes();
    nodeSide = new Promise<Socket>((r) => { gotNodeSide = r; });
    const client: Socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((r) => { client.once('connect', () => { r(); }); });
    const node = await nodeSide;
    client.on('data', () => { fake.pong(); });
    const liveness = new NatsLiveness({ nc: fake.nc, log, onProbe: seen.onProbe }, { probeTimeoutMs: 20 });
    liveness.suspect();
    // The node's PONG is in the kernel's buffer for the client's socket at once (another process
    // would put it there the same way); the loop is then held for 10 times the probe's timeout, so
    // when it runs again the probe's timer and the socket's data are both due.
    node.write('PONG\r\n');
    const until = performance.now() + 200;
    while (performance.now() < until) { /* busy */ }
    await sleep(50);
    client.destroy();
    node.destroy();
    assert.deepEqual(seen.list, ['answered']);
    assert.equal(fake.reconnects(), 0);
  });
});
