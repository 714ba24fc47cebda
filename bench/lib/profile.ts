/** How big each workload is: `full` (npm run bench, ~15 min) and `quick` (npm run bench:quick, < 1 min, CI). */

export interface BenchProfile {
  name: 'full' | 'quick';
  memory: { connections: number; warmup: number; settleMs: number };
  /** replicas: enough that target / replicas stays under one process's descriptor limit (20,000 here). */
  connections: { target: number; replicas: number; workers: number; balancers: number; sourceAddresses: number; perReplicaMax: number; connectPhaseMs: number; holdMs: number; concurrency: number };
  /** runs: each fixed rate is measured this many times (ratios: the median, with the spread); p99BoundMs: above it a rate is not sustained. */
  latency: { rates: number[]; runs: number; pairs: number; workers: number; warmupMs: number; durationMs: number; tailMs: number; primeMs: number; p99BoundMs: number };
  /** The maximum-sustained-rate search per path: up to maxRate, at most `steps` probes of durationMs each (maxRate 0: off). */
  search: { maxRate: number; steps: number; durationMs: number };
  fanout: { members: number; publishers: number; window: number; durationMs: number; workers: number };
  drain: { clients: number; marked: number; windowsMs: number[] };
  /**
   * Figure 7: the load runner's soak with the jitter profile, through a local HAProxy. `ladder`: the client
   * counts tried in turn on the bench fleet until one misses a target (7a); the first is also 7b's count
   * (ws-fleet against Centrifugo, a replica of two killed halfway).
   */
  jitter: { ladder: number[]; rate: number; durationMs: number };
  socketio: { processes: number };
  centrifugo: { nodes: number };
  /** The small footprint: this many replicas on a 1-node NATS (history R1), against the Socket.IO peer's 2 processes + 1 Redis. */
  small: { replicas: number };
  docker: boolean;
  /** Profile the replicas (node --cpu-prof) on a repeat of the workloads that tell what limits them. */
  cpuProfiles: boolean;
}

export const PROFILES: Record<BenchProfile['name'], BenchProfile> = {
  full: {
    name: 'full',
    memory: { connections: 10_000, warmup: 500, settleMs: 3000 },
    connections: { target: 100_000, replicas: 6, workers: 6, balancers: 11, sourceAddresses: 8, perReplicaMax: 19_800, connectPhaseMs: 300_000, holdMs: 10_000, concurrency: 48 },
    latency: { rates: [1000, 5000, 10_000], runs: 5, pairs: 256, workers: 2, warmupMs: 1000, durationMs: 3000, tailMs: 2000, primeMs: 2000, p99BoundMs: 50 },
    search: { maxRate: 20_000, steps: 7, durationMs: 3000 },
    fanout: { members: 1000, publishers: 16, window: 64, durationMs: 8000, workers: 2 },
    drain: { clients: 5000, marked: 1000, windowsMs: [5000, 2000] },
    // 1000 sockets each dropped every ~15 s: ~67 reconnects and resumes a second on top of the traffic;
    // 10,000: ~670 a second (the ceiling).
    jitter: { ladder: [1000, 2500, 5000, 10_000], rate: 200, durationMs: 60_000 },
    socketio: { processes: 2 },
    centrifugo: { nodes: 2 },
    small: { replicas: 2 },
    docker: true,
    cpuProfiles: true,
  },
  quick: {
    name: 'quick',
    memory: { connections: 500, warmup: 50, settleMs: 1500 },
    connections: { target: 1000, replicas: 2, workers: 1, balancers: 2, sourceAddresses: 2, perReplicaMax: 19_800, connectPhaseMs: 8000, holdMs: 500, concurrency: 32 },
    latency: { rates: [1000], runs: 2, pairs: 32, workers: 1, warmupMs: 200, durationMs: 800, tailMs: 500, primeMs: 500, p99BoundMs: 50 },
    search: { maxRate: 2000, steps: 2, durationMs: 800 },
    fanout: { members: 100, publishers: 4, window: 32, durationMs: 1000, workers: 1 },
    drain: { clients: 100, marked: 20, windowsMs: [1000] },
    // Long enough for each socket's first drop (every ~15 s, none in the run's last seconds).
    jitter: { ladder: [40], rate: 20, durationMs: 40_000 },
    socketio: { processes: 2 },
    centrifugo: { nodes: 2 },
    small: { replicas: 2 },
    docker: false,
    cpuProfiles: false,
  },
};

/**
 * Applies "--set=latency.durationMs=3000"-style overrides (numbers, booleans, comma-separated number
 * lists) to a profile; an unknown path or a value of the wrong kind is an error naming it.
 */
export function applyOverrides(profile: BenchProfile, settings: string[]): BenchProfile {
  for (const setting of settings) {
    const m = /^([a-zA-Z]+)\.([a-zA-Z]+)=(.+)$/.exec(setting);
    if (m === null) throw new Error(`--set=${setting}: expected section.key=value, e.g. memory.connections=5000`);
    const [, section = '', key = '', raw = ''] = m;
    const target = (profile as unknown as Record<string, unknown>)[section];
    if (typeof target !== 'object' || target === null || !(key in target)) throw new Error(`--set=${setting}: no setting ${section}.${key}`);
    const obj = target as Record<string, unknown>;
    const current = obj[key];
    if (Array.isArray(current)) obj[key] = raw.split(',').map(Number);
    else if (typeof current === 'boolean') obj[key] = raw === 'true';
    else obj[key] = Number(raw);
    if (typeof current === 'number' && !Number.isFinite(obj[key])) throw new Error(`--set=${setting}: ${raw} is not a number`);
  }
  return profile;
}
