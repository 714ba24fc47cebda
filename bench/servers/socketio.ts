/**
 * The peer: a Socket.IO server with a Redis adapter, as users would build the same product
 * (direct messages to a user's room, room publish), one of N processes sharing one Redis.
 * Env: PORT, REDIS_URL, NODE_ID, ADAPTER:
 *  - `pubsub` (default): @socket.io/redis-adapter over Redis pub/sub, at most once;
 *  - `streams`: @socket.io/redis-streams-adapter (every broadcast XADDed to one Redis stream, read by
 *    every process) with Socket.IO's connection state recovery: a client that reconnects within
 *    maxDisconnectionDuration gets the packets it missed, the recovery-capable peer of ws-fleet's
 *    durable path.
 * Clients connect with auth {user}; websocket transport only.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Server, type ServerOptions } from 'socket.io';

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL ?? '';
const nodeId = process.env.NODE_ID ?? 'sio';
if (!Number.isInteger(port) || port <= 0) throw new Error(`PORT must be a port number (got ${String(process.env.PORT)})`);
const adapterKind = process.env.ADAPTER ?? 'pubsub';
if (!redisUrl.startsWith('redis://')) throw new Error(`REDIS_URL must be redis://host:port (got ${JSON.stringify(redisUrl)})`);
if (adapterKind !== 'pubsub' && adapterKind !== 'streams') throw new Error(`ADAPTER must be pubsub or streams (got ${JSON.stringify(adapterKind)})`);

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
pub.on('error', (err: unknown) => { console.error('redis pub error', err); });
sub.on('error', (err: unknown) => { console.error('redis sub error', err); });
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  }
});
const options: Partial<ServerOptions> = adapterKind === 'streams'
  ? { adapter: createStreamsAdapter(pub), connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } }
  : { adapter: createAdapter(pub, sub) };
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, ...options });

type Ack = (reply: { ok: boolean }) => void;
const isAck = (f: unknown): f is Ack => typeof f === 'function';

io.on('connection', (socket) => {
  const auth = socket.handshake.auth as { user?: unknown };
  const user = typeof auth.user === 'string' ? auth.user : 'anonymous';
  void socket.join(`u:${user}`);
  socket.emit('welcome', { server: nodeId, user });
  socket.on('send', (frame: { to?: unknown; data?: unknown }, ack: unknown) => {
    if (typeof frame.to === 'string') io.to(`u:${frame.to}`).emit('message', { from: user, data: frame.data, ts: Date.now() });
    if (isAck(ack)) ack({ ok: true });
  });
  socket.on('join', (room: unknown, ack: unknown) => {
    if (typeof room === 'string') void socket.join(`r:${room}`);
    if (isAck(ack)) ack({ ok: true });
  });
  socket.on('publish', (frame: { room?: unknown; data?: unknown }, ack: unknown) => {
    if (typeof frame.room === 'string') io.to(`r:${frame.room}`).emit('message', { room: frame.room, from: user, data: frame.data, ts: Date.now() });
    if (isAck(ack)) ack({ ok: true });
  });
});
http.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  void io.close();
  process.exit(0);
});
