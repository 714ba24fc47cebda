/**
 * The Centrifugo peer: `nodes` Centrifugo v6 processes (built from its Go module into .ws-fleet/bin by
 * bench/run.sh: scripts/lib/bench-tools.sh) on the Redis engine, behind one HAProxy rendered by
 * loadbalancer/src like ws-fleet's. Channels as ws-fleet's product uses them, with history and
 * recovery on both, like for like with ws-fleet's durable path:
 *  - `personal:#<user>`: each user's personal channel, subscribed server-side on connect; any
 *    connected client may publish into it (a direct message);
 *  - `room:<name>`: rooms, subscribed and published by clients.
 * Clients speak Centrifugo's JSON protocol over /connection/websocket with an HS256 connection JWT.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from '../../tests/support/paths.js';
import { freePort, waitFor } from '../../tests/support/ports.js';
import { startProcess, type ManagedProcess } from '../../tests/support/processes.js';
import { startBalancers, type Balancers } from './fleet.js';
import { BENCH_LOGS } from './paths.js';
import type { Redis } from './redis.js';

/** Publications a channel keeps (Redis stream) and for how long: recovery after a short drop. */
const HISTORY = { history_size: 1000, history_ttl: '300s', force_recovery: true, force_positioning: true };

export interface CentrifugoPeer {
  /** ws://127.0.0.1:<port>/connection/websocket per node. */
  readonly nodeUrls: string[];
  /** The same through the HAProxy in front. */
  readonly balancedUrl: string;
  readonly procs: ManagedProcess[];
  readonly balancers: Balancers;
  pids(): number[];
  stop(): Promise<void>;
}

export function centrifugoBinary(): string {
  try {
    return findBinary('centrifugo', 'CENTRIFUGO_BIN');
  } catch {
    throw new Error('centrifugo not found in .ws-fleet/bin: bench/run.sh builds it (scripts/lib/bench-tools.sh), or point CENTRIFUGO_BIN at a v6 binary');
  }
}

export function centrifugoConfig(opts: { port: number; redisUrl: string; secret: string; prefix: string }): unknown {
  return {
    http_server: { address: '127.0.0.1', port: opts.port },
    log: { level: 'warn' },
    health: { enabled: true },
    engine: { type: 'redis', redis: { address: [opts.redisUrl], prefix: opts.prefix } },
    client: {
      token: { hmac_secret_key: opts.secret },
      allowed_origins: ['*'],
      subscribe_to_user_personal_channel: { enabled: true, personal_channel_namespace: 'personal' },
    },
    channel: {
      namespaces: [
        { name: 'personal', ...HISTORY, allow_user_limited_channels: true, allow_publish_for_client: true },
        { name: 'room', ...HISTORY, allow_subscribe_for_client: true, allow_publish_for_subscriber: true, allow_publish_for_client: true },
      ],
    },
  };
}

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
  return res.status === 200;
}

export async function startCentrifugoPeer(redis: Redis, nodes: number, secret: string, label = 'centrifugo'): Promise<CentrifugoPeer> {
  const bin = centrifugoBinary();
  const dir = mkdtempSync(join(tmpdir(), 'wsf-bench-centrifugo-'));
  const procs: ManagedProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 1; i <= nodes; i++) {
      const port = await freePort();
      const file = join(dir, `node${i}.json`);
      writeFileSync(file, JSON.stringify(centrifugoConfig({ port, redisUrl: redis.url, secret, prefix: label }), null, 2));
      const proc = startProcess(`bench-${label}-${i}`, bin, ['--config', file], {}, BENCH_LOGS);
      procs.push(proc);
      const early = proc.exited.then((code) => { throw new Error(`centrifugo node ${i} exited with ${String(code)} before healthy; see ${proc.logFile}`); });
      early.catch(() => undefined);
      await Promise.race([waitFor(`centrifugo node ${i} healthy`, () => healthy(port), 20_000, 100), early]);
      ports.push(port);
    }
    const balancers = await startBalancers(1, ports.map((port, i) => ({ name: `c${i + 1}`, port })), label, '/health');
    const nodePids = procs.map((p) => p.pid);
    return {
      nodeUrls: ports.map((p) => `ws://127.0.0.1:${p}/connection/websocket`),
      balancedUrl: (balancers.frontends[0] ?? '').replace(/\/ws$/, '/connection/websocket'),
      procs,
      balancers,
      pids: () => [...nodePids, ...balancers.pids()],
      stop: async () => {
        await balancers.stop();
        await Promise.all(procs.map((p) => p.stop(3000)));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
