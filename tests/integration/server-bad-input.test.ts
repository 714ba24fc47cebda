/**
 * Every kind of bad input gets its answer (error frame, close code or HTTP status with a
 * JSON body), and the replica keeps serving a healthy client afterwards.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { oneReplicaSuite, type ReplicaSuite } from '../support/fleet-processes.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, TEST_SERVER_API_KEY, mintToken } from '../support/tokens.js';
import { connectClient, upgradeStatus, type TestClient } from '../support/ws-client.js';

let suite: ReplicaSuite;

async function client(user: string, replica: Replica = suite.replica): Promise<TestClient> {
  const c = await connectClient(`${replica.wsUrl}?token=${await mintToken(TEST_SECRET, user)}`);
  suite.track(c);
  return c;
}

async function post(path: string, init: { token?: string; body?: string; contentType?: string; method?: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/json' };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${suite.replica.url}${path}`, { method: init.method ?? 'POST', headers, ...(init.body === undefined ? {} : { body: init.body }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('bad input and limits', { timeout: 120_000 }, () => {
  suite = oneReplicaSuite({ MAX_PAYLOAD_BYTES: '1024', RATE_LIMIT_PER_SEC: '20', RATE_LIMIT_BURST: '20', PING_INTERVAL_MS: '300' });

  it('frames that are not JSON, of unknown type, or with missing or mistyped fields get error frames', async () => {
    const c = await client('bad1');
    c.sendRaw('this is not json');
    assert.equal((await c.next((f) => f.code === 'bad_json')).type, 'error');
    c.sendRaw('[1,2]');
    assert.equal((await c.next((f) => f.code === 'bad_frame')).type, 'error');
    const unknown = await c.request({ type: 'teleport' });
    assert.equal(unknown.code, 'unknown_type');
    const missing = await c.request({ type: 'send', data: 1 });
    assert.equal(missing.code, 'bad_frame');
    assert.match(String(missing.message), /to/);
    const mistyped = await c.request({ type: 'send', to: 123, data: 1 });
    assert.equal(mistyped.code, 'bad_frame');
    const noData = await c.request({ type: 'send', to: 'someone' });
    assert.equal(noData.code, 'bad_frame');
    assert.match(String(noData.message), /data/);
  });

  it('user ids and room names that are not valid subject tokens are refused', async () => {
    const c = await client('bad2');
    for (const to of ['a.b', 'x*', 'y>', 'has space', '', 'z'.repeat(65)]) {
      const r = await c.request({ type: 'send', to, data: 1 });
      assert.equal(r.code, 'bad_frame', `to=${JSON.stringify(to)}`);
    }
    for (const room of ['r.1', '*', '>', 'tab\t']) {
      const r = await c.request({ type: 'join', room });
      assert.equal(r.code, 'bad_frame', `room=${JSON.stringify(room)}`);
    }
  });

  it('nobody can send as another user; broadcast is the server API\'s only (an admin claim grants nothing)', async () => {
    const c = await client('bad3');
    const forged = await c.request({ type: 'send', to: 'bad3', from: 'someone_else', data: 1 });
    assert.equal(forged.code, 'forbidden');
    const forgedRoom = await c.request({ type: 'publish', room: 'r', from: 'someone_else', data: 1 });
    assert.equal(forgedRoom.code, 'forbidden');
    const bc = await c.request({ type: 'broadcast', data: 'hi all' });
    assert.equal(bc.code, 'forbidden');
    const admin = await connectClient(`${suite.replica.wsUrl}?token=${await mintToken(TEST_SECRET, 'root', { admin: true })}`);
    suite.track(admin);
    assert.equal((await admin.request({ type: 'broadcast', data: 'hi all' })).code, 'forbidden');
    const asUser = await fetch(`${suite.replica.url}/broadcast`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await mintToken(TEST_SECRET, 'root', { admin: true })}` }, body: JSON.stringify({ data: 'x' }) });
    assert.equal(asUser.status, 403);
    const ok = await fetch(`${suite.replica.url}/broadcast`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `ApiKey ${TEST_SERVER_API_KEY}` }, body: JSON.stringify({ data: 'hi all' }) });
    assert.equal(ok.status, 202);
    const frame = await c.next((f) => f.type === 'message' && f.broadcast === true);
    assert.deepEqual([frame.data, frame.from], ['hi all', 'server']);
  });

  it('a frame over MAX_PAYLOAD_BYTES closes with 1009', async () => {
    const c = await client('bad4');
    c.send({ type: 'send', to: 'x', data: 'a'.repeat(2000) });
    assert.equal((await c.closed).code, 1009);
  });

  it('a binary frame closes with 1003', async () => {
    const c = await client('bad5');
    c.sendRaw(Buffer.from('{"type":"ping"}'), true);
    assert.equal((await c.closed).code, 1003);
  });

  it('invalid UTF-8 in a text frame closes with 1007', async () => {
    const c = await client('bad6');
    c.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    assert.equal((await c.closed).code, 1007);
  });

  it('a flood hits the token bucket: an error frame, then close 1008', async () => {
    const c = await client('bad7');
    for (let i = 0; i < 200 && c.ws.readyState === WebSocket.OPEN; i++) c.send({ type: 'ping' });
    assert.equal((await c.next((f) => f.code === 'rate_limited')).type, 'error');
    assert.equal((await c.closed).code, 1008);
  });

  it('frames sent before the welcome are answered after it, in order', async () => {
    const token = await mintToken(TEST_SECRET, 'eager');
    const ws = new WebSocket(`${suite.replica.wsUrl}?token=${token}`);
    const frames: Array<Record<string, unknown>> = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`only ${JSON.stringify(frames)}`)); }, 5000);
      ws.on('message', (d: Buffer) => {
        const frame = JSON.parse(d.toString()) as Record<string, unknown>;
        // The inbox's replay from the user's cursor ends with a `replayed` frame whenever its
        // history read completes: it answers none of the frames sent, so its place is not fixed.
        if (frame['type'] === 'replayed') return;
        frames.push(frame);
        if (frames.length === 4) { clearTimeout(timer); resolve(); }
      });
    });
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'ping' }));
      ws.send('not json');
      ws.send(JSON.stringify({ type: 'ping' }));
    });
    await done;
    ws.close();
    assert.deepEqual(frames.map((f) => f['type'] === 'error' ? `error:${String(f['code'])}` : f['type']), ['welcome', 'pong', 'error:bad_json', 'pong']);
  });

  it('a peer that stops answering protocol pings is terminated after missing two', async () => {
    const token = await mintToken(TEST_SECRET, 'silent');
    const ws = new WebSocket(`${suite.replica.wsUrl}?token=${token}`, { autoPong: false });
    const started = Date.now();
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('not terminated')); }, 5000);
      ws.once('close', (c) => { clearTimeout(timer); resolve(c); });
    });
    assert.equal(code, 1006, 'terminated, not closed politely');
    assert.ok(Date.now() - started >= 500, 'after two missed intervals');
  });

  it('missing, forged and expired tokens get 401 before the upgrade; the dev switch is off by default', async () => {
    const missing = await upgradeStatus(suite.replica.wsUrl);
    assert.equal(missing.status, 401);
    assert.equal((missing.body as { error: string }).error, 'missing_token');
    const forged = await upgradeStatus(`${suite.replica.wsUrl}?token=${await mintToken('another-secret-that-is-long-enough-0123456789', 'eve')}`);
    assert.equal(forged.status, 401);
    assert.equal((forged.body as { error: string }).error, 'invalid_token');
    const expired = await upgradeStatus(`${suite.replica.wsUrl}?token=${await mintToken(TEST_SECRET, 'eve', { expiresInSec: -60 })}`);
    assert.equal(expired.status, 401);
    assert.equal((expired.body as { error: string }).error, 'expired_token');
    const badSub = await upgradeStatus(`${suite.replica.wsUrl}?token=${await mintToken(TEST_SECRET, 'not.valid')}`);
    assert.equal(badSub.status, 401);
    const dev = await upgradeStatus(`${suite.replica.wsUrl}?user=eve`);
    assert.equal(dev.status, 401, '?user= is refused unless AUTH_ALLOW_DEV_USER=true');
    const garbage = await upgradeStatus(suite.replica.wsUrl, { authorization: 'Bearer not-a-jwt' });
    assert.equal(garbage.status, 401);
  });

  it('accepts the token in the Authorization header and in Sec-WebSocket-Protocol (browsers)', async () => {
    const token = await mintToken(TEST_SECRET, 'browser');
    const viaHeader = await connectClient(suite.replica.wsUrl, { headers: { authorization: `Bearer ${token}` } });
    suite.track(viaHeader);
    assert.equal(viaHeader.welcome.user, 'browser');
    const viaProtocol = await connectClient(suite.replica.wsUrl, { protocols: ['ws-fleet', token] });
    suite.track(viaProtocol);
    assert.equal(viaProtocol.welcome.user, 'browser');
    assert.equal(viaProtocol.ws.protocol, 'ws-fleet');
  });

  it('HTTP endpoints answer bad requests with a status and a JSON body', async () => {
    const token = await mintToken(TEST_SECRET, 'poster');
    assert.equal((await post('/send', { body: '{}' })).status, 401);
    assert.equal((await post('/send', { token: 'x.y.z', body: '{}' })).status, 401);
    const badJson = await post('/send', { token, body: '{nope' });
    assert.deepEqual([badJson.status, badJson.body.error], [400, 'bad_json']);
    const badField = await post('/send', { token, body: JSON.stringify({ to: 'a.b', data: 1 }) });
    assert.deepEqual([badField.status, badField.body.error], [400, 'bad_request']);
    const wrongType = await post('/send', { token, body: 'to=x', contentType: 'text/plain' });
    assert.equal(wrongType.status, 415);
    const tooBig = await post('/send', { token, body: JSON.stringify({ to: 'x', data: 'a'.repeat(5000) }) });
    assert.equal(tooBig.status, 413);
    const forged = await post('/send', { token, body: JSON.stringify({ to: 'x', from: 'other', data: 1 }) });
    assert.equal(forged.status, 403);
    const badRoom = await post('/rooms/a.b/publish', { token, body: JSON.stringify({ data: 1 }) });
    assert.equal(badRoom.status, 400);
    const room = await post('/rooms/news/publish', { token, body: JSON.stringify({ data: 1 }) });
    assert.equal(room.status, 202);
    const getSend = await fetch(`${suite.replica.url}/send`);
    assert.equal(getSend.status, 405);
    const nowhere = await fetch(`${suite.replica.url}/nowhere`);
    assert.equal(nowhere.status, 404);
    assert.equal(((await nowhere.json()) as { error: string }).error, 'not_found');
  });

  it('past MAX_CONNECTIONS an upgrade gets 503 with Retry-After', async () => {
    const small = await suite.fleet.addReplica('small', { MAX_CONNECTIONS: '2' });
    await client('cap1', small);
    await client('cap2', small);
    const refused = await upgradeStatus(`${small.wsUrl}?token=${await mintToken(TEST_SECRET, 'cap3')}`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    assert.equal((refused.body as { error: string }).error, 'max_connections');
  });

  it('after all of the above the replica still serves a healthy client', async () => {
    const a = await client('healthy_a');
    const b = await client('healthy_b');
    const ack = await a.request({ type: 'send', to: 'healthy_b', data: 'still here' });
    assert.equal(ack.delivered, 1);
    assert.equal((await b.next((f) => f.type === 'message')).data, 'still here');
    a.send({ type: 'ping', id: 'p1' });
    assert.equal((await a.next((f) => f.type === 'pong' && f.id === 'p1')).type, 'pong');
    assert.equal((await fetch(`${suite.replica.url}/healthz`)).status, 200);
  });
});
