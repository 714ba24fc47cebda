/**
 * NATS failures are told apart by nats.js's own classes and codes, whatever their text says: the
 * errors here are built the way nats.js builds them (JetStreamApiError from the API's error body,
 * RequestError wrapping NoRespondersError, TimeoutError), with messages that would mislead a
 * text match.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JetStreamApiCodes, JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { ServerErrorCodes, isApiError, isNoMessage, isNoResponders, isTransient, wrongLastSequence } from '../../../server/src/nats-errors.js';

const api = (code: number, errCode: number, description: string): JetStreamApiError => new JetStreamApiError({ code, err_code: errCode, description });

test('a lost conditional append is recognised by its JetStreamApiCodes, and whether the refusal names the tail', () => {
  assert.deepEqual(wrongLastSequence(api(400, JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 12')), { tailNamed: true, description: 'wrong last sequence: 12' });
  assert.deepEqual(wrongLastSequence(api(400, JetStreamApiCodes.StreamWrongLastSequenceUnknown, 'wrong last sequence')), { tailNamed: false, description: 'wrong last sequence' });
  assert.equal(wrongLastSequence(api(400, ServerErrorCodes.StreamStoreFailed, 'wrong last sequence: 12')), undefined, 'the code decides, not the text');
  assert.equal(wrongLastSequence(new Error('wrong last sequence: 12')), undefined);
});

test('store failures and in-flight duplicates by their server codes', () => {
  assert.equal(isApiError(api(503, ServerErrorCodes.StreamStoreFailed, 'maximum messages per subject exceeded'), ServerErrorCodes.StreamStoreFailed), true);
  assert.equal(isApiError(api(503, ServerErrorCodes.DuplicateMessageInFlight, 'duplicate message id is in process'), ServerErrorCodes.StreamStoreFailed), false);
  assert.equal(isApiError(new Error('store failed'), ServerErrorCodes.StreamStoreFailed), false);
});

test('no responders: RequestError.isNoResponders(), also as the cause of a JetStream error', () => {
  const noResponders = new RequestError('no responders', { cause: new NoRespondersError('server.r2') });
  assert.equal(isNoResponders(noResponders), true);
  assert.equal(isNoResponders(new JetStreamError('jetstream is not enabled', { cause: noResponders })), true);
  assert.equal(isNoResponders(new Error('503 no responders available')), false, 'text alone is not enough');
  assert.equal(isNoResponders(new RequestError('connection closed')), false);
});

test('transient: timeouts, requests that got no answer, a temporarily unavailable API; not a refusal', () => {
  assert.equal(isTransient(new TimeoutError()), true);
  assert.equal(isTransient(new JetStreamError('jetstream is not enabled', { cause: new RequestError('', { cause: new NoRespondersError('$JS.API') }) })), true);
  assert.equal(isTransient(api(503, 10008, 'JetStream system temporarily unavailable')), true);
  assert.equal(isTransient(api(503, JetStreamApiCodes.JetStreamNotEnabledForAccount, 'jetstream not enabled for account')), true);
  assert.equal(isTransient(api(400, JetStreamApiCodes.StreamNotFound, 'timeout: stream not found')), false, 'a refusal whose text says timeout');
  assert.equal(isTransient(new Error('request timeout')), false);
});

test('the end of a direct-get batch: a 404 status, or NoMessageFound', () => {
  const status404 = Object.assign(new JetStreamError('message not found'), { code: 404 });
  assert.equal(isNoMessage(status404), true);
  assert.equal(isNoMessage(api(404, JetStreamApiCodes.NoMessageFound, 'no message found')), true);
  assert.equal(isNoMessage(Object.assign(new JetStreamError('message not found'), { code: 408 })), false);
  assert.equal(isNoMessage(new Error('message not found')), false);
});
