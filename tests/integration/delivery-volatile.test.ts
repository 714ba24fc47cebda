/**
 * The volatile class of direct messages (DIRECT_DELIVERY=volatile) on real replicas and a real NATS
 * cluster: delivered across replicas with one publish to `server.<id>` and no reply, never stored (no
 * seq, nothing in the inbox stream, nothing to resume), and acknowledged with `stored: false`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import { waitFor } from '../support/ports.js';
import { TEST_SECRET, TEST_SERVER_API_KEY, mintToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';

let fleet: ProcessFleet;
const open: TestClient[] = [];

async function client(replica: number, user: string, query = ''): Promise<TestClient> {
  const r = fleet.replicas[replica - 1] ?? assert.fail(`replica ${replica}`);
  const c = await connectClient(`${r.wsUrl}?token=${await mintToken(TEST_SECRET, user)}${query}`);
  open.push(c);
  return c;
}

async function presentOn(user: string, count: number): Promise<void> {
  const kv = await new Kvm(fleet.observer).open('wsf_presence');
  await waitFor(`${user} in presence ${count}×`, async () => {
    let n = 0;
    for await (const _ of await kv.keys(`${user}.*`)) n += 1;
    return n === count;
  });
}

/**
 * Sends until the sender's replica routes to the recipient: its presence view learns of a new socket
 * through its KV watch, which can trail the stored entry by more than a moment on a loaded machine
 * (seen in CI). A volatile send it cannot route is dropped, published nowhere (at most once), so an
 * attempt that was not routed leaves nothing behind to count.
 */
async function untilRouted<T>(send: () => Promise<T>, routed: (r: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await send();
    if (routed(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function inboxMessages(user: string): Promise<number> {
  const jsm = await jetstreamManager(fleet.observer);
  const info = await jsm.streams.info('WSF_INBOX', { subjects_filter: `inbox.${user}` }).catch(() => null);
  return Object.values(info?.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

describe('volatile direct messages (DIRECT_DELIVERY=volatile)', { timeout: 120_000 }, () => {
  before(async () => { fleet = await startProcessFleet(2, { DIRECT_DELIVERY: 'volatile' }); });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('reach a user on another replica with one publish and no reply; never stored, no seq', async () => {
    const requests: { subject: string; reply: string | undefined }[] = [];
    const sub = fleet.observer.subscribe('server.>', { callback: (_e, m) => { requests.push({ subject: m.subject, reply: m.reply === '' ? undefined : m.reply }); } });
    const anne = await client(1, 'v_anne');
    const bob = await client(2, 'v_bob');
    await presentOn('v_bob', 1);
    const ack = await untilRouted(() => anne.request({ type: 'send', to: 'v_bob', data: { n: 1 } }), (a) => a.forwarded !== 0);
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    assert.equal(ack.stored, false);
    assert.equal(ack.seq, undefined);
    assert.equal(ack.delivered, 0, "delivered counts this replica's sockets: the other replica is not asked");
    assert.equal(ack.forwarded, 1, 'published to the one other replica holding bob');
    const msg = await bob.next((f) => f.type === 'message', 3000, 'message for bob');
    assert.deepEqual(msg.data, { n: 1 });
    assert.equal(msg.seq, undefined, 'a volatile message has no seq');
    await fleet.observer.flush();
    sub.unsubscribe();
    assert.deepEqual(requests, [{ subject: 'server.r2', reply: undefined }], 'one publish, to the replica holding bob, without a reply subject');
    assert.equal(await inboxMessages('v_bob'), 0, 'nothing in the inbox stream');
  });

  it('a local recipient counts as delivered; an absent one gets nothing, not even after a resume', async () => {
    const carol = await client(1, 'v_carol');
    const dave = await client(1, 'v_dave');
    const local = await carol.request({ type: 'send', to: 'v_dave', data: 'here' });
    assert.deepEqual([local.type, local.delivered, local.stored], ['ack', 1, false]);
    assert.equal((await dave.next((f) => f.type === 'message', 3000)).data, 'here');
    await dave.close();
    const away = await carol.request({ type: 'send', to: 'v_dave', data: 'while away' });
    assert.deepEqual([away.type, away.delivered, away.stored, away.forwarded], ['ack', 0, false, 0]);
    const back = await client(2, 'v_dave', '&resume=0');
    await back.next((f) => f.type === 'replayed', 3000, 'the (empty) replay');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(back.frames.filter((f) => f.type === 'message').length, 0, 'at most once: nothing kept for a later connection');
  });

  it('the HTTP API sends volatile too: 202 with stored false', async () => {
    const erin = await client(2, 'v_erin');
    await presentOn('v_erin', 1);
    const res = await untilRouted(() => fetch(`${fleet.replicas[0]?.url ?? ''}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `ApiKey ${TEST_SERVER_API_KEY}` },
      body: JSON.stringify({ to: 'v_erin', data: 'over http' }),
    }), (r) => r.status !== 404);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 202, JSON.stringify(body));
    assert.deepEqual([body.stored, body.delivered, body.forwarded], [false, 0, 1]);
    assert.equal((await erin.next((f) => f.type === 'message', 3000)).data, 'over http');
  });
});
