import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastSequenceFromConflict } from '../../../server/src/history.js';

test("a refused conditional append names the subject's tail; anything else names none", () => {
  // The refusals nats.js names JetStreamApiCodes.StreamWrongLastSequence (the tail in the text) and
  // StreamWrongLastSequenceUnknown (no tail): nats-errors.ts tells them apart by code, this reads N.
  assert.equal(lastSequenceFromConflict('wrong last sequence: 4711'), 4711);
  assert.equal(lastSequenceFromConflict('wrong last sequence: 0'), 0);
  assert.equal(lastSequenceFromConflict('wrong last sequence'), undefined);
  assert.equal(lastSequenceFromConflict('wrong last sequence: 99999999999999999999'), undefined);
  assert.equal(lastSequenceFromConflict('stream not found'), undefined);
});
