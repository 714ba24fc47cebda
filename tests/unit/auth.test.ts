import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSigner } from 'fast-jwt';
import { AuthError, verifyToken } from '../../server/src/auth.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';

const secret = new TextEncoder().encode(TEST_SECRET);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuthError, `not an AuthError: ${String(err)}`);
    return err.code;
  }
  assert.fail('no error thrown');
}

test('a valid HS256 token gives its subject and admin flag', async () => {
  assert.deepEqual(verifyToken(await mintToken(TEST_SECRET, 'anne'), secret), { userId: 'anne', admin: false });
  assert.deepEqual(verifyToken(await mintToken(TEST_SECRET, 'root', { admin: true }), secret), { userId: 'root', admin: true });
});

test('expired, forged, wrong-algorithm, unsigned and malformed tokens are refused with a code', async () => {
  assert.equal(codeOf(() => verifyToken('', secret)), 'invalid_token');
  assert.equal(codeOf(() => verifyToken('not.a.jwt', secret)), 'invalid_token');
  const expired = await mintToken(TEST_SECRET, 'anne', { expiresInSec: -60 });
  assert.equal(codeOf(() => verifyToken(expired, secret)), 'expired_token');
  const forged = await mintToken('another-secret-another-secret-another', 'anne');
  assert.equal(codeOf(() => verifyToken(forged, secret)), 'invalid_token');
  const now = Math.floor(Date.now() / 1000);
  const hs512 = createSigner({ key: TEST_SECRET, algorithm: 'HS512' })({ sub: 'anne', exp: now + 60 });
  assert.equal(codeOf(() => verifyToken(hs512, secret)), 'invalid_token');
  const unsigned = createSigner({ algorithm: 'none' })({ sub: 'anne', exp: now + 60 });
  assert.equal(codeOf(() => verifyToken(unsigned, secret)), 'invalid_token');
  const notYet = createSigner({ key: TEST_SECRET, algorithm: 'HS256' })({ sub: 'anne', nbf: now + 600, exp: now + 900 });
  assert.equal(codeOf(() => verifyToken(notYet, secret)), 'invalid_token');
});

test('a subject that could not be a subject token is refused', async () => {
  assert.equal(codeOf(() => verifyToken(createSigner({ key: TEST_SECRET })({ sub: 'a.b' }), secret)), 'invalid_user');
  assert.equal(codeOf(() => verifyToken(createSigner({ key: TEST_SECRET })({ sub: 'x>' }), secret)), 'invalid_user');
  const empty = await mintToken(TEST_SECRET, '');
  assert.equal(codeOf(() => verifyToken(empty, secret)), 'invalid_user');
});
