/**
 * The ReplyInbox and the stream append over it, against a real nats-server: answers reach their
 * request, failures are the classes nats-errors.ts reads (no responders, timeout, closed), and a
 * stream's answers are read as nats.js reads them (seq, duplicate, refusals with their err_code).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { ClosedConnectionError, TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { isNoResponders, isTransient, wrongLastSequence } from '../../../server/src/nats-errors.js';
import { ReplyInbox } from '../../../server/src/reply-inbox.js';
import { appendToStream, parsePubAck } from '../../../server/src/stream-append.js';
import { startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';

let cluster: NatsCluster;
let nc: NatsConnection;
const enc = new TextEncoder();
const dec = new TextDecoder();

describe('reply inbox (real nats-server)', () => {
  before(async () => {
    cluster = await startNatsCluster({ nodes: 1, name: `ri${process.pid}` });
    nc = await connect({ servers: cluster.urls, user: cluster.user, pass: cluster.password });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'RI_TEST', subjects: ['ri.>'], allow_msg_ttl: true, duplicate_window: 60e9 });
  });
  after(async () => {
    await nc.close();
    await cluster.stop();
  });

  it('each answer reaches its own request, many in flight at once', async () => {
    nc.subscribe('echo', { callback: (_err, m) => { m.respond(m.data); } });
    await nc.flush();
    const inbox = ReplyInbox.started(nc);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => inbox.request('echo', enc.encode(`n${i}`), 2000)));
    assert.deepEqual(answers.map((m) => dec.decode(m.data)), Array.from({ length: 200 }, (_, i) => `n${i}`));
    assert.equal(inbox.inFlight, 0);
    inbox.stop();
  });

  it('nobody listening: a no-responders RequestError, read as transient; no answer: a TimeoutError by the deadline; stop: ClosedConnectionError', async () => {
    const inbox = ReplyInbox.started(nc, { sweepMs: 10 });
    const none = await inbox.request('nobody.here', enc.encode('x'), 2000).then(() => null, (err: unknown) => err);
    assert.ok(isNoResponders(none), `no responders: ${String(none)}`);
    assert.ok(isTransient(none));
    nc.subscribe('silent', { callback: () => undefined });
    await nc.flush();
    const started = Date.now();
    const timedOut = await inbox.request('silent', enc.encode('x'), 150).then(() => null, (err: unknown) => err);
    const took = Date.now() - started;
    assert.ok(timedOut instanceof TimeoutError, `timeout: ${String(timedOut)}`);
    assert.ok(took >= 150 && took < 1000, `failed at its deadline (${took} ms)`);
    const pending = inbox.request('silent', enc.encode('x'), 10_000).then(() => null, (err: unknown) => err);
    inbox.stop();
    assert.ok((await pending) instanceof ClosedConnectionError);
    assert.equal(inbox.inFlight, 0);
  });

  it('the requests of one turn go out together, each still answered; on a closed connection a request fails at once', async () => {
    const batched = ReplyInbox.started(nc);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => batched.request('echo', enc.encode(`b${i}`), 2000)));
    assert.deepEqual(answers.map((m) => dec.decode(m.data)), Array.from({ length: 50 }, (_, i) => `b${i}`));
    batched.stop();
    const own = await connect({ servers: cluster.urls, user: cluster.user, pass: cluster.password });
    const inbox = ReplyInbox.started(own);
    await own.close();
    const started = Date.now();
    const err = await inbox.request('echo', enc.encode('x'), 5000).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ClosedConnectionError, String(err));
    assert.ok(Date.now() - started < 1000, 'failed at once, not at its deadline');
    assert.equal(inbox.inFlight, 0);
    inbox.stop();
  });

  it('a late answer, after its request timed out, is dropped', async () => {
    const inbox = ReplyInbox.started(nc, { sweepMs: 10 });
    nc.subscribe('slow', { callback: (_err, m) => { setTimeout(() => { m.respond(m.data); }, 200); } });
    await nc.flush();
    const err = await inbox.request('slow', enc.encode('late'), 50).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof TimeoutError);
    const ok = await inbox.request('echo', enc.encode('next'), 2000);
    assert.equal(dec.decode(ok.data), 'next');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(inbox.inFlight, 0);
    inbox.stop();
  });

  it('stream appends: seq, a repeated Nats-Msg-Id answered duplicate, a wrong expected sequence refused with its code and the tail', async () => {
    const inbox = ReplyInbox.started(nc);
    const first = await appendToStream(inbox, 'ri.a', enc.encode('1'), { msgId: 'm1', expectLastSubjectSequence: 0, timeoutMs: 2000 });
    assert.deepEqual(first, { seq: 1, duplicate: false });
    // A retry reads the tail again first (history.ts), so it expects the seq its first attempt got.
    const again = await appendToStream(inbox, 'ri.a', enc.encode('1'), { msgId: 'm1', expectLastSubjectSequence: 1, timeoutMs: 2000 });
    assert.deepEqual(again, { seq: 1, duplicate: true });
    const ttl = await appendToStream(inbox, 'ri.a', enc.encode('2'), { msgId: 'm2', expectLastSubjectSequence: 1, ttlSec: 60, timeoutMs: 2000 });
    assert.equal(ttl.seq, 2);
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage('RI_TEST', { seq: 2 });
    assert.equal(stored?.header.get('Nats-TTL'), '60s');
    const refused = await appendToStream(inbox, 'ri.a', enc.encode('3'), { msgId: 'm3', expectLastSubjectSequence: 1, timeoutMs: 2000 }).then(() => null, (e: unknown) => e);
    assert.ok(refused instanceof JetStreamApiError);
    assert.equal(refused.code, JetStreamApiCodes.StreamWrongLastSequence);
    assert.deepEqual(wrongLastSequence(refused), { tailNamed: true, description: refused.message });
    assert.match(refused.message, /wrong last sequence: 2/);
    inbox.stop();
  });

  it('a PubAck that is not one is an error, not a seq', () => {
    assert.throws(() => parsePubAck(enc.encode('not json')), /invalid ack response/);
    assert.throws(() => parsePubAck(enc.encode('{"stream":"S"}')), /invalid ack response/);
    assert.deepEqual(parsePubAck(enc.encode('{"stream":"S","seq":7}')), { seq: 7, duplicate: false });
  });
});
