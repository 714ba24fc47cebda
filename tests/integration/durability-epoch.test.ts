/**
 * The streams' epoch (server/src/stream-epoch.ts): a position means something only in the
 * incarnation of the streams it was taken in. Streams deleted and created again (a fleet torn down
 * with its volumes, an operator's reset) restart their seqs, so a client, a room member or a stored
 * cursor that brings an old position is replayed the new streams from their start and told
 * `recovered: false`, instead of skipping the new messages whose seqs are at or below the old one.
 * One replica at a time on a 1-node NATS; the streams are recreated between two replicas' lives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import WebSocket from 'ws';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, mintToken } from '../support/tokens.js';
import { connectClient, type Frame, type TestClient } from '../support/ws-client.js';

let fleet: ProcessFleet;
const open: TestClient[] = [];

async function client(replica: Replica, user: string, query = ''): Promise<TestClient> {
  const c = await connectClient(`${replica.wsUrl}?token=${await mintToken(TEST_SECRET, user)}${query}`);
  open.push(c);
  return c;
}

/** An upgrade the replica refuses: its status and JSON body. */
async function refusal(replica: Replica, user: string, query: string): Promise<{ status: number; body: unknown }> {
  const url = `${replica.wsUrl}?token=${await mintToken(TEST_SECRET, user)}${query}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }); });
    });
    ws.on('open', () => { ws.close(); reject(new Error('the upgrade was accepted')); });
    ws.on('error', () => undefined);
  });
}

const messageSeqs = (c: TestClient, room?: string): number[] =>
  c.frames.filter((f) => f.type === 'message' && f.room === room).map((f) => f.seq as number);
const replayedOf = (c: TestClient, room?: string): Promise<Frame> =>
  c.next((f) => f.type === 'replayed' && f.room === room, 5000, `replayed${room === undefined ? '' : ` ${room}`}`);

async function sendAll(from: TestClient, to: string, texts: string[]): Promise<number[]> {
  const seqs: number[] = [];
  for (const text of texts) {
    const ack = await from.request({ type: 'send', to, data: text });
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    seqs.push(ack.seq as number);
  }
  return seqs;
}

describe('durability: the streams epoch', { timeout: 120_000 }, () => {
  let first: Replica;
  let second: Replica;
  let oldEpoch: string;
  let bobOld: number[];
  let lobbyOld: number;
  let doraOld: number;

  before(async () => {
    fleet = await startProcessFleet(1, {}, { natsNodes: 1 });
    const r1 = fleet.replicas[0];
    assert.ok(r1);
    first = r1;
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('the welcome names the epoch; a position of the same epoch resumes as before (recovered: true)', async () => {
    const anne = await client(first, 'anne');
    const bob = await client(first, 'bob');
    const dora = await client(first, 'dora');
    oldEpoch = String(anne.welcome.epoch);
    assert.match(oldEpoch, /^[A-Za-z0-9_-]{1,64}$/);
    assert.equal(bob.welcome.epoch, oldEpoch, 'one epoch for every connection to these streams');
    bobOld = await sendAll(anne, 'bob', ['b1', 'b2', 'b3', 'b4']);
    const doraSeqs = await sendAll(anne, 'dora', ['d1', 'd2']);
    doraOld = doraSeqs.at(-1) ?? 0;
    await dora.next((f) => f.type === 'message' && f.data === 'd2', 3000, 'd2');
    assert.equal((await anne.request({ type: 'join', room: 'lobby' })).type, 'ack');
    const publishes = [];
    for (const data of ['l1', 'l2', 'l3']) publishes.push(await anne.request({ type: 'publish', room: 'lobby', data }));
    lobbyOld = publishes.at(-1)?.seq as number;
    await bob.next((f) => f.type === 'message' && f.data === 'b4', 3000, 'b4');
    await bob.close();
    await dora.close(); // saves dora's cursor (seq d2, this epoch)

    const again = await client(first, 'bob', `&resume=${bobOld[1] ?? 0}&epoch=${oldEpoch}`);
    const replayed = await replayedOf(again);
    assert.deepEqual(messageSeqs(again), bobOld.slice(2));
    assert.equal(replayed.recovered, true);
    await again.close();
  });

  it('after the streams are recreated, a resume of the old epoch replays the new inbox from its start, recovered: false', async () => {
    await first.stop(3000);
    const jsm = await jetstreamManager(fleet.observer);
    await jsm.streams.delete('WSF_INBOX');
    await jsm.streams.delete('WSF_ROOMS');
    second = await fleet.addReplica('r2'); // creates the streams again at start-up
    const anne = await client(second, 'anne');
    assert.notEqual(anne.welcome.epoch, oldEpoch, 'new streams, new epoch');
    const fresh = await sendAll(anne, 'bob', ['n1', 'n2']);
    assert.ok((fresh.at(-1) ?? 0) <= (bobOld.at(-1) ?? 0), `the new seqs (${fresh.join(',')}) restart below the old position ${String(bobOld.at(-1))}`);

    const bob = await client(second, 'bob', `&resume=${bobOld.at(-1) ?? 0}&epoch=${oldEpoch}`);
    assert.equal(bob.welcome.epoch, anne.welcome.epoch);
    const replayed = await replayedOf(bob);
    assert.deepEqual(messageSeqs(bob), fresh, 'both new messages, though their seqs are at or below the old position');
    assert.equal(replayed.recovered, false, 'the old position could not be recovered: the client is told');

    // A client that names no epoch (before epochs) is taken at its word, as before: the new seqs are skipped.
    const legacy = await client(second, 'bob', `&resume=${bobOld.at(-1) ?? 0}`);
    assert.equal((await replayedOf(legacy)).recovered, true);
    assert.deepEqual(messageSeqs(legacy), []);

    // The position of this epoch resumes normally.
    const current = await client(second, 'bob', `&resume=${fresh[0] ?? 0}&epoch=${String(anne.welcome.epoch)}`);
    const currentReplay = await replayedOf(current);
    assert.deepEqual(messageSeqs(current), fresh.slice(1));
    assert.equal(currentReplay.recovered, true);
  });

  it('a stored cursor of the old epoch: the user\'s next connect replays the new inbox from its start', async () => {
    const anne = await client(second, 'anne');
    const fresh = await sendAll(anne, 'dora', ['n3']);
    assert.ok((fresh[0] ?? 0) <= doraOld, `the new seq ${String(fresh[0])} is at or below dora's stored cursor ${doraOld}`);
    const dora = await client(second, 'dora');
    const replayed = await replayedOf(dora);
    assert.deepEqual(messageSeqs(dora), fresh);
    assert.equal(replayed.recovered, false);
  });

  it('a room joined or resumed with a position of the old epoch replays the new room log from its start, recovered: false', async () => {
    const anne = await client(second, 'anne');
    assert.equal((await anne.request({ type: 'join', room: 'lobby' })).type, 'ack');
    const ack = await anne.request({ type: 'publish', room: 'lobby', data: 'fresh' });
    const freshSeq = ack.seq as number;
    assert.ok(freshSeq <= lobbyOld, `the new room seq ${freshSeq} is at or below the old position ${lobbyOld}`);

    const joiner = await client(second, 'erin');
    assert.equal((await joiner.request({ type: 'join', room: 'lobby', after: lobbyOld, epoch: oldEpoch })).type, 'ack');
    const joined = await replayedOf(joiner, 'lobby');
    assert.deepEqual(messageSeqs(joiner, 'lobby'), [freshSeq]);
    assert.equal(joined.recovered, false);

    const resumer = await client(second, 'fay');
    assert.equal((await resumer.request({ type: 'join', room: 'lobby' })).type, 'ack');
    assert.equal((await resumer.request({ type: 'resume', room: 'lobby', after: lobbyOld, epoch: oldEpoch })).type, 'ack');
    const resumed = await replayedOf(resumer, 'lobby');
    assert.deepEqual(messageSeqs(resumer, 'lobby'), [freshSeq]);
    assert.equal(resumed.recovered, false);
  });

  it('a malformed epoch is refused by name: 400 bad_resume on the URL, bad_frame on a frame', async () => {
    const refused = await refusal(second, 'gus', '&resume=3&epoch=not%20an%20epoch');
    assert.equal(refused.status, 400);
    assert.equal((refused.body as { error?: string }).error, 'bad_resume');
    assert.match(String((refused.body as { message?: string }).message), /epoch/);
    const gus = await client(second, 'gus');
    const answer = await gus.request({ type: 'resume', after: 1, epoch: 'x'.repeat(65) });
    assert.equal(answer.type, 'error');
    assert.equal(answer.code, 'bad_frame');
    assert.match(String(answer.message), /epoch/);
  });
});
