/**
 * Who is connected where, fleet-wide, kept in two JetStream KV buckets:
 *  - wsf_presence, key `<user>.<server>`: written by the replica holding the user's first socket,
 *    deleted when its last one closes;
 *  - wsf_replicas, key `<server>`: a heartbeat every HEARTBEAT_INTERVAL_MS.
 * Each replica watches both buckets into a local routing view, so routing a message needs no
 * network round trip. A replica whose heartbeat is older than REPLICA_DEAD_AFTER_MS is not routed
 * to, and any live replica purges its presence entries (idempotent, so several may race).
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
  private readonly watchers: QueuedIterator<KvWatchEntry>[] = [];
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
  ) {}

  async start(): Promise<void> {
    // A replica restarted under the same id may have left entries behind: they are not true any more.
    await this.purgeServer(this.serverId);
    await this.heartbeat();
    this.watch(await this.replicas.watch({ key: '>' }), (e) => { this.onReplicaEntry(e); });
    this.watch(await this.presence.watch({ key: '>' }), (e) => { this.onPresenceEntry(e); });
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
    return seen !== undefined && now - seen < this.timing.replicaDeadAfterMs;
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
    this.enqueue(userId, async () => {
      await this.presence.put(presenceKey(userId, this.serverId), JSON.stringify({ since: Date.now() }));
    });
  }

  userOffline(userId: string): void {
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
    for (const w of this.watchers) w.stop();
  }

  private enqueue(userId: string, write: () => Promise<unknown>): void {
    const prev = this.pending.get(userId) ?? Promise.resolve();
    const next = prev
      .then(write)
      .then(() => { this.metrics.presenceWrites.inc({ result: 'ok' }); })
      .catch((err: unknown) => {
        this.metrics.presenceWrites.inc({ result: 'error' });
        this.log.warn({ err, user: userId }, 'presence write failed; it is written again after NATS reconnects');
      });
    this.pending.set(userId, next);
    void next.then(() => {
      if (this.pending.get(userId) === next) this.pending.delete(userId);
    });
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.heartbeat();
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

  private watch(iter: QueuedIterator<KvWatchEntry>, onEntry: (e: KvWatchEntry) => void): void {
    this.watchers.push(iter);
    void (async () => {
      try {
        for await (const e of iter) onEntry(e);
      } catch (err) {
        if (!this.stopped) this.log.error({ err }, 'KV watch ended');
      }
    })();
  }

  private onReplicaEntry(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') {
      this.heartbeats.delete(e.key);
      return;
    }
    const at = e.created.getTime();
    this.heartbeats.set(e.key, at);
  }

  private onPresenceEntry(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') {
      this.forget(e.key);
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
