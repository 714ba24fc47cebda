/**
 * One replica's lifecycle: listen, connect to NATS, join the fleet, serve, drain. This is where the
 * modules are assembled: each gets what it needs as one deps object (server/README.md has the map).
 */
import { createServer, type Server } from 'node:http';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Access } from './access.js';
import { BucketWatch } from './bucket-watch.js';
import { CloseCode, CloseReason } from './close-codes.js';
import type { Config } from './config.js';
import { LocalConnections } from './connections.js';
import { Delivery } from './delivery.js';
import type { ReplicaView } from './demo/fleet-view.js';
import { FleetMembership } from './fleet-membership.js';
import { Gateway } from './gateway.js';
import { createHttpHandler } from './http-api.js';
import type { Logger } from './logger.js';
import { Messaging } from './messaging.js';
import { Metrics } from './metrics.js';
import { createMetricsServer } from './metrics-server.js';
import { guardSubscriptions } from './nats-guard.js';
import { UserRateLimits } from './rate-limit.js';
import { CursorStore } from './cursor-store.js';
import { History } from './history.js';
import { ReplyInbox } from './reply-inbox.js';
import { NatsLiveness } from './nats-liveness.js';
import { connectNats, openBuckets, openStreams } from './nats-setup.js';
import { OrderedDelivery, type ResumeTrigger } from './ordered-delivery.js';
import { PresenceDirectory } from './presence.js';
import { LoadMeter } from './replica-load.js';
import { SocketWriter } from './socket-writer.js';
import { buckets } from './subjects.js';

interface Routing {
  nc: NatsConnection;
  delivery: Delivery;
  presence: PresenceDirectory;
  membership: FleetMembership;
  messaging: Messaging;
  ordered: OrderedDelivery;
  cursors: CursorStore;
  epoch: string;
}

export class App {
  readonly metrics: Metrics;
  private readonly local = new LocalConnections();
  private readonly http: Server;
  private readonly metricsHttp: Server;
  private readonly writer: SocketWriter;
  private readonly gateway: Gateway;
  private readonly access: Access;
  private readonly rates: UserRateLimits;
  private readonly load: LoadMeter;
  private routing: Routing | null = null;
  private natsUp = false;
  private draining = false;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.metrics = new Metrics(config.serverId);
    this.access = new Access(config.namespaces);
    this.rates = new UserRateLimits(config.limits.userRatePerSec, config.limits.userRateBurst);
    this.load = new LoadMeter(this.metrics);
    this.metricsHttp = createMetricsServer(this.metrics, log);
    this.writer = new SocketWriter({ limits: config.limits, pingIntervalMs: config.timing.pingIntervalMs, local: this.local, metrics: this.metrics, log });
    this.gateway = new Gateway({
      config,
      log,
      metrics: this.metrics,
      local: this.local,
      writer: this.writer,
      routing: () => this.routing,
      access: this.access,
      notAcceptingReason: () => this.notReadyReason(),
    });
    this.http = createServer(createHttpHandler({
      config,
      log,
      metrics: this.metrics,
      load: this.load,
      fleet: () => this.otherReplicas(),
      messaging: () => this.routing?.messaging ?? null,
      readiness: () => {
        const reason = this.notReadyReason();
        return reason === null ? { ready: true } : { ready: false, reason };
      },
    }));
    this.http.on('upgrade', (req, socket, head: Buffer) => { this.gateway.handleUpgrade(req, socket, head); });
    this.http.on('clientError', (_err, socket) => { socket.destroy(); });
  }

  /** Why this replica should get no new connections now, or null when it is ready. */
  private notReadyReason(): string | null {
    if (this.draining) return 'draining';
    if (this.routing === null) return 'starting';
    if (!this.natsUp) return 'nats_disconnected';
    if (!this.routing.membership.healthy) return 'kv_unreachable';
    return null;
  }

  /** The other live replicas' numbers, as their heartbeats carry them (for the demo's /fleet). */
  private otherReplicas(): ReplicaView[] {
    const out: ReplicaView[] = [];
    for (const r of this.routing?.membership.live() ?? []) {
      if (r.id !== this.config.serverId && r.load !== undefined) out.push({ id: r.id, ...r.load, ageMs: r.ageMs });
    }
    return out;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.port, this.config.host, () => { resolve(); });
    });
    await new Promise<void>((resolve, reject) => {
      this.metricsHttp.once('error', reject);
      this.metricsHttp.listen(this.config.metrics.port, this.config.metrics.host, () => { resolve(); });
    });
    this.log.info({ port: this.config.port, metricsPort: this.config.metrics.port }, 'listening');
    const nc = guardSubscriptions(await connectNats(this.config), this.log, this.metrics);
    this.natsUp = true;
    this.metrics.natsConnected.set(1);
    this.log.info({ nats: nc.getServer() }, 'connected to NATS');
    const kv = await openBuckets(nc, this.config);
    const epoch = await openStreams(nc, this.config, this.log);
    const { serverId } = this.config;
    const { log, metrics, writer, local } = this;
    this.load.start();
    const membership = new FleetMembership({ replicas: kv.replicas, serverId, timing: this.config.timing, log, load: () => this.load.current() });
    const presenceWatch = new BucketWatch({ js: jetstream(nc), bucket: buckets.presence, log });
    const presence = new PresenceDirectory({ presence: kv.presence, watch: presenceWatch, serverId, membership, log, metrics, holdsLocally: (user) => local.ofUser(user) !== undefined });
    membership.onTick(() => { presence.retryFailed(); });
    membership.onReplicaDead((server) => presence.purgeServer(server));
    const liveness = new NatsLiveness({ nc, log, onProbe: (outcome) => { metrics.natsProbes.inc({ outcome }); } });
    const suspect = (): void => { liveness.suspect(); };
    const inbox = ReplyInbox.started(nc, { onSlow: suspect });
    const history = await History.open(nc, this.config, log, metrics, inbox, suspect);
    const ordered = new OrderedDelivery({
      history,
      writer,
      metrics,
      log,
      pageSize: this.config.durability.replayPageSize,
      highWaterBytes: Math.floor(this.config.limits.maxBufferedBytes / 2),
      maxBufferedBytes: this.config.limits.maxBufferedBytes,
    });
    const delivery = new Delivery({ nc, inbox, history, ordered, local, presence, writer, serverId, remoteTimeoutMs: this.config.timing.remoteTimeoutMs, metrics, log });
    // Judged dead by another replica: senders skipped this one for its users meanwhile (their
    // messages went to history only), so once the presence is back every cursor reads its tail, and
    // again a second later (a send that beat the senders' view of the rewritten presence).
    membership.onPurged(() => {
      void presence.resync(local.users()).then(() => { this.catchUpEveryCursor(ordered, 'purged', true); });
    });
    await presence.start();
    await membership.start();
    delivery.start();
    this.watchNats(nc, delivery, presence, ordered);
    const messaging = new Messaging({ delivery, serverId, access: this.access, rates: this.rates, metrics, directDelivery: this.config.directDelivery });
    this.routing = { nc, delivery, presence, membership, messaging, ordered, cursors: new CursorStore(kv.cursors, log, epoch), epoch };
    writer.start();
    this.log.info('ready');
  }

  private watchNats(nc: NatsConnection, delivery: Delivery, presence: PresenceDirectory, ordered: OrderedDelivery): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.natsUp = false;
          delivery.setNatsUp(false);
          this.metrics.natsConnected.set(0);
          this.log.warn('disconnected from NATS');
        } else if (s.type === 'reconnect') {
          this.natsUp = true;
          delivery.setNatsUp(true);
          this.metrics.natsConnected.set(1);
          this.metrics.natsReconnects.inc();
          this.log.info({ nats: nc.getServer() }, 'reconnected to NATS: rewriting presence');
          // Live messages sent while we were cut off are in the streams: fill each cursor's gap now,
          // and again once the presence is rewritten (a send that raced our subscriptions reaching
          // the rest of the cluster found no responders and went to history only; the subscriptions
          // went out on this connection before the presence writes did).
          this.catchUpEveryCursor(ordered, 'reconnect', false);
          void presence.resync(this.local.users()).then(() => { this.catchUpEveryCursor(ordered, 'reconnect', false); });
        }
      }
    })();
  }

  /**
   * Every local cursor reads history past itself (ordered-delivery.ts `catchUp`: one read of the
   * tail from the stream leader per cursor), and, with `late`, once more a moment later
   * (`checkTailSoon`): for when live messages may have gone to history only.
   */
  private catchUpEveryCursor(ordered: OrderedDelivery, trigger: ResumeTrigger, late: boolean): void {
    for (const conn of this.local.all()) {
      for (const subject of conn.cursors.keys()) {
        void ordered.catchUp(conn, subject, trigger).catch(() => undefined);
        if (late) ordered.checkTailSoon(conn, subject);
      }
    }
  }

  /**
   * Graceful drain (SIGTERM): not ready at once, no new upgrades, every client closed with 1012
   * at a random moment within the drain window (so they do not all reconnect at once), presence
   * removed, NATS drained, HTTP closed.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.metrics.drains.inc();
    const windowMs = this.config.timing.drainWindowMs;
    const conns = [...this.local.all()];
    this.log.info({ connections: conns.length, windowMs }, 'draining');
    await Promise.all(conns.map((conn) => new Promise<void>((resolve) => {
      setTimeout(() => {
        this.writer.close(conn, CloseCode.serviceRestart, CloseReason.restart);
        resolve();
      }, Math.random() * windowMs);
    })));
    const deadline = Date.now() + 2_000;
    while (this.local.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const conn of this.local.all()) conn.socket.terminate();
    this.writer.stop();
    this.load.stop();
    if (this.routing !== null) {
      this.routing.membership.halt();
      await this.routing.presence.stop().catch((err: unknown) => { this.log.warn({ err }, 'presence stop failed'); });
      await this.routing.membership.stop();
      await this.routing.nc.drain().catch((err: unknown) => { this.log.warn({ err }, 'NATS drain failed'); });
    }
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => { this.http.close(() => { resolve(); }); });
    this.metricsHttp.closeAllConnections();
    await new Promise<void>((resolve) => { this.metricsHttp.close(() => { resolve(); }); });
    this.log.info('drained');
  }
}
