import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { LocalConnections, type ClientConnection } from '../../../server/src/connections.js';

function conn(id: string, userId: string): ClientConnection {
  return { id, userId, socket: Object.create(null) as WebSocket, auth: { exp: null, grants: { join: [], history: [], publish: [] } }, rooms: new Set(), roomActs: new Map(), state: { missedPongs: 0, strikes: 0, closing: false }, cursors: new Map() };
}

describe('local connection registry', () => {
  it('tracks first and last connection per user', () => {
    const reg = new LocalConnections();
    const a1 = conn('1', 'a');
    const a2 = conn('2', 'a');
    assert.equal(reg.add(a1), true);
    assert.equal(reg.add(a2), false);
    assert.equal(reg.ofUser('a')?.size, 2);
    assert.equal(reg.remove(a1).lastForUser, false);
    assert.equal(reg.remove(a2).lastForUser, true);
    assert.equal(reg.ofUser('a'), undefined);
    assert.equal(reg.size, 0);
    assert.deepEqual(reg.remove(a2), { lastForUser: false, emptiedRooms: [] }, 'removing twice is harmless');
  });

  it('tracks rooms, and which rooms a closing connection empties', () => {
    const reg = new LocalConnections();
    const a = conn('1', 'a');
    const b = conn('2', 'b');
    reg.add(a);
    reg.add(b);
    assert.equal(reg.join(a, 'r1'), true);
    assert.equal(reg.join(b, 'r1'), false);
    assert.equal(reg.join(a, 'r2'), true);
    assert.equal(reg.leave(b, 'r1'), false);
    assert.equal(reg.leave(b, 'nope'), false);
    assert.deepEqual(reg.remove(a).emptiedRooms.sort(), ['r1', 'r2']);
    assert.equal(reg.inRoom('r1'), undefined);
  });
});
