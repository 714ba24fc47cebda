import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { connectClient } from '../../support/ws-client.js';

describe('test client: request', () => {
  let wss: WebSocketServer;
  let url = '';
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => { wss.once('listening', resolve); });
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    // Answers the first try of an id with an error, every later one with an ack: a server that
    // says store_unavailable and then stores the retry.
    wss.on('connection', (ws) => {
      const tries = new Map<string, number>();
      ws.send(JSON.stringify({ type: 'welcome' }));
      ws.on('message', (raw: Buffer) => {
        const frame = JSON.parse(raw.toString('utf8')) as { id: string };
        const n = (tries.get(frame.id) ?? 0) + 1;
        tries.set(frame.id, n);
        ws.send(JSON.stringify(n === 1 ? { type: 'error', code: 'store_unavailable', id: frame.id } : { type: 'ack', id: frame.id, try: n }));
      });
    });
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => { wss.close(() => { resolve(); }); });
  });

  it('a retry with the same id waits for its own answer, not the earlier attempt\'s', async () => {
    const c = await connectClient(url);
    const first = await c.request({ type: 'send', id: 'same' }, 2000);
    assert.equal(first.type, 'error');
    const retry = await c.request({ type: 'send', id: 'same' }, 2000);
    assert.deepEqual(retry, { type: 'ack', id: 'same', try: 2 });
    await c.close();
  });
});
