/**
 * No request can make a replica look unhealthy. Malformed percent-encoding, handshakes
 * ws refuses itself (the upgrade counter must come back down), deep JSON, /metrics off the public port.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { oneReplicaSuite, type ReplicaSuite } from '../support/fleet-processes.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

let suite: ReplicaSuite;
/** The clients a test left open for the next one. */
const held: TestClient[] = [];

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
  suite = oneReplicaSuite({ MAX_CONNECTIONS: '3' }, { natsNodes: 1 });

  it('malformed percent-encoding in a room path is 400 JSON, with or without a token', async () => {
    for (const auth of [undefined, `Bearer ${signToken(TEST_SECRET, 'p')}`]) {
      const res = await fetch(`${suite.replica.url}/rooms/%ZZ/publish`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) }, body: '{"data":1}' });
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
        const status = await raw(suite.replica.port, req);
        assert.ok(status >= 400 && status < 500, `4xx, got ${status}`);
      }
    }
    for (const user of ['hs1', 'hs2', 'hs3']) held.push(suite.track(await connectClient(`${suite.replica.wsUrl}?token=${signToken(TEST_SECRET, user)}`)));
    assert.equal((await fetch(`${suite.replica.url}/readyz`)).status, 200);
  });

  it('JSON nested deeper than the limit is bad_frame on WebSocket and 400 over HTTP', async () => {
    const c = held[0];
    assert.ok(c);
    const deep = `{"type":"send","to":"hs2","data":${'['.repeat(5000)}${']'.repeat(5000)},"id":"deep"}`;
    c.sendRaw(deep);
    assert.equal((await c.next((f) => f.id === 'deep' || f.code === 'bad_frame')).code, 'bad_frame');
    const res = await fetch(`${suite.replica.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, 'hs1')}` }, body: `{"to":"hs2","data":${'['.repeat(100)}${']'.repeat(100)}}` });
    assert.deepEqual([res.status, ((await res.json()) as { error: string }).error], [400, 'bad_frame']);
  });

  it('/metrics is not on the public port, only on METRICS_PORT', async () => {
    assert.equal((await fetch(`${suite.replica.url}/metrics`)).status, 404);
    const m = await fetch(`${suite.replica.metricsUrl}/metrics`);
    assert.equal(m.status, 200);
    assert.match(await m.text(), /wsfleet_connections/);
  });
});
