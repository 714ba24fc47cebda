import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSigner } from 'fast-jwt';
import { AuthError, isServerApiKey, verifyRoomToken, verifyToken, type AuthOptions } from '../../../server/src/auth.js';
import { TEST_SECRET, mintToken, signRoomToken, signToken } from '../../support/tokens.js';

const opts: AuthOptions = { secret: new TextEncoder().encode(TEST_SECRET), allowDevUser: false, maxLifetimeSec: 24 * 3600 };
const sign = createSigner({ key: TEST_SECRET, algorithm: 'HS256', noTimestamp: true });
const now = (): number => Math.floor(Date.now() / 1000);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthError, `not an AuthError: ${String(err)}`);
    return err.code;
  }
  assert.fail('no error thrown');
}

test('a valid HS256 token gives its subject, exp and grants; an admin claim grants nothing', async () => {
  const p = verifyToken(await mintToken(TEST_SECRET, 'anne', { grants: { join: ['chat:*'], publish: ['team:42'] } }), opts);
  assert.equal(p.userId, 'anne');
  assert.ok(p.exp !== null && p.exp > now());
  assert.deepEqual(p.grants, { join: ['chat:*'], history: [], publish: ['team:42'] });
  const root = verifyToken(await mintToken(TEST_SECRET, 'root', { admin: true }), opts);
  assert.deepEqual(Object.keys(root).sort(), ['exp', 'grants', 'userId']);
});

test('expired, forged, wrong-algorithm, unsigned and malformed tokens are refused with a code', async () => {
  assert.equal(codeOf(() => verifyToken('', opts)), 'invalid_token');
  assert.equal(codeOf(() => verifyToken('not.a.jwt', opts)), 'invalid_token');
  const expired = await mintToken(TEST_SECRET, 'anne', { expiresInSec: -60 });
  assert.equal(codeOf(() => verifyToken(expired, opts)), 'expired_token');
  const forged = await mintToken('another-secret-another-secret-another', 'anne');
  assert.equal(codeOf(() => verifyToken(forged, opts)), 'invalid_token');
  const hs512 = createSigner({ key: TEST_SECRET, algorithm: 'HS512' })({ sub: 'anne', exp: now() + 60 });
  assert.equal(codeOf(() => verifyToken(hs512, opts)), 'invalid_token');
  const unsigned = createSigner({ algorithm: 'none' })({ sub: 'anne', exp: now() + 60 });
  assert.equal(codeOf(() => verifyToken(unsigned, opts)), 'invalid_token');
  const notYet = sign({ sub: 'anne', nbf: now() + 600, exp: now() + 900 });
  assert.equal(codeOf(() => verifyToken(notYet, opts)), 'invalid_token');
});

test('exp is required and the lifetime is capped (exp - now and exp - iat)', () => {
  assert.throws(() => verifyToken(signToken(TEST_SECRET, 'anne', { noExp: true }), opts), /exp/);
  const short: AuthOptions = { ...opts, maxLifetimeSec: 600 };
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne', { expiresInSec: 3600 }), short)), 'invalid_token');
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne', { expiresInSec: 300, issuedAgoSec: 400 }), short)), 'invalid_token');
  assert.equal(verifyToken(signToken(TEST_SECRET, 'anne', { expiresInSec: 300 }), short).userId, 'anne');
});

test('issuer and audience are checked when configured', () => {
  const strict: AuthOptions = { ...opts, issuer: 'https://auth.example', audience: 'ws-fleet' };
  assert.equal(verifyToken(signToken(TEST_SECRET, 'anne', { iss: 'https://auth.example', aud: 'ws-fleet' }), strict).userId, 'anne');
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne', { iss: 'https://evil.example', aud: 'ws-fleet' }), strict)), 'invalid_token');
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne', { iss: 'https://auth.example', aud: 'other' }), strict)), 'invalid_token');
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne'), strict)), 'invalid_token');
});

test('malformed grants are refused, not half-applied', () => {
  for (const grants of [{ join: 'chat:*' }, { join: [1] }, { admin: ['*'] }, { join: ['a.b'] }, { join: ['x*y'] }]) {
    assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, 'anne', { claims: { grants } }), opts)), 'invalid_token', JSON.stringify(grants));
  }
});

test('room tokens and user tokens are not interchangeable', () => {
  const room = signRoomToken(TEST_SECRET, 'anne', 'chat:lobby', ['join', 'history']);
  const r = verifyRoomToken(room, opts);
  assert.equal(r.room, 'chat:lobby');
  assert.deepEqual([...r.act].sort(), ['history', 'join']);
  assert.equal(codeOf(() => verifyToken(room, opts)), 'invalid_token');
  assert.equal(codeOf(() => verifyRoomToken(signToken(TEST_SECRET, 'anne'), opts)), 'invalid_token');
  assert.equal(codeOf(() => verifyRoomToken(sign({ typ: 'room', sub: 'anne', room: 'chat:lobby', act: ['admin'], exp: now() + 60 }), opts)), 'invalid_token');
  assert.equal(verifyRoomToken(signRoomToken(TEST_SECRET, 'anne', 'default:lobby', ['join']), opts).room, 'lobby');
});

test('a subject that could not be a subject token is refused', () => {
  assert.equal(codeOf(() => verifyToken(sign({ sub: 'a.b', exp: now() + 60 }), opts)), 'invalid_user');
  assert.equal(codeOf(() => verifyToken(sign({ sub: 'x>', exp: now() + 60 }), opts)), 'invalid_user');
  assert.equal(codeOf(() => verifyToken(signToken(TEST_SECRET, ''), opts)), 'invalid_user');
});

test('the server API key is compared whole, and only as ApiKey', () => {
  const key = 'k'.repeat(40);
  assert.equal(isServerApiKey(`ApiKey ${key}`, key), true);
  assert.equal(isServerApiKey(`ApiKey ${key}x`, key), false);
  assert.equal(isServerApiKey(`Bearer ${key}`, key), false);
  assert.equal(isServerApiKey(`ApiKey ${key}`, undefined), false);
  assert.equal(isServerApiKey(undefined, key), false);
});
