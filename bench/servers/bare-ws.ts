/**
 * The baseline: a bare `ws` server, no NATS, no presence, no auth, no history. It sends the same
 * welcome frame a replica sends, and for the fan-out workload it keeps room membership in a Set and
 * broadcasts each published message (serialized once) to every member: what one process does at
 * best for the same clients. Env: PORT (required), HOST (127.0.0.1).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT must be a port number (got ${String(process.env.PORT)})`);
const host = process.env.HOST ?? '127.0.0.1';

const rooms = new Map<string, Set<WebSocket>>();
let seq = 0;

const http = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 64 * 1024 });
http.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const user = new URL(req.url ?? '/', 'http://localhost').searchParams.get('user') ?? 'anonymous';
    const joined = new Set<string>();
    ws.send(JSON.stringify({ type: 'welcome', server: 'bare', user, conn: randomUUID() }));
    ws.on('message', (raw: Buffer) => {
      let frame: { type?: unknown; room?: unknown; data?: unknown; id?: unknown };
      try {
        frame = JSON.parse(raw.toString('utf8')) as typeof frame;
      } catch {
        return;
      }
      const room = typeof frame.room === 'string' ? frame.room : '';
      if (frame.type === 'join') {
        let members = rooms.get(room);
        if (members === undefined) rooms.set(room, (members = new Set()));
        members.add(ws);
        joined.add(room);
        ws.send(JSON.stringify({ type: 'ack', id: frame.id, room }));
      } else if (frame.type === 'publish') {
        const members = rooms.get(room) ?? new Set<WebSocket>();
        seq += 1;
        const text = JSON.stringify({ type: 'message', room, from: user, data: frame.data, ts: Date.now(), seq });
        for (const m of members) m.send(text);
        ws.send(JSON.stringify({ type: 'ack', id: frame.id, room, delivered: members.size }));
      } else if (frame.type === 'ping') {
        ws.send(JSON.stringify({ type: 'pong', id: frame.id }));
      }
    });
    ws.on('close', () => {
      for (const r of joined) rooms.get(r)?.delete(ws);
    });
    ws.on('error', () => undefined);
  });
});
http.listen(port, host);
process.on('SIGTERM', () => { process.exit(0); });
