/**
 * No request can make a replica look unhealthy. Malformed percent-encoding, handshakes
 * ws refuses itself (the upgrade counter must come back down), deep JSON, /metrics off the public port.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

let fleet: ProcessFleet;
let r1: Replica;
const open: TestClient[] = [];

/** Sends raw request bytes; resolves with the status line's code (0 when closed without an answer). */
function raw(port: number, request: string): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.write(request); });
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.on('error', () => { resolve(0); });
    s.on('close', () => { resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)); });
    setTimeout(() => { s.destroy(); }, 3000).unref();
  });
}

describe('bad requests never look like a sick replica', { timeout: 90_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(1, { MAX_CONNECTIONS: '3' }, { natsNodes: 1 });
    const first = fleet.replicas[0];
    assert.ok(first);
    r1 = first;
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('malformed percent-encoding in a room path is 400 JSON, with or without a token', async () => {
    for (const auth of [undefined, `Bearer ${signToken(TEST_SECRET, 'p')}`]) {
      const res = await fetch(`${r1.url}/rooms/%ZZ/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) }, body: '{"data":1}' });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'bad_path');
    }
  });

  it('handshakes ws refuses itself do not leak the upgrade counter (MAX_CONNECTIONS=3 still admits 3)', async () => {
    const token = signToken(TEST_SECRET, 'hs');
    const base = `GET /ws?token=${token} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`;
    const bad = [
      `${base}Sec-WebSocket-Version: 13\r\n\r\n`,
      `${base}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n`,
      `${base}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a,,b\r\n\r\n`,
    ];
    for (let i = 0; i < 4; i++) {
      for (const req of bad) {
        const status = await raw(r1.port, req);
        assert.ok(status >= 400 && status < 500, `4xx, got ${status}`);
      }
    }
    for (const user of ['hs1', 'hs2', 'hs3']) open.push(await connectClient(`${r1.wsUrl}?token=${signToken(TEST_SECRET, user)}`));
    assert.equal((await fetch(`${r1.url}/readyz`)).status, 200);
  });

  it('JSON nested deeper than the limit is bad_frame on WebSocket and 400 over HTTP', async () => {
    const c = open[0];
    assert.ok(c);
    const deep = `{"type":"send","to":"hs2","data":${'['.repeat(5000)}${']'.repeat(5000)},"id":"deep"}`;
    c.sendRaw(deep);
    assert.equal((await c.next((f) => f.id === 'deep' || f.code === 'bad_frame')).code, 'bad_frame');
    const res = await fetch(`${r1.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, 'hs1')}` }, body: `{"to":"hs2","data":${'['.repeat(100)}${']'.repeat(100)}}` });
    assert.deepEqual([res.status, ((await res.json()) as { error: string }).error], [400, 'bad_frame']);
  });

  it('/metrics is not on the public port, only on METRICS_PORT', async () => {
    assert.equal((await fetch(`${r1.url}/metrics`)).status, 404);
    const m = await fetch(`${r1.metricsUrl}/metrics`);
    assert.equal(m.status, 200);
    assert.match(await m.text(), /wsfleet_connections/);
  });
});
