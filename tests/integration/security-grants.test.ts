/**
 * Rooms behind grants: each namespace policy, the grants claim, room tokens and the
 * server API, on every route (WebSocket join / publish / resume and join with `after`; HTTP send,
 * publish, broadcast). Deny unless granted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oneReplicaSuite, type ReplicaSuite } from '../support/fleet-processes.js';
import { TEST_NAMESPACES, TEST_SECRET, TEST_SERVER_API_KEY, signRoomToken, signToken, type TokenGrants } from '../support/tokens.js';
import { connectClient, upgradeStatus, type TestClient } from '../support/ws-client.js';

const policy = { keepHistory: true, historyMaxAgeSec: 3600, historyMaxMsgs: 1000 } as const;
const NAMESPACES = {
  ...TEST_NAMESPACES,
  chat: { join: 'grant', history: 'grant', publish: 'grant', ...policy },
  news: { join: 'authenticated', history: 'none', publish: 'server', ...policy },
  team: { join: 'grant', history: 'members', publish: 'members', ...policy },
};

let suite: ReplicaSuite;

async function client(user: string, grants?: TokenGrants): Promise<TestClient> {
  const c = await connectClient(`${suite.replica.wsUrl}?token=${signToken(TEST_SECRET, user, grants === undefined ? {} : { grants })}`);
  suite.track(c);
  return c;
}

async function post(path: string, auth: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${suite.replica.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const bearer = (user: string, grants?: TokenGrants): string => `Bearer ${signToken(TEST_SECRET, user, grants === undefined ? {} : { grants })}`;
const apiKey = `ApiKey ${TEST_SERVER_API_KEY}`;

describe('namespaces and grants', { timeout: 120_000 }, () => {
  suite = oneReplicaSuite({ NAMESPACES: JSON.stringify(NAMESPACES) }, { natsNodes: 1 });

  it('join: refused without a grant in a grant namespace, allowed with a matching pattern', async () => {
    const none = await client('g_none');
    const refused = await none.request({ type: 'join', room: 'chat:lobby' });
    assert.deepEqual([refused.type, refused.code], ['error', 'forbidden']);
    const wrong = await client('g_wrong', { join: ['chat:other', 'team:*'] });
    assert.equal((await wrong.request({ type: 'join', room: 'chat:lobby' })).code, 'forbidden');
    const ok = await client('g_ok', { join: ['chat:*'] });
    assert.equal((await ok.request({ type: 'join', room: 'chat:lobby' })).type, 'ack');
    const exact = await client('g_exact', { join: ['chat:lobby'] });
    assert.equal((await exact.request({ type: 'join', room: 'chat:lobby' })).type, 'ack');
  });

  it('a namespace that is not configured denies everyone, the server API included', async () => {
    const c = await client('g_unconf', { join: ['*'], history: ['*'], publish: ['*'] });
    assert.equal((await c.request({ type: 'join', room: 'secret:x' })).code, 'forbidden');
    assert.equal((await post('/rooms/secret:x/publish', apiKey, { data: 1 })).status, 403);
    assert.equal((await post('/rooms/secret:x/publish', bearer('g_unconf', { publish: ['*'] }), { data: 1 })).status, 403);
  });

  it('publish: a grant namespace needs a publish grant (WebSocket and HTTP)', async () => {
    const reader = await client('g_reader', { join: ['chat:*'] });
    assert.equal((await reader.request({ type: 'join', room: 'chat:pub' })).type, 'ack');
    const refused = await reader.request({ type: 'publish', room: 'chat:pub', data: 'no' });
    assert.equal(refused.code, 'forbidden');
    const http = await post('/rooms/chat:pub/publish', bearer('g_reader', { join: ['chat:*'] }), { data: 'no' });
    assert.deepEqual([http.status, http.body.error], [403, 'forbidden']);
    const writer = await client('g_writer', { join: ['chat:*'], publish: ['chat:pub'] });
    assert.equal((await writer.request({ type: 'join', room: 'chat:pub' })).type, 'ack');
    assert.equal((await writer.request({ type: 'publish', room: 'chat:pub', data: 'ws' })).type, 'ack');
    assert.equal((await post('/rooms/chat%3Apub/publish', bearer('g_writer', { publish: ['chat:*'] }), { data: 'http' })).status, 202);
    for (const data of ['ws', 'http']) assert.equal((await reader.next((f) => f.type === 'message' && f.data === data)).room, 'chat:pub');
    assert.equal(reader.frames.filter((f) => f.data === 'no').length, 0, 'refused messages reached nobody');
  });

  it('history: join with `after` and resume are refused without the right, served with it', async () => {
    const writer = await client('h_writer', { join: ['chat:*'], publish: ['chat:*'] });
    await writer.request({ type: 'join', room: 'chat:hist' });
    for (const data of ['one', 'two']) assert.equal((await writer.request({ type: 'publish', room: 'chat:hist', data })).type, 'ack');
    const member = await client('h_member', { join: ['chat:*'] });
    const refused = await member.request({ type: 'join', room: 'chat:hist', after: 0 });
    assert.equal(refused.code, 'forbidden');
    const liveOnly = await member.request({ type: 'join', room: 'chat:hist' });
    assert.equal(liveOnly.type, 'ack', 'joining live-only is allowed');
    assert.equal(liveOnly.after, undefined, 'no position offered to a member who may not replay: a rejoin with it would be refused');
    const reader = await client('h_reader', { join: ['chat:*'], history: ['chat:*'] });
    const withRight = await reader.request({ type: 'join', room: 'chat:hist' });
    assert.equal(typeof withRight.after, 'number', "the ack of a live join names the seq its cursor starts after");
    assert.ok((withRight.after as number) >= 2, `the position is past the two stored messages: ${JSON.stringify(withRight)}`);
    assert.equal((await member.request({ type: 'resume', room: 'chat:hist', after: 0 })).code, 'forbidden');
    assert.equal((await member.request({ type: 'join', room: 'chat:hist', after: 0 })).code, 'forbidden', 'a member still needs the history right');
    const historian = await client('h_reader', { join: ['chat:*'], history: ['chat:hist'] });
    assert.equal((await historian.request({ type: 'join', room: 'chat:hist', after: 0 })).type, 'ack');
    assert.equal((await historian.next((f) => f.type === 'message' && f.data === 'two')).room, 'chat:hist');
    assert.ok(historian.frames.some((f) => f.type === 'message' && f.data === 'one'));
  });

  it('a server-only namespace: users may join and read live but not publish or replay; the server API publishes', async () => {
    const c = await client('n_user', { publish: ['*'] });
    assert.equal((await c.request({ type: 'join', room: 'news:today' })).type, 'ack');
    assert.equal((await c.request({ type: 'publish', room: 'news:today', data: 'x' })).code, 'forbidden');
    assert.equal((await c.request({ type: 'join', room: 'news:today', after: 0 })).code, 'forbidden', 'history: none');
    assert.equal((await post('/rooms/news:today/publish', bearer('n_user', { publish: ['*'] }), { data: 'x' })).status, 403);
    const byServer = await post('/rooms/news:today/publish', apiKey, { data: 'headline' });
    assert.equal(byServer.status, 202);
    const f = await c.next((m) => m.type === 'message' && m.data === 'headline');
    assert.equal(f.from, 'server');
  });

  it('members namespace: publishing over WebSocket needs having joined; over HTTP the right to join', async () => {
    const c = await client('m_user');
    assert.equal((await c.request({ type: 'publish', room: 'lobby2', data: 1 })).code, 'forbidden');
    assert.equal((await c.request({ type: 'join', room: 'lobby2' })).type, 'ack');
    assert.equal((await c.request({ type: 'publish', room: 'lobby2', data: 1 })).type, 'ack');
    assert.equal((await post('/rooms/lobby2/publish', bearer('m_user'), { data: 2 })).status, 202);
    assert.equal((await post('/rooms/team:7/publish', bearer('m_user'), { data: 2 })).status, 403, 'team needs a join grant');
  });

  it('room tokens: for this user and this room only; never a connection token; a user token is not one', async () => {
    const c = await client('t_user');
    assert.equal((await c.request({ type: 'join', room: 'team:42' })).code, 'forbidden');
    const other = signRoomToken(TEST_SECRET, 't_user', 'team:43', ['join']);
    assert.equal((await c.request({ type: 'join', room: 'team:42', token: other })).code, 'forbidden');
    const stolen = signRoomToken(TEST_SECRET, 'someone_else', 'team:42', ['join']);
    assert.equal((await c.request({ type: 'join', room: 'team:42', token: stolen })).code, 'forbidden');
    const userToken = signToken(TEST_SECRET, 't_user', { grants: { join: ['*'] } });
    assert.equal((await c.request({ type: 'join', room: 'team:42', token: userToken })).code, 'invalid_token');
    const forged = signRoomToken('another-secret-that-is-long-enough-0123456789', 't_user', 'team:42', ['join']);
    assert.equal((await c.request({ type: 'join', room: 'team:42', token: forged })).code, 'invalid_token');
    const good = signRoomToken(TEST_SECRET, 't_user', 'team:42', ['join']);
    assert.equal((await c.request({ type: 'join', room: 'team:42', token: good })).type, 'ack');
    assert.equal((await c.request({ type: 'publish', room: 'team:42', data: 'in' })).type, 'ack', 'members publish');
    assert.equal((await c.request({ type: 'resume', room: 'team:42', after: 0 })).type, 'ack', 'members read history');
    const asConnection = await upgradeStatus(`${suite.replica.wsUrl}?token=${good}`);
    assert.equal(asConnection.status, 401);
    const grantRoom = signRoomToken(TEST_SECRET, 't_user', 'chat:tok', ['join', 'publish']);
    assert.equal((await c.request({ type: 'join', room: 'chat:tok', token: grantRoom })).type, 'ack');
    assert.equal((await c.request({ type: 'publish', room: 'chat:tok', data: 'x' })).type, 'ack', 'publish act of the room token');
    assert.equal((await c.request({ type: 'join', room: 'chat:tok', after: 0 })).code, 'forbidden', 'no history act');
  });

  it('broadcast and HTTP send: a user may send as itself only; broadcast is the server API', async () => {
    const target = await client('s_target');
    const sent = await post('/send', bearer('s_from'), { to: 's_target', data: 'hello' });
    assert.equal(sent.status, 202);
    assert.equal((await target.next((f) => f.type === 'message' && f.data === 'hello')).from, 's_from');
    assert.equal((await post('/send', bearer('s_from'), { to: 's_target', from: 'boss', data: 'x' })).status, 403);
    const asBoss = await post('/send', apiKey, { to: 's_target', from: 'boss', data: 'from the app' });
    assert.equal(asBoss.status, 202);
    assert.equal((await target.next((f) => f.type === 'message' && f.data === 'from the app')).from, 'boss');
    assert.equal((await post('/broadcast', bearer('s_from'), { data: 'x' })).status, 403);
    assert.equal((await post('/broadcast', 'ApiKey wrong-key-wrong-key-wrong-key-000000', { data: 'x' })).status, 401);
    assert.equal((await target.request({ type: 'broadcast', data: 'x' })).code, 'forbidden');
  });
});
