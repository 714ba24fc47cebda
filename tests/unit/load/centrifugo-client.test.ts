/**
 * load/peers/centrifugo-client.ts against a scripted server speaking Centrifugo's JSON protocol (the
 * frames as client.proto names them): the connect carries the personal channel's position after a
 * drop, rooms are subscribed again from theirs, a repeated offset is dropped, pings are answered,
 * and a refused connect is an auth error without a reconnect. Bench figure 7 runs it against the
 * real Centrifugo.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { CentrifugoLoadClient, centrifugoUrl, tokenSubject } from '../../../load/peers/centrifugo-client.js';
import type { FleetMessage } from '../../../client/src/index.js';
import { waitFor } from '../../support/ports.js';

type Frame = Record<string, unknown> & { id?: number };

function jwt(sub: string): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part({ sub })}.sig`;
}

describe('the load runner\'s Centrifugo client', () => {
  let wss: WebSocketServer;
  let url: string;
  const received: Frame[] = [];
  const sockets: WebSocket[] = [];
  /** What the scripted server answers to a connect or subscribe, by channel. */
  let onFrame: (ws: WebSocket, f: Frame) => void = () => undefined;

  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/connection/websocket' });
    await new Promise<void>((r) => { wss.once('listening', () => { r(); }); });
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
    wss.on('connection', (ws) => {
      sockets.push(ws);
      ws.on('message', (raw: Buffer) => {
        for (const line of raw.toString().split('\n')) {
          const f = JSON.parse(line) as Frame;
          received.push(f);
          onFrame(ws, f);
        }
      });
    });
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => { wss.close(r); });
  });

  it('reads the user from the token and maps the balancer\'s /ws to /connection/websocket', () => {
    assert.equal(tokenSubject(jwt('ann')), 'ann');
    assert.throws(() => tokenSubject('nope'), /not a JWT/);
    assert.equal(centrifugoUrl('ws://127.0.0.1:9/ws'), 'ws://127.0.0.1:9/connection/websocket');
  });

  it('recovers the personal channel in the connect and rooms by subscribe after a drop; a repeated offset is dropped', async () => {
    received.length = 0;
    let connects = 0;
    onFrame = (ws, f) => {
      const send = (o: unknown): void => { ws.send(JSON.stringify(o)); };
      if (f.connect !== undefined) {
        connects += 1;
        const recovering = connects > 1;
        send({ id: f.id, connect: { client: `c${connects}`, subs: { 'personal:#ann': { recoverable: true, epoch: 'E1', offset: recovering ? 3 : 1, ...(recovering ? { recovered: true, publications: [{ data: { n: 1 }, offset: 1 }, { data: { n: 3 }, offset: 3 }] } : {}) } } } });
        ws.send('{}'); // a ping
      } else if (f.subscribe !== undefined) {
        const sub = f.subscribe as { recover?: boolean; offset?: number };
        send({ id: f.id, subscribe: { recoverable: true, epoch: 'R1', offset: sub.recover === true ? 6 : 5, ...(sub.recover === true ? { recovered: true, publications: [{ data: { n: 6 }, offset: 6 }] } : {}) } });
        if (sub.recover !== true) {
          send({ push: { channel: 'personal:#ann', pub: { data: { n: 2 }, offset: 2 } } });
          send({ push: { channel: 'room:lobby', pub: { data: { n: 5 }, offset: 5 } } }); // at the position: a repeat
        }
      } else if (f.publish !== undefined) send({ id: f.id, publish: {} });
    };
    const client = new CentrifugoLoadClient({ url, token: () => jwt('ann'), connectTimeoutMs: 2000 });
    const messages: FleetMessage[] = [];
    const resumed: number[] = [];
    client.on('message', (m) => { messages.push(m); });
    client.on('resumed', (r) => { resumed.push(r.pending); });
    await client.connect();
    await client.join('lobby');
    assert.deepEqual(await client.publish('lobby', { hi: 1 }), { type: 'ack', id: '3', stored: true });
    await waitFor('the live one', () => messages.length === 1, 2000, 10);
    assert.deepEqual(client.resumePositions, { inbox: 2, rooms: { lobby: 5 }, epochs: { '': 'E1', lobby: 'R1' } });
    // The server drops the socket: the client reconnects with the inbox position and resubscribes the room.
    sockets[sockets.length - 1]?.terminate();
    await waitFor('the reconnect', () => connects === 2 && messages.length === 3, 5000, 10);
    const connect = received.filter((f) => f.connect !== undefined)[1]?.connect as { subs?: unknown };
    assert.deepEqual(connect.subs, { 'personal:#ann': { recover: true, offset: 2, epoch: 'E1' } });
    const resub = received.filter((f) => f.subscribe !== undefined)[1]?.subscribe;
    assert.deepEqual(resub, { channel: 'room:lobby', recover: true, offset: 5, epoch: 'R1' });
    // Offsets 1 and 2 were had: only 3 from the connect, then 6 from the room.
    assert.deepEqual(messages.map((m) => [m.data, m.seq, m.room, m.replayed]), [
      [{ n: 2 }, 2, undefined, undefined], [{ n: 3 }, 3, undefined, true], [{ n: 6 }, 6, 'lobby', true],
    ]);
    assert.ok(received.some((f) => Object.keys(f).length === 0), 'the ping was answered');
    assert.deepEqual(resumed.slice(-1), [0]);
    await client.close();
  });

  it('a publish whose socket drops is rejected socket_closed; a refused connect is an auth error and no reconnect', async () => {
    let connects = 0;
    onFrame = (ws, f) => {
      if (f.connect !== undefined) {
        connects += 1;
        ws.send(JSON.stringify(connects === 1 ? { id: f.id, connect: { client: 'c' } } : { id: f.id, error: { code: 109, message: 'token expired' } }));
      } else if (f.publish !== undefined) ws.terminate();
    };
    const client = new CentrifugoLoadClient({ url, token: () => jwt('bo'), connectTimeoutMs: 2000 });
    await client.connect();
    await assert.rejects(client.send('ann', { x: 1 }), (err: { code?: string }) => err.code === 'socket_closed');
    const refused = new CentrifugoLoadClient({ url, token: () => jwt('cy'), connectTimeoutMs: 2000 });
    await assert.rejects(refused.connect(), (err: { code?: string }) => err.code === 'auth');
    await client.close();
    const before = connects;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(connects, before, 'no reconnect after the refusal or after close()');
  });
});
