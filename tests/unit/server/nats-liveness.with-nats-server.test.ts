/**
 * A replica's NATS node goes silent (SIGSTOP on a real 3-node cluster: its sockets stay open and
 * nothing answers, as in a partition). nats.js's own pings are set to a minute here, so they cannot
 * be what notices: the ReplyInbox's slow request makes NatsLiveness probe the node, the probe gets
 * no PONG, the connection moves to a live node, the request in flight fails at once with a
 * ConnectionError (not at its deadline), and the same request sent again is answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionError, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { createLogger } from '../../../server/src/logger.js';
import { NatsLiveness, type ProbeOutcome } from '../../../server/src/nats-liveness.js';
import { isTransient } from '../../../server/src/nats-errors.js';
import { DIAL_TIMEOUT_MS, leastRecentlyDialled } from '../../../server/src/nats-setup.js';
import { ReplyInbox } from '../../../server/src/reply-inbox.js';
import { startNatsCluster, type NatsCluster } from '../../support/nats-cluster.js';

const log = createLogger('test', 'silent');
const enc = new TextEncoder();
let cluster: NatsCluster;
const conns: NatsConnection[] = [];
const SILENT = 2;

describe('NATS liveness: a silent node is left for a live one (real nats-server)', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startNatsCluster({ nodes: 3, name: `nl${process.pid}` });
  });
  after(async () => {
    cluster.resumeNode(SILENT);
    for (const nc of conns) await nc.close().catch(() => undefined);
    await cluster.stop();
  });

  it('the request in flight fails at once with a ConnectionError and its retry is answered, well before its deadline', async () => {
    const silentUrl = cluster.urls[SILENT] ?? '';
    const auth = { user: cluster.user, pass: cluster.password };
    // The responder, on a node that stays up.
    const responder = await connect({ servers: [cluster.urls[0] ?? ''], ...auth });
    conns.push(responder);
    responder.subscribe('svc.echo', { callback: (_err, msg) => { msg.respond(msg.data); } });
    await responder.flush();

    const nc = await connect({ servers: [silentUrl, ...cluster.urls.filter((u) => u !== silentUrl)], noRandomize: true, ...auth, pingInterval: 60_000, maxPingOut: 2, reconnectTimeWait: 100, maxReconnectAttempts: -1, timeout: DIAL_TIMEOUT_MS, reconnectToServer: leastRecentlyDialled });
    conns.push(nc);
    const hostPort = (url: string): string => url.replace(/^nats:\/\//, '');
    assert.equal(nc.getServer(), hostPort(silentUrl), 'connected to the node that will go silent');
    const probes: ProbeOutcome[] = [];
    const liveness = new NatsLiveness({ nc, log, onProbe: (o) => { probes.push(o); } });
    const inbox = ReplyInbox.started(nc, { onSlow: () => { liveness.suspect(); } });
    // Interest in svc.echo has reached the silent node from the responder's.
    for (let i = 0; i < 50; i++) {
      const ok = await inbox.request('svc.echo', enc.encode('warm'), 500).then(() => true, () => false);
      if (ok) break;
    }
    assert.equal((await inbox.request('svc.echo', enc.encode('up'), 2_000)).string(), 'up');

    cluster.pauseNode(SILENT);
    const deadlineMs = 8_000;
    const t0 = Date.now();
    const first = await inbox.request('svc.echo', enc.encode('hello'), deadlineMs).then(() => 'answered', (err: unknown) => err);
    const failedAfter = Date.now() - t0;
    assert.ok(first instanceof ConnectionError, `the request in flight failed with ${String(first)} after ${failedAfter} ms, not a ConnectionError`);
    assert.ok(isTransient(first), 'read as transient: the appends retry it');
    assert.ok(failedAfter < deadlineMs, `${failedAfter} ms`);
    assert.deepEqual(probes, ['silent']);
    // Sent again: published once nats.js is on a live node.
    const retry = await inbox.request('svc.echo', enc.encode('hello'), deadlineMs);
    const answeredAfter = Date.now() - t0;
    assert.equal(retry.string(), 'hello');
    assert.notEqual(nc.getServer(), hostPort(silentUrl));
    console.log(`silent node left: in-flight request failed after ${failedAfter} ms, its retry answered after ${answeredAfter} ms (deadline ${deadlineMs} ms)`);
    assert.ok(answeredAfter < deadlineMs, `${answeredAfter} ms`);
    inbox.stop();
  });
});
