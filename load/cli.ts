/**
 * npm run load -- <smoke|soak|scale|chaos> [options]
 *
 * Options (each also settable as its WSFLEET_* variable, the names the k6 scripts read):
 *   --users N  --users-per-group N  --rate MSG_PER_S  --duration D  --ramp D  --grace D
 *   --room-size N  --room-share F  --payload-bytes N  --p99-ms MS  --ack-p99-ms MS  --replay-p99-ms MS
 *   --reconnect-max-ms MS  --connect-timeout D
 *   --scale-plan "60s=5,180s=2"     soak/scale: scale steps from the start of traffic
 *   --chaos-plan "15s=crash-replica:1,…"  chaos: the events (load/chaos.ts; default: every fault)
 *   --initial-replicas N  --no-restore  --no-memory-check  --memory-check  --memory-warmup D
 *   --jitter | --no-jitter          the client-side jitter profile (default: on for chaos only)
 *   --workers N                     load worker processes (default: min(2, cores))
 *   --room-namespace NS             rooms are NS:<name> (a namespace configured with publish "members")
 *   --protocol ws-fleet|centrifugo  what the users speak (default ws-fleet; centrifugo: a peer behind the balancer, bench figure 7)
 *   --label TEXT  --results-dir DIR
 * Target: WSFLEET_PREFIX (default wsfleet), or WSFLEET_BALANCER_URL and WSFLEET_AUTH_SECRET; 127.0.0.1 only.
 * Exit: 0 all thresholds hold; 99 a threshold crossed; 1 a plan step failed or the run broke; 2 bad usage.
 */
import os from 'node:os';
import path from 'node:path';
import { HEALTH_PATH, isLoadProtocol, LOAD_PROTOCOLS } from './client.js';
import { DEFAULT_CHAOS_PLAN, DEFAULT_JITTER, parseChaosPlan } from './chaos.js';
import { FleetOps } from './fleet.js';
import { run } from './run.js';
import { ConfigError, isScenario, loadParams, parseDurationMs } from './scenarios.js';
import { discoverTarget, repoRoot } from './target.js';
import { DEFAULT_NAMESPACES } from '../infra/settings.js';

/** Rooms go into the namespace a default deployment opens to its members (infra/settings.ts). */
const DEFAULT_ROOM_NAMESPACE = Object.entries(DEFAULT_NAMESPACES).find(([, ns]) => ns.join === 'authenticated' && ns.publish === 'members')?.[0] ?? '';

const USAGE = 'usage: npm run load -- <smoke|soak|scale|chaos> [options] (see docs/load.md)';

/** Command line options that set a WSFLEET_* parameter. */
const VALUE_OPTIONS: Record<string, string> = {
  '--users': 'WSFLEET_USERS',
  '--users-per-group': 'WSFLEET_USERS_PER_VU',
  '--users-per-vu': 'WSFLEET_USERS_PER_VU',
  '--rate': 'WSFLEET_RATE',
  '--duration': 'WSFLEET_DURATION',
  '--ramp': 'WSFLEET_RAMP',
  '--grace': 'WSFLEET_GRACE',
  '--room-size': 'WSFLEET_ROOM_SIZE',
  '--room-share': 'WSFLEET_ROOM_SHARE',
  '--payload-bytes': 'WSFLEET_PAYLOAD_BYTES',
  '--p99-ms': 'WSFLEET_P99_MS',
  '--ack-p99-ms': 'WSFLEET_ACK_P99_MS',
  '--replay-p99-ms': 'WSFLEET_REPLAY_P99_MS',
  '--reconnect-max-ms': 'WSFLEET_RECONNECT_MAX_MS',
  '--connect-timeout': 'WSFLEET_CONNECT_TIMEOUT',
  '--scale-plan': 'WSFLEET_SCALE_PLAN',
  '--chaos-plan': 'WSFLEET_CHAOS_PLAN',
  '--initial-replicas': 'WSFLEET_INITIAL_REPLICAS',
  '--memory-warmup': 'WSFLEET_MEMORY_WARMUP',
  '--workers': 'WSFLEET_WORKERS',
  '--room-namespace': 'WSFLEET_ROOM_NAMESPACE',
  '--protocol': 'WSFLEET_PROTOCOL',
  '--label': 'WSFLEET_RUN_LABEL',
  '--results-dir': 'WSFLEET_RESULTS_DIR',
};
const FLAG_OPTIONS: Record<string, [string, string]> = {
  '--no-restore': ['WSFLEET_RESTORE', 'false'],
  '--no-memory-check': ['WSFLEET_MEMORY_CHECK', 'false'],
  '--memory-check': ['WSFLEET_MEMORY_CHECK', 'true'],
  '--jitter': ['WSFLEET_JITTER', 'true'],
  '--no-jitter': ['WSFLEET_JITTER', 'false'],
};

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): { scenario: string; env: Record<string, string | undefined> } {
  const [scenario, ...rest] = argv;
  if (scenario === undefined || !isScenario(scenario)) throw new ConfigError(USAGE);
  const out: Record<string, string | undefined> = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('WSFLEET_')));
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] ?? '';
    const flag = FLAG_OPTIONS[a];
    if (flag !== undefined) {
      out[flag[0]] = flag[1];
      continue;
    }
    const name = VALUE_OPTIONS[a];
    if (name === undefined) throw new ConfigError(`unknown option ${JSON.stringify(a)}; ${USAGE}`);
    const v = rest[i + 1];
    if (v === undefined) throw new ConfigError(`option ${a} needs a value`);
    out[name] = v;
    i += 1;
  }
  return { scenario, env: out };
}

function boolEnv(name: string, v: string | undefined, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ConfigError(`${name}=${JSON.stringify(v)}: must be true or false`);
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

async function main(): Promise<number> {
  const { scenario, env } = parseArgs(process.argv.slice(2), process.env);
  const params = loadParams(scenario, env);
  const chaosPlan = env.WSFLEET_CHAOS_PLAN ?? DEFAULT_CHAOS_PLAN;
  if (params.scenario === 'chaos') parseChaosPlan(chaosPlan);
  else if (env.WSFLEET_CHAOS_PLAN !== undefined) throw new ConfigError('--chaos-plan is for the chaos scenario (soak and scale take --scale-plan)');
  const workersRaw = env.WSFLEET_WORKERS ?? String(Math.max(1, Math.min(2, os.cpus().length)));
  const workers = Number(workersRaw);
  if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new ConfigError(`WSFLEET_WORKERS=${JSON.stringify(workersRaw)}: must be a whole number from 1 to 16`);
  const ns = env.WSFLEET_ROOM_NAMESPACE ?? DEFAULT_ROOM_NAMESPACE;
  if (ns !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(ns)) throw new ConfigError(`WSFLEET_ROOM_NAMESPACE=${JSON.stringify(ns)}: 1-64 of [A-Za-z0-9_-]`);
  const protocol = env.WSFLEET_PROTOCOL ?? 'ws-fleet';
  if (!isLoadProtocol(protocol)) throw new ConfigError(`WSFLEET_PROTOCOL=${JSON.stringify(protocol)}: one of ${LOAD_PROTOCOLS.join(', ')}`);
  if (protocol !== 'ws-fleet' && params.scenario !== 'soak' && params.scenario !== 'smoke') throw new ConfigError(`--protocol ${protocol} is for smoke and soak (the other scenarios scale or fault a ws-fleet deployment)`);
  const jitterOn = boolEnv('WSFLEET_JITTER', env.WSFLEET_JITTER, params.scenario === 'chaos');
  const rolling = env.WSFLEET_ROLLING_CMD;
  const target = await discoverTarget(process.env, HEALTH_PATH[protocol]);
  const scaleCmd = (env.WSFLEET_SCALE_CMD ?? 'bash scripts/scale.sh').split(' ').filter((s) => s !== '');
  const label = env.WSFLEET_RUN_LABEL ?? '';
  const resultsDir = env.WSFLEET_RESULTS_DIR ?? path.join(repoRoot, 'results', 'load', `${params.scenario}-${stamp()}`);
  const outcome = await run({
    params, target, protocol, ops: new FleetOps(target.prefix, scaleCmd), workers,
    plan: params.scenario === 'chaos' ? chaosPlan : params.scalePlan,
    jitter: jitterOn ? DEFAULT_JITTER : undefined,
    restore: boolEnv('WSFLEET_RESTORE', env.WSFLEET_RESTORE, true),
    memoryWarmupMs: env.WSFLEET_MEMORY_WARMUP === undefined ? undefined : parseDurationMs('WSFLEET_MEMORY_WARMUP', env.WSFLEET_MEMORY_WARMUP),
    memoryEveryMs: 10_000,
    rollingCmd: rolling === undefined || rolling === '' ? undefined : rolling.split(' ').filter((s) => s !== ''),
    roomPrefix: ns === '' ? '' : `${ns}:`,
    resultsDir, label,
    log: (t) => { process.stderr.write(`load: ${t}\n`); },
  });
  process.stderr.write(`load: results: ${path.relative(repoRoot, outcome.dir)} (summary.txt, summary.json, report.html, events.json, series.json)\n`);
  if (!outcome.thresholdsOk) return 99;
  return outcome.ok ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`load: error: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`load: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
