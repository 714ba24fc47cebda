/** The reconnect choice: the node dialled longest ago, so a replica never goes straight back to the node it just left. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Server } from '@nats-io/nats-core';
import { leastRecentlyDialled } from '../../../server/src/nats-setup.js';

function server(port: number, lastConnect: number): Server {
  return { hostname: '10.0.0.1', port, listen: `10.0.0.1:${port}`, src: `nats://10.0.0.1:${port}`, tlsName: '', reconnects: 0, lastConnect, gossiped: false, didConnect: lastConnect > 0 };
}

describe('leastRecentlyDialled', () => {
  it('on the first connect (nothing dialled) takes the pool\'s first entry, as nats.js would', () => {
    const pool = [server(1, 0), server(2, 0), server(3, 0)];
    assert.equal(leastRecentlyDialled(pool), pool[0]);
  });
  it('after leaving a node, takes another: the one dialled longest ago', () => {
    // nats.js puts the node just left first: it would dial it again.
    const pool = [server(1, 5_000), server(2, 0), server(3, 0)];
    assert.equal(leastRecentlyDialled(pool)?.port, 2);
    const later = [server(1, 5_000), server(2, 6_000), server(3, 4_000)];
    assert.equal(leastRecentlyDialled(later)?.port, 3);
  });
  it('an empty pool: null (nats.js then falls back to its own choice)', () => {
    assert.equal(leastRecentlyDialled([]), null);
  });
});
