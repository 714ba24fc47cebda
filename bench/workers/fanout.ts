/**
 * Fan-out worker: room members on ws-fleet replicas, on the bare ws server or on Socket.IO, as raw
 * WebSocket clients (bench/workers/raw-ws.ts) that only count frames once joined. It reports the
 * slowest member's count, which the bench uses for end-to-end flow control of the publishers.
 */
import { RawWsClient } from './raw-ws.js';
import { emit, serveWorker } from '../lib/worker-runtime.js';
import type { FanoutApi, FanoutCounts, FanoutProgress, FanoutSetup } from './fanout-api.js';
import { authQuery, mintHs256, withQuery } from './tokens.js';

let members: RawWsClient[] = [];
let reporter: NodeJS.Timeout | undefined;

/** ws-fleet and the bare server: welcome → join → ack. */
function joinPlain(url: string, room: string): Promise<RawWsClient> {
  return new Promise((resolve, reject) => {
    let client: RawWsClient | undefined;
    const timer = setTimeout(() => { client?.close(); reject(new Error('join: timeout')); }, 20_000);
    RawWsClient.open({
      url,
      onControlText: (text, self) => {
        const f = JSON.parse(text) as { type?: string; room?: string };
        if (f.type === 'welcome') self.sendText(JSON.stringify({ type: 'join', room, id: 'join' }));
        else if (f.type === 'ack' && f.room === room) {
          clearTimeout(timer);
          resolve(self);
        } else if (f.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`join refused: ${text}`));
        }
      },
    }).then((c) => { client = c; }, (err: unknown) => { clearTimeout(timer); reject(err instanceof Error ? err : new Error(String(err))); });
  });
}

/**
 * Socket.IO over Engine.IO v4 on a websocket: open packet "0{...}" → CONNECT "40{auth}" → "40{sid}"
 * → event `42["welcome",...]` → `420["join",room]` → ack `430[...]`. Events arrive as "42[...]".
 */
function joinSocketIo(base: string, user: string, room: string): Promise<RawWsClient> {
  const url = `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    let client: RawWsClient | undefined;
    const timer = setTimeout(() => { client?.close(); reject(new Error('socket.io join: timeout')); }, 20_000);
    RawWsClient.open({
      url,
      countPrefix: 0x34, // "4": a Socket.IO packet (the room's events), not an Engine.IO heartbeat
      engineIoPings: true,
      onControlText: (text, self) => {
        if (text.startsWith('0{')) self.sendText(`40${JSON.stringify({ user })}`);
        else if (text.startsWith('42["welcome"')) self.sendText(`420${JSON.stringify(['join', room])}`);
        else if (text.startsWith('430')) {
          clearTimeout(timer);
          resolve(self);
        } else if (text.startsWith('44')) {
          clearTimeout(timer);
          reject(new Error(`socket.io connect refused: ${text}`));
        }
      },
    }).then((c) => { client = c; }, (err: unknown) => { clearTimeout(timer); reject(err instanceof Error ? err : new Error(String(err))); });
  });
}

/**
 * Centrifugo's JSON protocol: connect `{"id":1,"connect":{token}}` → reply → subscribe
 * `{"id":2,"subscribe":{"channel":"room:<room>"}}` → reply; publications then arrive as pushes.
 */
function joinCentrifugo(url: string, token: string, room: string): Promise<RawWsClient> {
  return new Promise((resolve, reject) => {
    let client: RawWsClient | undefined;
    const timer = setTimeout(() => { client?.close(); reject(new Error('centrifugo join: timeout')); }, 20_000);
    RawWsClient.open({
      url,
      centrifugo: true,
      onControlText: (text, self) => {
        for (const line of text.split('\n')) {
          if (line === '{}') self.sendText('{}');
          else if (line.startsWith('{"id":1,"connect"')) self.sendText(JSON.stringify({ id: 2, subscribe: { channel: `room:${room}` } }));
          else if (line.startsWith('{"id":2,"subscribe"')) {
            clearTimeout(timer);
            resolve(self);
          } else if (line.includes('"error"')) {
            clearTimeout(timer);
            reject(new Error(`centrifugo refused: ${line}`));
          }
        }
      },
    }).then((c) => {
      client = c;
      c.sendText(JSON.stringify({ id: 1, connect: { token, name: 'bench' } }));
    }, (err: unknown) => { clearTimeout(timer); reject(err instanceof Error ? err : new Error(String(err))); });
  });
}

async function setup(s: FanoutSetup): Promise<{ members: number }> {
  members = [];
  for (let base = 0; base < s.members.length; base += 25) {
    members.push(...(await Promise.all(s.members.slice(base, base + 25).map(async (url, j) => {
      const user = `${s.userPrefix}${base + j}`;
      if (s.kind === 'socketio') return joinSocketIo(url, user, s.room);
      if (s.kind === 'centrifugo') return joinCentrifugo(url, mintHs256(s.secret, user), s.room);
      const query = s.kind === 'wsfleet' ? await authQuery({ kind: 'token', secret: s.secret }, user) : `user=${user}`;
      return joinPlain(withQuery(url, query), s.room);
    }))));
  }
  return { members: members.length };
}

function snapshot(): { min: number; total: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let total = 0;
  for (const m of members) {
    total += m.count;
    if (m.count < min) min = m.count;
    if (m.count > max) max = m.count;
  }
  return { min: Number.isFinite(min) ? min : 0, max, total };
}

/** The publish number (data.n) in a member's recent sample, -1 when unreadable. */
function sampleN(): number {
  const sample = members.find((m) => m.sample !== undefined)?.sample;
  if (sample === undefined) return 0;
  const m = /"n":(\d+)/.exec(sample.toString('utf8'));
  return m?.[1] === undefined ? -1 : Number(m[1]);
}

serveWorker<FanoutApi>({
  setup,
  start: (req) => {
    for (const m of members) {
      m.count = 0;
      m.counting = true;
    }
    reporter = setInterval(() => {
      const s = snapshot();
      emit({ worker: req.worker, min: s.min, total: s.total } satisfies FanoutProgress);
    }, req.reportEveryMs);
    return Promise.resolve({});
  },
  stop: () => {
    if (reporter !== undefined) clearInterval(reporter);
    for (const m of members) m.counting = false;
    const s = snapshot();
    const closedEarly = members.filter((m) => m.closed).length;
    return Promise.resolve({ ...s, lastN: sampleN(), closedEarly } satisfies FanoutCounts);
  },
  teardown: async () => {
    const n = members.length;
    for (const m of members) m.close();
    members = [];
    await new Promise((r) => setTimeout(r, 200));
    return { closed: n };
  },
});
