/**
 * Faults and scale steps at fixed points of a run, and the run's record of them. A plan is a list
 * "<time from traffic start>=<action>[:args]" (the scale plan of soak/scale is the same thing with
 * only scale actions). Events run one after the other: one that starts late (the previous ran long)
 * still runs, unless less than 10 s of traffic are left; that is a plan problem and fails the run.
 *
 *   crash-replica:N        SIGKILL of <prefix>-ws-N's process; its restart policy brings it back
 *   kill-nats:N:DOWN       docker kill <prefix>-nats-N, docker start after DOWN
 *   partition-nats:N:FOR   docker network disconnect <prefix>-nats-N for FOR, then connect
 *   scale:N                the project's scale command to N replicas
 *   rolling                a rolling deploy of a changed server build (FleetOps.rollingDeploy: the deploy command's roll verb,
 *                          or the command in WSFLEET_ROLLING_CMD)
 */
import { ConfigError, parseDurationMs } from './scenarios.js';
import { sleep, type FleetOps } from './fleet.js';

export type ChaosAction =
  | { kind: 'crash-replica'; replica: number }
  | { kind: 'kill-nats'; node: number; downMs: number }
  | { kind: 'partition-nats'; node: number; forMs: number }
  | { kind: 'scale'; replicas: number }
  | { kind: 'rolling' };

export interface PlannedEvent {
  atMs: number;
  action: ChaosAction;
}

export interface EventRecord {
  label: string;
  kind: ChaosAction['kind'];
  plannedAtMs: number;
  /** From the start of traffic. */
  startMs: number;
  endMs: number;
  ok: boolean;
  detail: string;
}

/** The CI chaos plan for 270 s of traffic: every fault, one after the other, with time to recover. */
export const DEFAULT_CHAOS_PLAN = '15s=crash-replica:1,40s=kill-nats:2:15s,80s=scale:5,135s=scale:2,190s=partition-nats:3:20s,230s=rolling';

/** The jitter profile (as AnyCable's published test): each socket dropped about every 15 s for about 2 s. */
export const DEFAULT_JITTER = { everyMs: 15_000, spreadMs: 3000, downMs: 2000, downSpreadMs: 500, stopBeforeEndMs: 20_000 };

/** After an event ends, connect failures still count as its cost (not "outside the chaos windows") this long. */
export const CHAOS_SETTLE_MS = 10_000;

function positive(item: string, v: string | undefined, max: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 1 || n > max) throw new ConfigError(`WSFLEET_CHAOS_PLAN item ${JSON.stringify(item)}: ${JSON.stringify(v)} must be a whole number from 1 to ${max}`);
  return n;
}

export function parseChaosPlan(plan: string): PlannedEvent[] {
  if (plan.trim() === '') return [];
  const out: PlannedEvent[] = [];
  for (const item of plan.split(',').map((s) => s.trim())) {
    const m = /^([0-9.]+(?:ms|s|m|h)?)=([a-z-]+)((?::[0-9a-z.]+)*)$/.exec(item);
    if (m?.[1] === undefined || m[2] === undefined) throw new ConfigError(`WSFLEET_CHAOS_PLAN item ${JSON.stringify(item)}: must be <time>=<action>[:args], e.g. 15s=crash-replica:1`);
    const atMs = parseDurationMs('WSFLEET_CHAOS_PLAN', m[1]);
    const args = (m[3] ?? '').split(':').slice(1);
    let action: ChaosAction;
    switch (m[2]) {
      case 'crash-replica':
        action = { kind: 'crash-replica', replica: positive(item, args[0], 64) };
        break;
      case 'kill-nats':
        action = { kind: 'kill-nats', node: positive(item, args[0], 9), downMs: parseDurationMs('WSFLEET_CHAOS_PLAN', args[1] ?? '15s') };
        break;
      case 'partition-nats':
        action = { kind: 'partition-nats', node: positive(item, args[0], 9), forMs: parseDurationMs('WSFLEET_CHAOS_PLAN', args[1] ?? '20s') };
        break;
      case 'scale':
        action = { kind: 'scale', replicas: positive(item, args[0], 64) };
        break;
      case 'rolling':
        action = { kind: 'rolling' };
        break;
      default:
        throw new ConfigError(`WSFLEET_CHAOS_PLAN item ${JSON.stringify(item)}: unknown action ${JSON.stringify(m[2])} (crash-replica, kill-nats, partition-nats, scale, rolling)`);
    }
    const prev = out[out.length - 1];
    if (prev !== undefined && atMs <= prev.atMs) throw new ConfigError(`WSFLEET_CHAOS_PLAN=${JSON.stringify(plan)}: times must increase`);
    out.push({ atMs, action });
  }
  return out;
}

export function describeAction(a: ChaosAction): string {
  switch (a.kind) {
    case 'crash-replica': return `SIGKILL replica ws-${a.replica}`;
    case 'kill-nats': return `docker kill nats-${a.node}, start after ${a.downMs / 1000} s`;
    case 'partition-nats': return `partition nats-${a.node} for ${a.forMs / 1000} s`;
    case 'scale': return `scale to ${a.replicas}`;
    case 'rolling': return 'rolling deploy';
  }
}

export interface ChaosDeps {
  ops: FleetOps;
  trafficStart: number;
  trafficEnd: number;
  rollingCmd: string[] | undefined;
  /** Names the run (the changed build of a rolling deploy says which run made it). */
  runId: string;
  log: (text: string) => void;
  /** Aborted when the run is interrupted: the executor stops starting events (a running one finishes its undo). */
  signal: AbortSignal;
}

async function perform(a: ChaosAction, d: ChaosDeps): Promise<string> {
  const ops = d.ops;
  switch (a.kind) {
    case 'crash-replica':
      return ops.crashReplica(ops.replicaName(a.replica), 90_000);
    case 'kill-nats': {
      const name = ops.natsName(a.node);
      await ops.dockerKill(name);
      await sleep(a.downMs);
      await ops.dockerStart(name);
      return `${name} killed, started again after ${a.downMs / 1000} s`;
    }
    case 'partition-nats': {
      const name = ops.natsName(a.node);
      await ops.disconnect(name);
      try {
        await sleep(a.forMs);
      } finally {
        await ops.connect(name);
      }
      return `${name} cut off from ${ops.networkName()} for ${a.forMs / 1000} s`;
    }
    case 'scale': {
      const r = await ops.scale(a.replicas, 900_000);
      if (r.code !== 0) throw new Error(`scale command exited ${String(r.code)}: ${r.output.slice(-800)}`);
      return `scale command took ${(r.ms / 1000).toFixed(1)} s`;
    }
    case 'rolling': {
      const r = await ops.rollingDeploy(d.runId, d.rollingCmd, 900_000);
      if (r.code !== 0) throw new Error(`rolling deploy exited ${String(r.code)}: ${r.output.slice(-800)}`);
      return `rolling deploy took ${(r.ms / 1000).toFixed(1)} s${rollingSteps(r.output)}`;
    }
  }
}

/** The steps from the roll verb's JSON line on stdout, when there is one. */
function rollingSteps(output: string): string {
  for (const line of output.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const rep = JSON.parse(line) as { steps?: { replica: number; applySeconds: number; routedSeconds: number }[] };
      if (Array.isArray(rep.steps)) return `: ${rep.steps.map((st) => `ws-${st.replica} applied in ${st.applySeconds.toFixed(1)} s, routed after ${st.routedSeconds.toFixed(1)} s`).join('; ')}`;
    } catch {
      // not the report line
    }
  }
  return '';
}

/** Runs the plan on the run's timeline; resolves with every event's record and the plan's problems. */
export async function runPlan(plan: PlannedEvent[], d: ChaosDeps): Promise<{ events: EventRecord[]; problems: string[] }> {
  const events: EventRecord[] = [];
  const problems: string[] = [];
  for (const ev of plan) {
    await sleep(d.trafficStart + ev.atMs - Date.now());
    if (d.signal.aborted) break;
    const label = describeAction(ev.action);
    if (Date.now() > d.trafficEnd - 10_000) {
      problems.push(`${label} (planned at +${ev.atMs / 1000} s) could not start with 10 s of traffic left: the previous event ran late`);
      break;
    }
    const start = Date.now();
    d.log(`+${Math.round((start - d.trafficStart) / 1000)}s ${label}`);
    let ok = true;
    let detail: string;
    try {
      detail = await perform(ev.action, d);
    } catch (err) {
      ok = false;
      detail = err instanceof Error ? err.message : String(err);
      problems.push(`${label}: ${detail}`);
    }
    const end = Date.now();
    d.log(`+${Math.round((end - d.trafficStart) / 1000)}s ${label}: ${ok ? 'done' : 'FAILED'} after ${((end - start) / 1000).toFixed(1)} s (${detail})`);
    events.push({ label, kind: ev.action.kind, plannedAtMs: ev.atMs, startMs: start - d.trafficStart, endMs: end - d.trafficStart, ok, detail });
    if (end > d.trafficEnd - 10_000) problems.push(`${label} ended ${Math.round((end - d.trafficStart) / 1000)} s into ${Math.round((d.trafficEnd - d.trafficStart) / 1000)} s of traffic: less than 10 s of traffic after it`);
  }
  return { events, problems };
}
