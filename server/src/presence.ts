/**
 * Who is connected where, fleet-wide, kept in two JetStream KV buckets:
 *  - wsf_presence, key `<user>.<server>`: written by the replica holding the user's first socket,
 *    deleted when its last one closes;
 *  - wsf_replicas, key `<server>`: a heartbeat every HEARTBEAT_INTERVAL_MS.
 * Each replica watches the presence bucket into a local routing view, so routing a message needs no
 * network round trip, and reads the heartbeats every tick. A replica whose heartbeat is older than
 * REPLICA_DEAD_AFTER_MS is not routed to, and any live replica purges its presence entries
 * (idempotent, so several may race). A replica that sees its own entry purged while it still holds
 * the user writes it again.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { QueuedIterator } from '@nats-io/nats-core';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { parsePresenceKey, presenceKey } from './subjects.js';

export interface PresenceTiming {
  heartbeatIntervalMs: number;
  replicaDeadAfterMs: number;
}

export class PresenceDirectory {
  /** user → servers holding at least one of the user's sockets (from the KV watch). */
  private readonly serversByUser = new Map<string, Set<string>>();
  /** server → time its last heartbeat was written (ms). */
  private readonly heartbeats = new Map<string, number>();
  /** Per-key queue, so a user's online/offline writes land in the order they were made. */
  private readonly pending = new Map<string, Promise<void>>();
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  /** Users whose last presence write failed: written again (online or offline, as they are now) next tick. */
  private readonly dirty = new Set<string>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeartbeatOk = 0;
  private stopped = false;

  constructor(
    private readonly presence: KV,
    private readonly replicas: KV,
    private readonly serverId: string,
    private readonly timing: PresenceTiming,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Whether this replica holds a socket of the user right now. */
    private readonly holdsLocally: (userId: string) => boolean = () => false,
  ) {}

  async start(): Promise<void> {
    // A replica restarted under the same id may have left entries behind: they are not true any more.
    await this.purgeServer(this.serverId);
    await this.heartbeat();
    await this.refreshHeartbeats();
    this.watchPresence();
    this.heartbeatTimer = setInterval(() => { void this.tick(); }, this.timing.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
  }

  /** True while this replica's heartbeat reached the KV recently. */
  get healthy(): boolean {
    return Date.now() - this.lastHeartbeatOk < this.timing.replicaDeadAfterMs;
  }

  isAlive(serverId: string, now = Date.now()): boolean {
    if (serverId === this.serverId) return true;
    const seen = this.heartbeats.get(serverId);
    // A replica whose heartbeat we have not read yet (it just started) is not dead: only a stale one is.
    return seen === undefined || now - seen < this.timing.replicaDeadAfterMs;
  }

  /** Live replicas other than this one that hold sockets of `userId`. */
  remoteServersFor(userId: string): string[] {
    const servers = this.serversByUser.get(userId);
    if (servers === undefined) return [];
    const now = Date.now();
    return [...servers].filter((s) => s !== this.serverId && this.isAlive(s, now));
  }

  aliveServers(): string[] {
    const now = Date.now();
    return [...this.heartbeats.keys()].filter((s) => this.isAlive(s, now));
  }

  userOnline(userId: string): void {
    this.dirty.delete(userId);
    this.enqueue(userId, async () => {
      await this.presence.put(presenceKey(userId, this.serverId), JSON.stringify({ since: Date.now() }));
    });
  }

  userOffline(userId: string): void {
    this.dirty.delete(userId);
    this.enqueue(userId, () => this.presence.delete(presenceKey(userId, this.serverId)));
  }

  /** Writes every local user's entry again (after NATS came back: writes may have been lost). */
  resync(localUsers: Iterable<string>): void {
    for (const user of localUsers) this.userOnline(user);
  }

  /** Waits for queued presence writes (used by drain before it removes everything). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }

  /** Removes this replica from the directory: its presence entries and heartbeat. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    await this.flush();
    await this.purgeServer(this.serverId);
    await this.replicas.delete(this.serverId).catch((err: unknown) => { this.log.warn({ err }, 'could not delete heartbeat'); });
    this.watcher?.stop();
  }

  private enqueue(userId: string, write: () => Promise<unknown>): void {
    const prev = this.pending.get(userId) ?? Promise.resolve();
    const next = prev
      .then(write)
      .then(() => { this.metrics.presenceWrites.inc({ result: 'ok' }); })
      .catch((err: unknown) => {
        this.metrics.presenceWrites.inc({ result: 'error' });
        this.dirty.add(userId);
        this.log.warn({ err, user: userId }, 'presence write failed; it is written again on the next heartbeat tick');
      });
    this.pending.set(userId, next);
    void next.then(() => {
      if (this.pending.get(userId) === next) this.pending.delete(userId);
    });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.heartbeat();
    for (const user of [...this.dirty]) {
      if (this.holdsLocally(user)) this.userOnline(user);
      else this.userOffline(user);
    }
    // Liveness is read from the bucket itself every tick, not from a watch: a watch that broke
    // (its NATS node died) must never make a live replica look dead and get its presence purged.
    if (!(await this.refreshHeartbeats())) return;
    const now = Date.now();
    for (const [server, seen] of this.heartbeats) {
      if (server !== this.serverId && now - seen >= this.timing.replicaDeadAfterMs) {
        this.log.warn({ dead: server, silentMs: now - seen }, 'replica stopped heartbeating: purging its presence');
        this.heartbeats.delete(server);
        await this.purgeServer(server);
        await this.replicas.purge(server).catch(() => undefined);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.replicas.put(this.serverId, JSON.stringify({ at: Date.now() }));
      this.lastHeartbeatOk = Date.now();
    } catch (err) {
      this.log.warn({ err }, 'heartbeat write failed');
    }
  }

  private async purgeServer(serverId: string): Promise<void> {
    try {
      const keys = await this.presence.keys(`*.${serverId}`);
      const doomed: string[] = [];
      for await (const k of keys) doomed.push(k);
      await Promise.all(doomed.map((k) => this.presence.purge(k)));
      for (const k of doomed) this.forget(k);
    } catch (err) {
      this.log.warn({ err, target: serverId }, 'presence purge failed');
    }
  }

  /** Reads every replica's last heartbeat from the bucket; false when the bucket could not be read. */
  private async refreshHeartbeats(): Promise<boolean> {
    try {
      const keys: string[] = [];
      for await (const k of await this.replicas.keys()) keys.push(k);
      const entries = await Promise.all(keys.map((k) => this.replicas.get(k)));
      const seen = new Set<string>();
      for (const e of entries) {
        if (e === null || e.operation !== 'PUT') continue;
        seen.add(e.key);
        this.heartbeats.set(e.key, Math.max(this.heartbeats.get(e.key) ?? 0, e.created.getTime()));
      }
      for (const server of this.heartbeats.keys()) if (!seen.has(server)) this.heartbeats.delete(server);
      return true;
    } catch (err) {
      this.log.warn({ err }, 'could not read heartbeats; judging no replica dead this time');
      return false;
    }
  }

  /** Read through a method: `stopped` changes while the watch loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Watches the presence bucket into the routing view, reopening the watch whenever it ends. */
  private watchPresence(): void {
    void (async () => {
      while (!this.stopped) {
        try {
          const iter = await this.presence.watch({ key: '>' });
          this.watcher = iter;
          for await (const e of iter) this.onPresenceEntry(e);
        } catch (err) {
          if (!this.isStopped()) this.log.warn({ err }, 'presence watch ended; reopening');
        }
        if (!this.isStopped()) await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }

  private onPresenceEntry(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') {
      this.forget(e.key);
      const parsed = parsePresenceKey(e.key);
      // Someone purged our entry (they thought we were dead) while we still hold the user: say so again.
      if (parsed !== null && parsed.serverId === this.serverId && !this.stopped && this.holdsLocally(parsed.userId)) {
        this.userOnline(parsed.userId);
      }
      return;
    }
    const parsed = parsePresenceKey(e.key);
    if (parsed === null) return;
    let set = this.serversByUser.get(parsed.userId);
    if (set === undefined) {
      set = new Set();
      this.serversByUser.set(parsed.userId, set);
    }
    set.add(parsed.serverId);
  }

  private forget(key: string): void {
    const parsed = parsePresenceKey(key);
    if (parsed === null) return;
    const set = this.serversByUser.get(parsed.userId);
    set?.delete(parsed.serverId);
    if (set?.size === 0) this.serversByUser.delete(parsed.userId);
  }
}
