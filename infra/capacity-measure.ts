/**
 * Measures what one idle WebSocket costs a replica, for infra/capacity.ts:
 *
 *   npm run build:server && node --import tsx infra/capacity-measure.ts [connections=2000]
 *
 * Starts one real nats-server (JetStream) and the server bundle exactly as the image runs it
 * (`node server/.image/server.mjs`), opens 200 warm-up connections (JIT, pools and buffers reach their
 * steady size), reads the replica's resident set (VmRSS), opens `connections` more idle authenticated
 * connections (each its own user, as real clients), waits for the heap to settle and reads VmRSS again.
 * Prints the baseline and (RSS after − RSS before) / connections. Loopback only; bounded in time.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startNatsCluster } from '../tests/support/nats-cluster.js';
import { freePort, waitFor } from '../tests/support/ports.js';
import { startProcess } from '../tests/support/processes.js';
import { signToken, TEST_SECRET } from '../tests/support/tokens.js';
import { projectRoot } from './paths.js';

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

async function openIdle(url: string, users: string[]): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < users.length; i += 100) {
    const batch = users.slice(i, i + 100).map(
      (user) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, { headers: { authorization: `Bearer ${signToken(TEST_SECRET, user)}` } });
          const timer = setTimeout(() => { reject(new Error(`no welcome for ${user}`)); }, 15_000);
          ws.once('message', () => { clearTimeout(timer); resolve(ws); });
          ws.once('error', (err) => { clearTimeout(timer); reject(err); });
        }),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const bundle = path.join(projectRoot, 'server', '.image', 'server.mjs');
  if (!fs.existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build:server first`);
  const nats = await startNatsCluster({ nodes: 1, name: 'capacity' });
  const port = await freePort();
  const proc = startProcess('capacity-replica', process.execPath, [bundle], {
    SERVER_ID: 'capacity-1',
    PORT: String(port),
    HOST: '127.0.0.1',
    NATS_URLS: nats.urls.join(','),
    NATS_USER: nats.user,
    NATS_PASSWORD: nats.password,
    AUTH_SECRET: TEST_SECRET,
    MAX_CONNECTIONS: String(n + 1000),
    HISTORY_MAX_BYTES: String(64 * 1024 * 1024),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  });
  const sockets: WebSocket[] = [];
  try {
    await waitFor('replica ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, 100);
    const url = `ws://127.0.0.1:${port}/ws`;
    sockets.push(...(await openIdle(url, Array.from({ length: 200 }, (_, i) => `warm-${i}`))));
    await new Promise((r) => setTimeout(r, 5000));
    const pid = proc.child.pid;
    if (pid === undefined) throw new Error("replica has no pid");
    const before = rssBytes(pid);
    sockets.push(...(await openIdle(url, Array.from({ length: n }, (_, i) => `idle-${i}`))));
    await new Promise((r) => setTimeout(r, 8000));
    const after = rssBytes(pid);
    const perConnection = (after - before) / n;
    console.log(JSON.stringify({ connections: n, baselineRssMiB: +(before / 2 ** 20).toFixed(1), afterRssMiB: +(after / 2 ** 20).toFixed(1), perConnectionBytes: Math.round(perConnection) }));
  } finally {
    for (const ws of sockets) ws.terminate();
    await proc.stop(5000);
    await nats.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
