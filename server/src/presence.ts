/**
 * Which user is on which replica, fleet-wide, kept in the JetStream KV bucket wsf_presence, key
 * `<user>.<server>`, value `PresenceValue`: written by the replica holding the user's first
 * socket, deleted when its last one closes. Each replica watches the bucket into a local routing
 * view, so routing a message needs no network round trip; a replica the fleet membership judges
 * dead (fleet-membership.ts) is not routed to, and its entries are purged. A replica that sees its
 * own entry purged while it still holds the user writes it again.
 */
import type { KV } from '@nats-io/kv';
import type { BucketEntry, BucketWatch } from './bucket-watch.js';
import type { FleetMembership } from './fleet-membership.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { parsePresenceKey, presenceKey } from './subjects.js';

/** The value of a `<user>.<server>` key in wsf_presence. */
export interface PresenceValue {
  /** When the user's first socket on that replica opened (ms since the epoch). */
  since: number;
}

export interface PresenceDeps {
  /** The wsf_presence bucket. */
  presence: KV;
  /** A watch of wsf_presence (bucket-watch.ts: it outlives a NATS node's loss, which `kv.watch()` does not for a minute). */
  watch: BucketWatch;
  serverId: string;
  /** Which replicas are alive (heartbeats). */
  membership: Pick<FleetMembership, 'isAlive'>;
  log: Logger;
  metrics: Metrics;
  /** Whether this replica holds a socket of the user right now. */
  holdsLocally: (userId: string) => boolean;
}

export class PresenceDirectory {
  /** user → servers holding at least one of the user's sockets (from the KV watch). */
  private readonly serversByUser = new Map<string, Set<string>>();
  /** Per-key queue, so a user's online/offline writes land in the order they were made. */
  private readonly pending = new Map<string, Promise<void>>();
  /** Users whose last presence write failed: written again (online or offline, as they are now) by `retryFailed`. */
  private readonly dirty = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: PresenceDeps) {}

  async start(): Promise<void> {
    // A replica restarted under the same id may have left entries behind: they are not true any more.
    await this.purgeServer(this.deps.serverId);
    // Ready only once the routing view holds the users already connected elsewhere.
    await this.deps.watch.start((e) => { this.onPresenceEntry(e); });
  }

  /** Live replicas other than this one that hold sockets of `userId`. */
  remoteServersFor(userId: string): string[] {
    const servers = this.serversByUser.get(userId);
    if (servers === undefined) return [];
    const now = Date.now();
    return [...servers].filter((s) => s !== this.deps.serverId && this.deps.membership.isAlive(s, now));
  }

  /** Writes the user's entry; settles (never rejects) once the write is stored or has failed. */
  userOnline(userId: string): Promise<void> {
    this.dirty.delete(userId);
    return this.enqueue(userId, async () => {
      const value: PresenceValue = { since: Date.now() };
      await this.deps.presence.put(presenceKey(userId, this.deps.serverId), JSON.stringify(value));
    });
  }

  userOffline(userId: string): void {
    this.dirty.delete(userId);
    void this.enqueue(userId, () => this.deps.presence.delete(presenceKey(userId, this.deps.serverId)));
  }

  /**
   * Writes every local user's entry again (after NATS came back: writes may have been lost; after
   * another replica purged ours). Settles once every write is stored or has failed.
   */
  async resync(localUsers: Iterable<string>): Promise<void> {
    await Promise.all([...localUsers].map((user) => this.userOnline(user)));
  }

  /** Settles once the user's queued writes have (a connection joining a user already here waits for the first's). */
  written(userId: string): Promise<void> {
    return this.pending.get(userId) ?? Promise.resolve();
  }

  /** Waits for queued presence writes (used by drain before it removes everything). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }

  /** Removes this replica's entries from the directory (its heartbeat is the membership's). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
    await this.purgeServer(this.deps.serverId);
    this.deps.watch.stop();
  }

  /** Writes again the users whose last write failed, as they are now (online or offline): each heartbeat tick. */
  retryFailed(): void {
    if (this.stopped) return;
    for (const user of [...this.dirty]) {
      if (this.deps.holdsLocally(user)) void this.userOnline(user);
      else this.userOffline(user);
    }
  }

  private enqueue(userId: string, write: () => Promise<unknown>): Promise<void> {
    const prev = this.pending.get(userId) ?? Promise.resolve();
    const next = prev
      .then(write)
      .then(() => { this.deps.metrics.presenceWrites.inc({ result: 'ok' }); })
      .catch((err: unknown) => {
        this.deps.metrics.presenceWrites.inc({ result: 'error' });
        this.dirty.add(userId);
        this.deps.log.warn({ err, user: userId }, 'presence write failed; it is written again on the next heartbeat tick');
      });
    this.pending.set(userId, next);
    void next.then(() => {
      if (this.pending.get(userId) === next) this.pending.delete(userId);
    });
    return next;
  }

  /** Purges every entry of a replica (this one at start and stop, a dead one when the membership says so). */
  async purgeServer(serverId: string): Promise<void> {
    try {
      const keys = await this.deps.presence.keys(`*.${serverId}`);
      const doomed: string[] = [];
      for await (const k of keys) doomed.push(k);
      await Promise.all(doomed.map((k) => this.deps.presence.purge(k)));
      for (const k of doomed) this.forget(k);
    } catch (err) {
      this.deps.log.warn({ err, target: serverId }, 'presence purge failed');
    }
  }

  private onPresenceEntry(e: BucketEntry): void {
    if (e.operation !== 'PUT') {
      this.forget(e.key);
      const parsed = parsePresenceKey(e.key);
      // Someone purged our entry (they thought we were dead) while we still hold the user: say so again.
      if (parsed !== null && parsed.serverId === this.deps.serverId && !this.stopped && this.deps.holdsLocally(parsed.userId)) {
        void this.userOnline(parsed.userId);
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
