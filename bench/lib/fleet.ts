/**
 * The systems under test, as local processes on loopback: a 3-node NATS JetStream cluster, ws-fleet
 * replicas run from the image's bundle (server/.image/server.mjs) with plain node and the env
 * tests/support/replica.ts sets, HAProxy processes in front (static backend), and the baselines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { serverEnvironment } from '../../infra/server-env.js';
import { renderHaproxyConfig } from '../../loadbalancer/src/index.js';
import { fetchServerStates, startHaproxy, type HaproxyProcess } from '../../tests/support/haproxy.js';
import { startNatsCluster, type NatsCluster } from '../../tests/support/nats-cluster.js';
import { freePort, waitFor } from '../../tests/support/ports.js';
import { TEST_NAMESPACES, TEST_SECRET, TEST_SERVER_API_KEY } from '../../tests/support/tokens.js';
import { bundlePath } from './build.js';
import { onInterrupt } from './cleanup.js';
import { BENCH_LOGS, profilesDir, serverBundle } from './paths.js';
import { startProcess, type ManagedProcess } from '../../tests/support/processes.js';

export const BENCH_SECRET = TEST_SECRET;

export interface BenchReplica {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  readonly wsUrl: string;
  /** http://127.0.0.1:<metrics port>: GET /metrics (not served on the public port). */
  readonly metricsUrl: string;
  readonly proc: ManagedProcess;
  /** Port of the memory probe (bench/servers/mem-probe.ts), when preloaded. */
  readonly probePort?: number;
  readonly inspectPort?: number;
  stop(graceMs?: number): Promise<number | null>;
}

export interface ReplicaOptions {
  id: string;
  nats: NatsCluster;
  env?: Record<string, string>;
  port?: number;
  /** Preload the memory probe (and --expose-gc). */
  probe?: boolean;
  /** Write a V8 CPU profile to results/profiles/<name>.cpuprofile when the process exits. */
  cpuProfileName?: string;
  /** Open the inspector on this loopback port (bench/lib/inspector.ts profiles a window through it). */
  inspectPort?: number;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.status === 200;
}

export async function startBundledReplica(opts: ReplicaOptions): Promise<BenchReplica> {
  const port = opts.port ?? (await freePort());
  const metricsPort = await freePort();
  const probePort = opts.probe === true ? await freePort() : undefined;
  const nodeArgs: string[] = [];
  if (probePort !== undefined) nodeArgs.push('--expose-gc', '--import', bundlePath('servers/mem-probe'));
  if (opts.inspectPort !== undefined) nodeArgs.push(`--inspect=127.0.0.1:${opts.inspectPort}`);
  if (opts.cpuProfileName !== undefined) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profilesDir, '--cpu-prof-name', `${opts.cpuProfileName}.cpuprofile`);
  const env: Record<string, string> = {
    ...serverEnvironment({
      serverId: opts.id,
      port,
      host: '127.0.0.1',
      natsUrls: opts.nats.urls,
      natsUser: opts.nats.user,
      natsPassword: opts.nats.password,
      authSecret: BENCH_SECRET,
      // As the tests' replicas (tests/support/replica.ts): the default namespace open to every user.
      serverApiKey: TEST_SERVER_API_KEY,
      namespaces: TEST_NAMESPACES,
      metricsPort,
      logLevel: 'info',
      // History at the deployment's default size (1 GiB a stream; the cluster's file store is sized
      // for it: infra/nats-store.ts). The tests' 64 MiB filled up in the full profile: from the 5th
      // 5k/s run on, every durable send was refused not_stored (session 12).
    }),
    ...(probePort === undefined ? {} : { BENCH_PROBE_PORT: String(probePort) }),
    ...opts.env,
  };
  const proc = startProcess(`replica-${opts.id}`, process.execPath, [...nodeArgs, serverBundle], env, BENCH_LOGS);
  const url = `http://127.0.0.1:${port}`;
  const early = proc.exited.then((code) => { throw new Error(`replica ${opts.id} exited with ${String(code)} before ready; see ${proc.logFile}`); });
  early.catch(() => undefined);
  await Promise.race([waitFor(`replica ${opts.id} ready`, () => httpOk(`${url}/readyz`), 30_000, 100), early]);
  return {
    id: opts.id,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    proc,
    ...(probePort === undefined ? {} : { probePort }),
    ...(opts.inspectPort === undefined ? {} : { inspectPort: opts.inspectPort }),
    stop: (graceMs = 10_000) => proc.stop(graceMs),
  };
}

export interface BenchFleet {
  readonly nats: NatsCluster;
  readonly replicas: BenchReplica[];
  natsPids(): number[];
  stop(): Promise<void>;
}

export interface BenchFleetOptions {
  /** Env for every replica. */
  env?: Record<string, string>;
  /** Cluster name (NATS server names <name>-n1..), also what natsPids() finds them by. */
  name?: string;
  /** NATS nodes: 3 (history R3, the default) or 1 (R1, the small footprint). */
  natsNodes?: 1 | 3;
  /** Open each replica's inspector on a loopback port (profiles of the measured window: bench/lib/inspector.ts). */
  inspect?: boolean;
}

/** A NATS cluster and `count` replicas r1..rN on it. */
export async function startBenchFleet(count: number, opts: BenchFleetOptions = {}): Promise<BenchFleet> {
  const name = opts.name ?? 'bench';
  const nats = await startNatsCluster({ nodes: opts.natsNodes ?? 3, name });
  const forget = onInterrupt(() => nats.stop());
  const replicas: BenchReplica[] = [];
  try {
    // The first creates the streams and buckets; the others then find them, started together.
    const start = async (i: number): Promise<BenchReplica> => startBundledReplica({ id: `r${i}`, nats, env: opts.env ?? {}, ...(opts.inspect === true ? { inspectPort: await freePort() } : {}) });
    replicas.push(await start(1));
    const rest = await Promise.allSettled(Array.from({ length: count - 1 }, (_, k) => start(k + 2)));
    for (const r of rest) if (r.status === 'fulfilled') replicas.push(r.value);
    const failed = rest.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop(2000)));
    await nats.stop();
    forget();
    throw err;
  }
  return {
    nats,
    replicas,
    natsPids: () => natsPidsOf(name),
    stop: async () => {
      await Promise.all(replicas.map((r) => r.stop(10_000)));
      await nats.stop();
      forget();
    },
  };
}

/** This bench's nats-server processes of the cluster `name` (their config names the servers <name>-n<i>). */
function natsPidsOf(name: string): number[] {
  return pidsByCommand(/nats-server/).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return readFileSync(argv[argv.indexOf('-c') + 1] ?? '', 'utf8').includes(`${name}-n`);
    } catch {
      return false;
    }
  });
}

/** Pids of processes whose command line matches, among this bench's descendants only. */
export function pidsByCommand(re: RegExp): number[] {
  const me = process.pid;
  const parentOf = new Map<number, number>();
  const cmdOf = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(pid, ppid);
      cmdOf.set(pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone meanwhile
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parentOf.get(pid), hops = 0; p !== undefined && hops < 20; p = parentOf.get(p), hops++) if (p === me) return true;
    return false;
  };
  return [...cmdOf.entries()].filter(([pid, cmd]) => re.test(cmd) && isDescendant(pid)).map(([pid]) => pid);
}

function configFileOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[argv.indexOf('-f') + 1] ?? '';
  } catch {
    return '';
  }
}

export interface Balancers {
  readonly frontends: string[];
  readonly statsUrls: string[];
  readonly procs: HaproxyProcess[];
  pids(): number[];
  /** Sum over the balancers of the current connections to each backend server. */
  currentByServer(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * `count` HAProxy processes in front of the same replicas (leastconn, static backend), each with its
 * own frontend port: one process can hold only about (file-descriptor limit) / 2 connections.
 */
export async function startBalancers(count: number, servers: { name: string; port: number }[], label = 'lb', healthPath = '/readyz'): Promise<Balancers> {
  const procs: HaproxyProcess[] = [];
  const frontends: string[] = [];
  const statsUrls: string[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const port = await freePort();
      const statsPort = await freePort();
      const config = renderHaproxyConfig({
        mode: 'leastconn',
        frontend: { address: '127.0.0.1', port },
        stats: { address: '127.0.0.1', port: statsPort },
        backend: { kind: 'static', servers: servers.map((s) => ({ name: s.name, host: '127.0.0.1', port: s.port })) },
        healthCheck: { path: healthPath },
      });
      procs.push(await startHaproxy({ config, frontendPort: port, name: `bench-${label}-haproxy-${i}` }));
      frontends.push(`ws://127.0.0.1:${port}/ws`);
      statsUrls.push(`http://127.0.0.1:${statsPort}/stats`);
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.stop()));
    throw err;
  }
  return {
    frontends,
    statsUrls,
    procs,
    // These balancers' processes only (each has its own config file), not every HAProxy the bench runs.
    pids: () => {
      const files = new Set(procs.map((p) => p.configFile));
      return pidsByCommand(/haproxy -db -f/).filter((pid) => files.has(configFileOf(pid)));
    },
    currentByServer: async () => {
      const out: Record<string, number> = {};
      for (const s of statsUrls) {
        for (const [name, st] of await fetchServerStates(s, 'ws_replicas')) out[name] = (out[name] ?? 0) + st.current;
      }
      return out;
    },
    stop: async () => {
      await Promise.all(procs.map((p) => p.stop()));
    },
  };
}

/** A bare ws server process (bench/servers/bare-ws.ts), optionally with the memory probe. */
export async function startBareServer(name: string, opts: { probe?: boolean } = {}): Promise<{ port: number; wsUrl: string; probePort?: number; proc: ManagedProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const probePort = opts.probe === true ? await freePort() : undefined;
  const nodeArgs = probePort === undefined ? [] : ['--expose-gc', '--import', bundlePath('servers/mem-probe')];
  const proc = startProcess(name, process.execPath, [...nodeArgs, bundlePath('servers/bare-ws')], {
    PORT: String(port),
    ...(probePort === undefined ? {} : { BENCH_PROBE_PORT: String(probePort) }),
  }, BENCH_LOGS);
  await waitFor(`${name} listening`, () => httpOk(`http://127.0.0.1:${port}/healthz`), 15_000, 50);
  return { port, wsUrl: `ws://127.0.0.1:${port}/ws`, ...(probePort === undefined ? {} : { probePort }), proc, stop: async () => { await proc.stop(3000); } };
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gcForced: boolean;
}

export async function readMemory(probePort: number): Promise<MemorySample> {
  const res = await fetch(`http://127.0.0.1:${probePort}/mem`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as MemorySample;
}
