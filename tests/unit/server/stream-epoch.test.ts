/**
 * The streams' epoch: the same creation times give the same epoch on every replica, a recreated
 * stream a new one, and a position of another epoch starts from the beginning, marked lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EPOCH_RULE, positionIn, streamEpoch } from '../../../server/src/stream-epoch.js';

const INBOX_CREATED = '2026-12-02T16:59:01.123456789Z';
const ROOMS_CREATED = '2026-12-02T16:59:01.223456789Z';

describe('stream epoch', () => {
  it('is a function of the streams\' creation times, and fits its own wire rule', () => {
    const epoch = streamEpoch([INBOX_CREATED, ROOMS_CREATED]);
    assert.equal(streamEpoch([INBOX_CREATED, ROOMS_CREATED]), epoch, 'every replica computes the same');
    assert.match(epoch, EPOCH_RULE);
    assert.notEqual(streamEpoch(['2026-12-02T16:59:01.123456790Z', ROOMS_CREATED]), epoch, 'one stream recreated a nanosecond later: a new epoch');
    assert.notEqual(streamEpoch([INBOX_CREATED, '2026-12-03T00:00:00Z']), epoch, 'the rooms stream recreated: a new epoch');
    assert.notEqual(streamEpoch([ROOMS_CREATED, INBOX_CREATED]), epoch, 'the order is part of it');
  });

  it('a position of this epoch, or of none (a client before epochs), is taken as it is; one of another epoch starts at 0, lost', () => {
    assert.deepEqual(positionIn('E1', 42, 'E1'), { after: 42, lost: false });
    assert.deepEqual(positionIn('E1', 42, undefined), { after: 42, lost: false });
    assert.deepEqual(positionIn('E2', 42, 'E1'), { after: 0, lost: true });
  });

  it('the wire rule refuses what is not an epoch', () => {
    for (const bad of ['', 'a b', 'x'.repeat(65), 'é', 'a/b', 'a.b']) assert.equal(EPOCH_RULE.test(bad), false, JSON.stringify(bad));
  });
});
