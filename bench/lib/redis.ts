/** A private redis-server for the Socket.IO peer (Debian's package; bench/run.sh installs it when missing). */
import { connect } from 'node:net';
import { freePort, waitFor } from '../../tests/support/ports.js';
import { BENCH_LOGS } from './paths.js';
import { startProcess, type ManagedProcess } from '../../tests/support/processes.js';

export interface Redis {
  readonly url: string;
  readonly proc: ManagedProcess;
  stop(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
    s.once('connect', () => { s.write('PING\r\n'); });
    s.once('data', (d: Buffer) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.once('error', () => { resolve(false); });
  });
}

export async function startRedis(): Promise<Redis> {
  const port = await freePort();
  // No persistence: a cache-like pub/sub hub, which is how the Socket.IO adapter uses it.
  const proc = startProcess('bench-redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {}, BENCH_LOGS);
  const early = proc.exited.then((code) => {
    throw new Error(`redis-server exited with ${String(code)} (is it installed? bench/run.sh installs Debian's redis-server); see ${proc.logFile}`);
  });
  early.catch(() => undefined);
  await Promise.race([waitFor('redis-server answering PING', () => ping(port), 10_000, 50), early]);
  return { url: `redis://127.0.0.1:${port}`, proc, stop: async () => { await proc.stop(3000); } };
}
