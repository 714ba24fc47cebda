/**
 * Which replicas are in the fleet, kept in the JetStream KV bucket wsf_replicas, key `<server>`:
 * every HEARTBEAT_INTERVAL_MS each replica writes its heartbeat, a `ReplicaHeartbeat` (the time,
 * its open connections and its message rates), and reads everyone's. A replica whose last
 * heartbeat is REPLICA_DEAD_AFTER_MS older than the bucket's newest one is dead: it is not routed
 * to, and any live replica whose own heartbeat just landed purges it (its heartbeat here; its
 * presence entries through `onReplicaDead`; idempotent, so several may race).
 *
 * Silence is measured against the bucket's newest heartbeat, not against the local clock: while the
 * bucket has no leader (a NATS node died, an election is on) nobody's heartbeat lands, nobody falls
 * behind, and no live replica is judged dead. Should one be purged all the same, it finds out on
 * its next heartbeat: the write is conditional on the revision of its previous one, the purge moved
 * the key on, the write fails, and `onPurged` listeners (the presence directory) write everything again.
 * Who is on which replica is the presence directory's business (presence.ts).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from './logger.js';
import { wrongLastSequence } from './nats-errors.js';
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
  private readonly purgedListeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastHeartbeatOk = 0;
  /** The revision of this replica's last heartbeat: the next one is written only on top of it. */
  private revision: number | undefined;
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

  /** Called when another replica purged this one's heartbeat (judged it dead) while it lives. */
  onPurged(listener: () => void): void {
    this.purgedListeners.push(listener);
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
    if (seen === undefined) return true;
    const deadAfter = this.deps.timing.replicaDeadAfterMs;
    return now - seen.at < deadAfter || this.newestHeartbeat() - seen.at < deadAfter;
  }

  /** When the newest heartbeat in the bucket was stored (as last read): the bucket's own clock. */
  private newestHeartbeat(): number {
    let newest = 0;
    for (const seen of this.heartbeats.values()) newest = Math.max(newest, seen.at);
    return newest;
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
    const landed = await this.heartbeat();
    for (const listener of this.tickListeners) listener();
    // Liveness is read from the bucket itself every tick, not from a watch: a watch that broke
    // (its NATS node died) must never make a live replica look dead and get its presence purged.
    // Nobody is judged while our own heartbeat does not land: the bucket may be what is failing.
    if (!(await this.refresh()) || !landed) return;
    const now = Date.now();
    for (const [server, seen] of this.heartbeats) {
      if (server !== this.deps.serverId && !this.isAlive(server, now)) {
        this.deps.log.warn({ dead: server, silentMs: now - seen.at }, 'replica stopped heartbeating: purging its presence');
        this.heartbeats.delete(server);
        for (const listener of this.deadListeners) await listener(server);
        await this.deps.replicas.purge(server).catch(() => undefined);
      }
    }
  }

  /** Writes this replica's heartbeat on top of its previous one; true when it landed. */
  private async heartbeat(): Promise<boolean> {
    const { replicas, serverId, log } = this.deps;
    try {
      const beat = JSON.stringify({ at: Date.now(), ...(await this.deps.load()) } satisfies ReplicaHeartbeat);
      try {
        this.revision = this.revision === undefined ? await replicas.put(serverId, beat) : await replicas.update(serverId, beat, this.revision);
      } catch (err) {
        if (wrongLastSequence(err) === undefined) throw err;
        // The key moved on without us: another replica purged it (judged us dead), or a write of
        // ours that timed out had landed after all. Either way, say again everything we hold.
        log.warn('this replica\'s heartbeat was changed by someone else (purged as dead?): writing it and its presence again');
        this.revision = await replicas.put(serverId, beat);
        for (const listener of this.purgedListeners) listener();
      }
      this.lastHeartbeatOk = Date.now();
      return true;
    } catch (err) {
      log.warn({ err }, 'heartbeat write failed');
      return false;
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
