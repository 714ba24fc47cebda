import { join } from 'node:path';
import { serverEnvironment } from '../../infra/server-env.js';
import { repoRoot } from './paths.js';
import { freePort, waitFor } from './ports.js';
import { startProcess } from './processes.js';
import { TEST_NAMESPACES, TEST_SECRET, TEST_SERVER_API_KEY } from './tokens.js';

/** Public URL (http://127.0.0.1:<port>) → that replica's metrics URL (its METRICS_PORT). */
const metricsUrls = new Map<string, string>();

/** Where the replica behind a public URL serves /metrics (the URL itself for one started elsewhere). */
export function metricsUrlOf(url: string): string {
  return metricsUrls.get(url) ?? url;
}

export interface Replica {
  readonly id: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** ws://127.0.0.1:<port>/ws */
  readonly wsUrl: string;
  /** http://127.0.0.1:<metrics port>: GET /metrics (not served on the public port). */
  readonly metricsUrl: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** SIGTERM (graceful drain), SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL: the replica dies without saying so. */
  kill(): Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

export interface ReplicaOptions {
  id: string;
  natsUrls: string[];
  natsUser?: string;
  natsPassword?: string;
  port?: number;
  env?: Record<string, string>;
  /** Wait for /readyz 200 before resolving (default true). */
  waitReady?: boolean;
}

/** Starts a real ws-fleet server process (TypeScript source through tsx) on a loopback port, configured by infra/server-env.ts. */
export async function startReplica(opts: ReplicaOptions): Promise<Replica> {
  const port = opts.port ?? (await freePort());
  const metricsPort = opts.env?.METRICS_PORT ?? String(await freePort());
  const env: Record<string, string> = {
    ...serverEnvironment({
      serverId: opts.id,
      port,
      host: '127.0.0.1',
      natsUrls: opts.natsUrls,
      ...(opts.natsUser === undefined ? {} : { natsUser: opts.natsUser }),
      ...(opts.natsPassword === undefined ? {} : { natsPassword: opts.natsPassword }),
      authSecret: TEST_SECRET,
      serverApiKey: TEST_SERVER_API_KEY,
      namespaces: TEST_NAMESPACES,
      metricsPort: Number(metricsPort),
      logLevel: 'info',
      // The test cluster's JetStream is sized small (tests/support/nats-cluster.ts).
      historyMaxBytes: 64 * 1024 * 1024,
    }),
    ...opts.env,
  };
  // WSFLEET_CPU_PROFILE_DIR: each replica writes a V8 CPU profile there when it exits (bench/lib/cpuprofile.ts reads them).
  const profileDir = process.env.WSFLEET_CPU_PROFILE_DIR;
  const profile = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  // The test process's pid in the name: the suites of one run reuse replica ids (r1, r2, …), and each
  // test file runs in a process of its own, so a later suite does not overwrite an earlier one's log.
  const proc = startProcess(`t${process.pid}-replica-${opts.id}`, process.execPath, [...profile, '--import', 'tsx', join(repoRoot, 'server', 'src', 'main.ts')], env);
  const url = `http://127.0.0.1:${port}`;
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  metricsUrls.set(url, metricsUrl);
  if (opts.waitReady ?? true) {
    const early = proc.exited.then((code) => { throw new Error(`replica ${opts.id} exited with ${code} before ready; see ${proc.logFile}`); });
    await Promise.race([
      waitFor(`replica ${opts.id} ready`, async () => (await fetch(`${url}/readyz`)).status === 200, 30_000, 100),
      early,
    ]);
  }
  return {
    id: opts.id,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    metricsUrl,
    logFile: proc.logFile,
    exited: proc.exited,
    stop: (graceMs) => proc.stop(graceMs),
    kill: async () => { proc.signal('SIGKILL'); await proc.exited; },
    signal: (sig) => { proc.signal(sig); },
  };
}
