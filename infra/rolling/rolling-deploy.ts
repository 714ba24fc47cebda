/**
 * Rolling deploy on the `docker` engine: a new server build replaces the replicas one at a time, each
 * step waiting until the balancer routes to the successor, so at most one replica's sockets reconnect
 * at a time (they drain with 1012 and resume on the others).
 *
 * Two replicas never share a SERVER_ID: each step is an ordinary apply in which exactly one replica's
 * image changes, so Terraform replaces that one container (stop, drain, remove, then create) and
 * nothing else. The replicas not yet rolled stay on the previous build through
 * WSFLEET_SERVER_BUILD_PINS (infra/server-context.ts), which keeps the previous build's image resource
 * while any replica uses it; the last step unpins everything and the old image goes.
 *
 * The deploy command owns how an apply runs (cdktf or terraform, its environment): it passes `apply`.
 * `dockerRollingDeps` gives the Docker side: which build each replica runs (its label), and whether the
 * balancer routes to it (HAProxy's stats CSV, with the deployment's stats credentials).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SERVER_BUILD_LABEL } from '../constructs/ws-pool.js';
import { BUILD_PINS_ENV } from '../server-context.js';
import { wsContainerName } from '../names.js';
import { HAPROXY_NAMES } from '../../loadbalancer/src/index.js';
import type { FleetSecrets } from '../secrets.js';
import type { Settings } from '../settings.js';

const execFileAsync = promisify(execFile);

export interface RollingDeployDeps {
  /** Replicas the deployment has (1..replicas). */
  readonly replicas: number;
  /** Hash of the build to roll out (serverContext().contextHash). */
  readonly targetBuild: string;
  /** The build replica `n` runs now; undefined when it does not exist. */
  currentBuild(replica: number): Promise<string | undefined>;
  /** One apply of the stack with these extra environment variables (the pins). */
  apply(env: Record<string, string>): Promise<void>;
  /** Resolves once the balancer routes to replica `n` (its new container UP), rejects after `timeoutMs`. */
  waitRouted(replica: number, timeoutMs: number): Promise<void>;
  readonly log?: (message: string) => void;
  /** Per step (default 120 s). */
  routedTimeoutMs?: number;
}

export interface RollingStep {
  readonly replica: number;
  readonly from: string | undefined;
  /** Seconds the apply took (drain of the old container included) and until the balancer routed to the new one. */
  readonly applySeconds: number;
  readonly routedSeconds: number;
}

export interface RollingReport {
  readonly targetBuild: string;
  readonly steps: readonly RollingStep[];
  /** True when no replica needed a new build and one plain apply was made. */
  readonly nothingToRoll: boolean;
}

/** The pins for the replicas not rolled yet: replica number → its current build. */
export function pinsFor(pending: ReadonlyMap<number, string>): Record<string, string> {
  return { [BUILD_PINS_ENV]: JSON.stringify(Object.fromEntries([...pending].map(([n, h]) => [String(n), h]))) };
}

export async function rollingDeploy(deps: RollingDeployDeps): Promise<RollingReport> {
  const log = deps.log ?? ((): void => undefined);
  const current = new Map<number, string | undefined>();
  for (let n = 1; n <= deps.replicas; n++) current.set(n, await deps.currentBuild(n));
  // Replicas that exist on another build, in order; missing ones are simply created by the first apply.
  const pending = new Map<number, string>();
  for (const [n, build] of current) if (build !== undefined && build !== deps.targetBuild) pending.set(n, build);
  if (pending.size === 0) {
    log(`rolling: every replica runs build ${deps.targetBuild.slice(0, 12)}; one plain apply`);
    await deps.apply(pinsFor(pending));
    return { targetBuild: deps.targetBuild, steps: [], nothingToRoll: true };
  }
  const steps: RollingStep[] = [];
  for (const replica of [...pending.keys()]) {
    const from = pending.get(replica);
    pending.delete(replica);
    log(`rolling: replica ${replica} ${from?.slice(0, 12) ?? '?'} → ${deps.targetBuild.slice(0, 12)} (${pending.size} left on the old build)`);
    const t0 = Date.now();
    await deps.apply(pinsFor(pending));
    const t1 = Date.now();
    await deps.waitRouted(replica, deps.routedTimeoutMs ?? 120_000);
    const running = await deps.currentBuild(replica);
    if (running !== deps.targetBuild) throw new Error(`rolling: replica ${replica} runs build ${String(running)} after its step, not ${deps.targetBuild}`);
    const step = { replica, from, applySeconds: (t1 - t0) / 1000, routedSeconds: (Date.now() - t1) / 1000 };
    steps.push(step);
    log(`rolling: replica ${replica} routed (apply ${step.applySeconds} s, then routed after ${step.routedSeconds} s)`);
  }
  return { targetBuild: deps.targetBuild, steps, nothingToRoll: false };
}

async function docker(args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('docker', args, { timeout: 30_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Servers of the replicas' backend with their address and status, from the stats CSV. */
export async function backendStates(statsUrl: string, auth: { user: string; password: string }): Promise<{ name: string; addr: string; status: string }[]> {
  const res = await fetch(`${statsUrl};csv`, {
    headers: { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new Error(`stats CSV answered ${res.status}`);
  const [header = '', ...rows] = (await res.text()).trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const at = (f: string[], name: string): string => f[cols.indexOf(name)] ?? '';
  return rows
    .map((r) => r.split(','))
    .filter((f) => at(f, 'pxname') === HAPROXY_NAMES.backend && !['BACKEND', 'FRONTEND'].includes(at(f, 'svname')))
    .map((f) => ({ name: at(f, 'svname'), addr: at(f, 'addr'), status: at(f, 'status') }));
}

/** The Docker side of a rolling deploy for a deployment on this host. */
export function dockerRollingDeps(
  settings: Settings,
  secrets: FleetSecrets,
  statsPath: string,
  apply: (env: Record<string, string>) => Promise<void>,
  targetBuild: string,
  log?: (message: string) => void,
): RollingDeployDeps {
  const statsUrl = `http://${settings.bindAddress}:${settings.statsPort}${statsPath}`;
  const auth = { user: secrets.lbStatsUser, password: secrets.lbStatsPassword };
  return {
    replicas: settings.replicas,
    targetBuild,
    apply,
    ...(log === undefined ? {} : { log }),
    currentBuild: async (n) => {
      const out = await docker(['inspect', '--format', `{{ index .Config.Labels "${SERVER_BUILD_LABEL}" }}`, wsContainerName(settings.prefix, n)]);
      return out === undefined || out === '' || out === '<no value>' ? undefined : out;
    },
    waitRouted: async (n, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ip = await docker(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', wsContainerName(settings.prefix, n)]);
        const states = await backendStates(statsUrl, auth).catch(() => []);
        const up = states.filter((s) => s.status === 'UP');
        // The successor's address is UP, and so are all the others: the next step may take one away.
        if (ip !== undefined && ip !== '' && up.some((s) => s.addr.startsWith(`${ip}:`)) && up.length >= settings.replicas) return;
        if (Date.now() > deadline) throw new Error(`rolling: the balancer does not route to ${wsContainerName(settings.prefix, n)} (${String(ip)}) within ${timeoutMs} ms: ${JSON.stringify(up)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}
