import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastSequenceFromConflict } from '../../server/src/history.js';

test("a refused conditional append names the subject's tail; anything else names none", () => {
  // nats-server's JSStreamWrongLastSequenceErrF (10071) and JSStreamWrongLastSequenceConstantErr (10164).
  assert.equal(lastSequenceFromConflict('wrong last sequence: 4711'), 4711);
  assert.equal(lastSequenceFromConflict('wrong last sequence: 0'), 0);
  assert.equal(lastSequenceFromConflict('wrong last sequence'), undefined);
  assert.equal(lastSequenceFromConflict('wrong last sequence: 99999999999999999999'), undefined);
  assert.equal(lastSequenceFromConflict('stream not found'), undefined);
});
