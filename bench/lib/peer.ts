/**
 * The Socket.IO peers: N server processes (bench/servers/socketio.ts) sharing one Redis, with the
 * Redis (pub/sub) adapter or the Redis Streams adapter and connection state recovery.
 */
import { freePort, waitFor } from '../../tests/support/ports.js';
import { BENCH_LOGS } from './paths.js';
import { bundlePath } from './build.js';
import { startProcess, type ManagedProcess } from '../../tests/support/processes.js';
import type { Redis } from './redis.js';

export interface SocketIoPeer {
  /** http://127.0.0.1:<port> per process */
  readonly urls: string[];
  readonly procs: ManagedProcess[];
  stop(): Promise<void>;
}

export type SocketIoAdapter = 'pubsub' | 'streams';

export async function startSocketIoPeer(redis: Redis, processes: number, adapter: SocketIoAdapter = 'pubsub'): Promise<SocketIoPeer> {
  const procs: ManagedProcess[] = [];
  const urls: string[] = [];
  try {
    for (let i = 1; i <= processes; i++) {
      const port = await freePort();
      const proc = startProcess(`bench-socketio-${adapter}-${i}`, process.execPath, [bundlePath('servers/socketio')], { PORT: String(port), REDIS_URL: redis.url, NODE_ID: `sio${i}`, ADAPTER: adapter }, BENCH_LOGS);
      procs.push(proc);
      const url = `http://127.0.0.1:${port}`;
      await waitFor(`socket.io process ${i}`, async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).status === 200, 15_000, 50);
      urls.push(url);
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)));
    throw err;
  }
  return { urls, procs, stop: async () => { await Promise.all(procs.map((p) => p.stop(3000))); } };
}
