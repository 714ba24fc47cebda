/**
 * Which replicas are in the fleet, kept in the JetStream KV bucket wsf_replicas, key `<server>`:
 * every HEARTBEAT_INTERVAL_MS each replica writes its heartbeat, a `ReplicaHeartbeat` (the time,
 * its open connections and its message rates), and reads everyone's. A replica whose last
 * heartbeat is older than REPLICA_DEAD_AFTER_MS is dead: it is not routed to, and any live replica
 * purges it (its heartbeat here; its presence entries through `onReplicaDead`; idempotent, so
 * several may race). Who is on which replica is the presence directory's business (presence.ts).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from './logger.js';
import { parseReplicaLoad, type ReplicaLoad } from './replica-load.js';

export interface MembershipTiming {
  heartbeatIntervalMs: number;
  replicaDeadAfterMs: number;
}

/** The value of a replica's key in wsf_replicas. */
export interface ReplicaHeartbeat extends ReplicaLoad {
  /** When it was written (ms since the epoch, the writer's clock). */
  at: number;
}

/** A live replica as the last read of the heartbeats saw it. */
export interface LiveReplica {
  id: string;
  /** Since its heartbeat was stored (the KV's own timestamp, not the writer's clock). */
  ageMs: number;
  /** Absent when its heartbeat carries no numbers (an older version's). */
  load?: ReplicaLoad;
}

export interface FleetMembershipDeps {
  /** The wsf_replicas bucket. */
  replicas: KV;
  serverId: string;
  timing: MembershipTiming;
  log: Logger;
  /** This replica's numbers for its heartbeat. */
  load: () => Promise<ReplicaLoad>;
}

interface Seen {
  /** When its last heartbeat was stored (ms). */
  at: number;
  load?: ReplicaLoad;
}

export class FleetMembership {
  /** server → its last heartbeat as read from the bucket. */
  private readonly heartbeats = new Map<string, Seen>();
  private readonly tickListeners: (() => void)[] = [];
  private readonly deadListeners: ((serverId: string) => Promise<void>)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastHeartbeatOk = 0;
  private stopped = false;

  constructor(private readonly deps: FleetMembershipDeps) {}

  /** Called after each tick's heartbeat write (the presence directory retries its failed writes). */
  onTick(listener: () => void): void {
    this.tickListeners.push(listener);
  }

  /** Called for a replica found dead, before its heartbeat is purged (the presence directory purges its entries). */
  onReplicaDead(listener: (serverId: string) => Promise<void>): void {
    this.deadListeners.push(listener);
  }

  async start(): Promise<void> {
    await this.heartbeat();
    await this.refresh();
    this.timer = setInterval(() => { void this.tick(); }, this.deps.timing.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** Stops heartbeating and deletes this replica's heartbeat (drain: it leaves the fleet). */
  async stop(): Promise<void> {
    this.halt();
    await this.deps.replicas.delete(this.deps.serverId).catch((err: unknown) => { this.deps.log.warn({ err }, 'could not delete heartbeat'); });
  }

  /** Stops the ticks, leaving the heartbeat in place (until `stop`). */
  halt(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** True while this replica's heartbeat reached the KV recently. */
  get healthy(): boolean {
    return Date.now() - this.lastHeartbeatOk < this.deps.timing.replicaDeadAfterMs;
  }

  isAlive(serverId: string, now = Date.now()): boolean {
    if (serverId === this.deps.serverId) return true;
    const seen = this.heartbeats.get(serverId);
    // A replica whose heartbeat we have not read yet (it just started) is not dead: only a stale one is.
    return seen === undefined || now - seen.at < this.deps.timing.replicaDeadAfterMs;
  }

  /** Every replica whose heartbeat is fresh, this one included once its heartbeat was read, with the numbers it carries. */
  live(): LiveReplica[] {
    const now = Date.now();
    const out: LiveReplica[] = [];
    for (const [id, seen] of this.heartbeats) {
      if (!this.isAlive(id, now)) continue;
      out.push({ id, ageMs: Math.max(0, now - seen.at), ...(seen.load === undefined ? {} : { load: seen.load }) });
    }
    return out;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.heartbeat();
    for (const listener of this.tickListeners) listener();
    // Liveness is read from the bucket itself every tick, not from a watch: a watch that broke
    // (its NATS node died) must never make a live replica look dead and get its presence purged.
    if (!(await this.refresh())) return;
    const now = Date.now();
    for (const [server, seen] of this.heartbeats) {
      if (server !== this.deps.serverId && now - seen.at >= this.deps.timing.replicaDeadAfterMs) {
        this.deps.log.warn({ dead: server, silentMs: now - seen.at }, 'replica stopped heartbeating: purging its presence');
        this.heartbeats.delete(server);
        for (const listener of this.deadListeners) await listener(server);
        await this.deps.replicas.purge(server).catch(() => undefined);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      const beat: ReplicaHeartbeat = { at: Date.now(), ...(await this.deps.load()) };
      await this.deps.replicas.put(this.deps.serverId, JSON.stringify(beat));
      this.lastHeartbeatOk = Date.now();
    } catch (err) {
      this.deps.log.warn({ err }, 'heartbeat write failed');
    }
  }

  /** Reads every replica's last heartbeat from the bucket; false when the bucket could not be read. */
  private async refresh(): Promise<boolean> {
    try {
      const keys: string[] = [];
      for await (const k of await this.deps.replicas.keys()) keys.push(k);
      const entries = await Promise.all(keys.map((k) => this.deps.replicas.get(k)));
      const seen = new Set<string>();
      for (const e of entries) {
        if (e === null || e.operation !== 'PUT') continue;
        seen.add(e.key);
        const at = Math.max(this.heartbeats.get(e.key)?.at ?? 0, e.created.getTime());
        const load = parseReplicaLoad(parseJson(e.string()));
        this.heartbeats.set(e.key, load === undefined ? { at } : { at, load });
      }
      for (const server of this.heartbeats.keys()) if (!seen.has(server)) this.heartbeats.delete(server);
      return true;
    } catch (err) {
      this.deps.log.warn({ err }, 'could not read heartbeats; judging no replica dead this time');
      return false;
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
