import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { formatRoutesValue, renderNatsConfig } from '../../infra/render/nats-conf.js';
import { findBinary } from './paths.js';
import { freePort, waitFor } from './ports.js';
import { startProcess, type ManagedProcess } from './processes.js';
import { NATS_JETSTREAM_LIMITS } from '../../infra/nats-store.js';

export interface NatsCluster {
  readonly urls: string[];
  readonly monitorUrls: string[];
  readonly user: string;
  readonly password: string;
  /** Route credentials (a peer without them is refused) and the cluster ports. */
  readonly routeUser: string;
  readonly routePassword: string;
  readonly clusterPorts: number[];
  stopNode(i: number): Promise<void>;
  killNode(i: number): Promise<void>;
  /** SIGSTOP / SIGCONT: the node's sockets stay open and nothing answers, as in a network partition. */
  pauseNode(i: number): void;
  resumeNode(i: number): void;
  startNode(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  nodes?: 1 | 3;
  name?: string;
  /** Each node's JetStream file store (max_file_store); by default a deployment's, which holds the server's default history caps. */
  jetstreamMaxFileBytes?: number;
  /** Extra environment for every node (e.g. GOMAXPROCS). */
  env?: Record<string, string>;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => { resolve(false); });
  });
}

/** A node that exited while starting: most often a port picked by freePort() was taken meanwhile. */
class NodeExitedError extends Error {}

/**
 * Starts a real nats-server JetStream cluster on loopback ports, with client and route auth from env.
 * The ports are picked free beforehand, so one can be taken before its node binds it (the other nodes'
 * own route dials take ephemeral ports too: seen in CI as `bind: address already in use`); a node that
 * exits while starting makes the whole cluster start again on fresh ports, three attempts at most.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(opts);
    } catch (err) {
      if (!(err instanceof NodeExitedError) || attempt >= 3) throw err;
      console.log(`nats cluster: ${err.message}; starting again on fresh ports (attempt ${attempt + 1})`);
    }
  }
}

async function startNatsClusterOnce(opts: NatsClusterOptions): Promise<NatsCluster> {
  const nodes = opts.nodes ?? 3;
  const name = opts.name ?? `t${process.pid}`;
  const bin = findBinary('nats-server', 'NATS_SERVER_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'wsf-nats-'));
  const user = 'wsfleet';
  const password = `pw${process.pid}x${Date.now()}`;
  const routeUser = 'route';
  const routePassword = `rp${process.pid}x${Date.now()}`;
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  const monitorPorts: number[] = [];
  for (let i = 0; i < nodes; i++) {
    clientPorts.push(await freePort());
    clusterPorts.push(await freePort());
    monitorPorts.push(await freePort());
  }
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`);
  const procs: (ManagedProcess | undefined)[] = [];
  const confFiles: string[] = [];
  for (let i = 0; i < nodes; i++) {
    const conf = renderNatsConfig({
      serverName: `${name}-n${i + 1}`,
      clusterName: name,
      host: '127.0.0.1',
      clientPort: clientPorts[i] ?? 0,
      clusterPort: clusterPorts[i] ?? 0,
      monitorPort: monitorPorts[i] ?? 0,
      ...(nodes > 1 ? { cluster: { routesEnv: 'NATS_ROUTES', authEnv: { user: 'NATS_ROUTE_USER', password: 'NATS_ROUTE_PASSWORD' } } } : {}),
      storeDir: join(dir, `n${i + 1}`),
      authEnv: { user: 'NATS_USER', password: 'NATS_PASSWORD' },
      ...NATS_JETSTREAM_LIMITS,
      ...(opts.jetstreamMaxFileBytes === undefined ? {} : { jetstreamMaxFileBytes: opts.jetstreamMaxFileBytes }),
    });
    const file = join(dir, `n${i + 1}.conf`);
    writeFileSync(file, conf);
    confFiles.push(file);
  }
  const env = {
    ...opts.env,
    NATS_USER: user,
    NATS_PASSWORD: password,
    NATS_ROUTE_USER: routeUser,
    NATS_ROUTE_PASSWORD: routePassword,
    // Every node gets every route (its own is ignored by nats-server).
    NATS_ROUTES: formatRoutesValue(routes, routeUser, routePassword),
  };
  const startNode = async (i: number): Promise<void> => {
    procs[i] = startProcess(`${name}-nats-${i + 1}`, bin, ['-c', confFiles[i] ?? ''], env);
    const proc = procs[i];
    const mon = monitorPorts[i] ?? 0;
    const exitedWhileStarting = proc.exited.then((code): never => {
      throw new NodeExitedError(`nats node ${i + 1} exited while starting (code ${String(code)}; log ${proc.name}.log)`);
    });
    exitedWhileStarting.catch(() => undefined); // once the node is up, the race is over and a later exit is not this start's error
    await Promise.race([waitFor(`nats node ${i + 1} monitor`, () => portOpen(mon), 15_000), exitedWhileStarting]);
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.map(async (p) => { await p?.stop(); }));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < nodes; i++) await startNode(i);
  } catch (err) {
    await stopAll();
    throw err;
  }
  // JetStream is usable once the meta group has a leader: /healthz?js-enabled-only reports ok per node.
  await waitFor('JetStream cluster healthy', async () => {
    for (const mon of monitorPorts) {
      const res = await fetch(`http://127.0.0.1:${mon}/healthz`);
      if (res.status !== 200) return false;
    }
    return true;
  }, 30_000, 200);
  return {
    urls: clientPorts.map((p) => `nats://127.0.0.1:${p}`),
    monitorUrls: monitorPorts.map((p) => `http://127.0.0.1:${p}`),
    user,
    password,
    routeUser,
    routePassword,
    clusterPorts,
    stopNode: async (i) => { await procs[i]?.stop(); },
    killNode: async (i) => { procs[i]?.signal('SIGKILL'); await procs[i]?.exited; },
    pauseNode: (i) => { procs[i]?.signal('SIGSTOP'); },
    resumeNode: (i) => { procs[i]?.signal('SIGCONT'); },
    startNode,
    stop: stopAll,
  };
}
