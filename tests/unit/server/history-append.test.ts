import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendMsgId, fullLimitOf } from '../../../server/src/history.js';
import { settingsDiff, streamSettings } from '../../../server/src/nats-setup.js';
import { loadConfig } from '../../../server/src/config.js';

test('a full stream is told apart from other store failures (nats-server 10077 texts)', () => {
  assert.equal(fullLimitOf('maximum messages per subject exceeded'), 'per_subject');
  assert.equal(fullLimitOf('maximum bytes exceeded'), 'stream');
  assert.equal(fullLimitOf('maximum messages exceeded'), 'stream');
  assert.equal(fullLimitOf('message size exceeds maximum allowed'), undefined);
});

test('the Nats-Msg-Id: a retry is the same id; another recipient or other data is not; no client id, always fresh', () => {
  const a = appendMsgId('inbox.bob', { n: 1 }, 'anne:c1');
  assert.equal(appendMsgId('inbox.bob', { n: 1 }, 'anne:c1'), a);
  assert.notEqual(appendMsgId('inbox.carl', { n: 1 }, 'anne:c1'), a);
  assert.notEqual(appendMsgId('inbox.bob', { n: 2 }, 'anne:c1'), a);
  assert.notEqual(appendMsgId('inbox.bob', { n: 1 }, 'bert:c1'), a);
  assert.notEqual(appendMsgId('inbox.bob', { n: 1 }, undefined), appendMsgId('inbox.bob', { n: 1 }, undefined));
});

test('stream settings refuse rather than evict, and an older stream\'s differences are named', () => {
  const config = loadConfig({ SERVER_ID: 's1', NATS_URLS: 'nats://127.0.0.1:4222', AUTH_SECRET: 'x'.repeat(32), HISTORY_MAX_AGE_SEC: '60', HISTORY_DUPLICATE_WINDOW_SEC: '600' });
  const wanted = streamSettings(config, 3);
  assert.equal(wanted.discard, 'new');
  assert.equal(wanted.discard_new_per_subject, true);
  assert.equal(wanted.duplicate_window, 60 * 1e9, 'the duplicate window never exceeds the max age (nats-server refuses that)');
  const diff = settingsDiff({ ...wanted, discard: 'old', discard_new_per_subject: undefined }, wanted);
  assert.deepEqual(diff, ['discard: "old" -> "new"', 'discard_new_per_subject: undefined -> true']);
  assert.deepEqual(settingsDiff(wanted, wanted), []);
});
