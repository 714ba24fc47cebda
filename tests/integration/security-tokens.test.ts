/**
 * Tokens: `exp` is required, lifetimes are capped, and an open connection whose token
 * expires gets a `refresh` frame and a window: a valid refresh keeps it, none closes it 4001.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oneReplicaSuite, type ReplicaSuite } from '../support/fleet-processes.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, upgradeStatus, type TestClient } from '../support/ws-client.js';

let suite: ReplicaSuite;
const WINDOW_MS = 1500;

async function client(token: string): Promise<TestClient> {
  const c = await connectClient(`${suite.replica.wsUrl}?token=${token}`);
  suite.track(c);
  return c;
}

describe('token expiry and refresh', { timeout: 90_000 }, () => {
  suite = oneReplicaSuite({ TOKEN_MAX_LIFETIME_SEC: '600', TOKEN_REFRESH_WINDOW_MS: String(WINDOW_MS) }, { natsNodes: 1 });

  it('refuses tokens without exp and tokens living longer than the maximum', async () => {
    const noExp = await upgradeStatus(`${suite.replica.wsUrl}?token=${signToken(TEST_SECRET, 'a', { noExp: true })}`);
    assert.deepEqual([noExp.status, (noExp.body as { error: string }).error], [401, 'invalid_token']);
    const tooLong = await upgradeStatus(`${suite.replica.wsUrl}?token=${signToken(TEST_SECRET, 'a', { expiresInSec: 3600 })}`);
    assert.equal(tooLong.status, 401);
    assert.match((tooLong.body as { message: string }).message, /longer than the maximum/);
    const issuedLongAgo = await upgradeStatus(`${suite.replica.wsUrl}?token=${signToken(TEST_SECRET, 'a', { expiresInSec: 300, issuedAgoSec: 500 })}`);
    assert.equal(issuedLongAgo.status, 401);
    const http = await fetch(`${suite.replica.url}/send`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${signToken(TEST_SECRET, 'a', { noExp: true })}` }, body: '{"to":"b","data":1}' });
    assert.equal(http.status, 401);
    const ok = await client(signToken(TEST_SECRET, 'a', { expiresInSec: 500 }));
    assert.equal(typeof ok.welcome.exp, 'number');
    assert.deepEqual(ok.welcome.limits, { rooms: 128 });
  });

  it('an expiring connection gets a refresh frame; a valid refresh keeps it open past the deadline', async () => {
    const c = await client(signToken(TEST_SECRET, 'fresh', { expiresInSec: 2 }));
    const asked = await c.next((f) => f.type === 'refresh', 5000, 'refresh frame');
    const deadline = asked.deadline as number;
    assert.ok(deadline > Date.now() && deadline <= Date.now() + WINDOW_MS + 100, `deadline ${deadline} within the window`);
    const other = await c.request({ type: 'refresh', token: signToken(TEST_SECRET, 'someone_else', { expiresInSec: 300 }) });
    assert.equal(other.code, 'invalid_token', 'a token for another user does not refresh');
    const expired = await c.request({ type: 'refresh', token: signToken(TEST_SECRET, 'fresh', { expiresInSec: -5 }) });
    assert.equal(expired.code, 'invalid_token');
    const ack = await c.request({ type: 'refresh', token: signToken(TEST_SECRET, 'fresh', { expiresInSec: 300 }) });
    assert.equal(ack.type, 'ack');
    assert.ok((ack.exp as number) > Date.now() / 1000 + 200);
    await new Promise((r) => setTimeout(r, WINDOW_MS + 500));
    c.send({ type: 'ping', id: 'after-deadline' });
    assert.equal((await c.next((f) => f.type === 'pong' && f.id === 'after-deadline', 2000, 'pong after the deadline')).type, 'pong');
    assert.equal(c.ws.readyState, c.ws.OPEN);
  });

  it('without a refresh the connection is closed 4001 "token expired" after the window', async () => {
    const c = await client(signToken(TEST_SECRET, 'stale', { expiresInSec: 1 }));
    const asked = await c.next((f) => f.type === 'refresh', 5000, 'refresh frame');
    const closed = await c.closed;
    assert.deepEqual([closed.code, closed.reason], [4001, 'token expired']);
    assert.ok(Date.now() >= (asked.deadline as number) - 50, 'not before the deadline');
  });

  it('a refresh reschedules the expiry from the new token', async () => {
    const c = await client(signToken(TEST_SECRET, 'regrant', { expiresInSec: 300 }));
    const ack = await c.request({ type: 'refresh', token: signToken(TEST_SECRET, 'regrant', { expiresInSec: 2 }) });
    assert.equal(ack.type, 'ack');
    await c.next((f) => f.type === 'refresh', 5000, 'refresh frame at the new, earlier expiry');
  });
});
