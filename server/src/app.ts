/**
 * One replica's lifecycle: listen, connect to NATS, join the directory, serve, drain.
 */
import { createServer, type Server } from 'node:http';
import type { NatsConnection } from '@nats-io/nats-core';
import { Access } from './access.js';
import { CloseCode, CloseReason } from './close-codes.js';
import type { Config } from './config.js';
import { LocalConnections } from './connections.js';
import { Delivery, type SocketWriter } from './delivery.js';
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
import { connectNats, openBuckets } from './nats-setup.js';
import { OrderedDelivery } from './ordered-delivery.js';
import { PresenceDirectory } from './presence.js';

interface Routing {
  nc: NatsConnection;
  delivery: Delivery;
  presence: PresenceDirectory;
  messaging: Messaging;
  ordered: OrderedDelivery;
  cursors: CursorStore;
}

export class App {
  readonly metrics: Metrics;
  private readonly local = new LocalConnections();
  private readonly http: Server;
  private readonly metricsHttp: Server;
  private readonly gateway: Gateway;
  private readonly access: Access;
  private readonly rates: UserRateLimits;
  private routing: Routing | null = null;
  private natsUp = false;
  private draining = false;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.metrics = new Metrics(config.serverId);
    this.access = new Access(config.namespaces);
    this.rates = new UserRateLimits(config.limits.userRatePerSec, config.limits.userRateBurst);
    this.metricsHttp = createMetricsServer(this.metrics, log);
    this.gateway = new Gateway({
      config,
      log,
      metrics: this.metrics,
      local: this.local,
      routing: () => this.routing,
      access: this.access,
      notAcceptingReason: () => this.notReadyReason(),
    });
    this.http = createServer(createHttpHandler({
      config,
      log,
      metrics: this.metrics,
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
    if (!this.routing.presence.healthy) return 'kv_unreachable';
    return null;
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
    const presence = new PresenceDirectory(kv.presence, kv.replicas, this.config.serverId, this.config.timing, this.log, this.metrics, (user) => this.local.ofUser(user) !== undefined);
    const history = await History.open(nc, this.config, this.log, this.metrics);
    const write: SocketWriter = (c, frame, onWritten) => this.gateway.write(c, frame, onWritten);
    const ordered = new OrderedDelivery(history, write, this.metrics, this.log, {
      pageSize: this.config.durability.replayPageSize,
      highWaterBytes: Math.floor(this.config.limits.maxBufferedBytes / 2),
      close: (c, code, reason) => { this.gateway.close(c, code, reason); },
    });
    const delivery = new Delivery(nc, history, ordered, this.local, presence, this.config.serverId, write, this.config.timing.remoteTimeoutMs, this.metrics, this.log);
    await presence.start();
    delivery.start();
    this.watchNats(nc, delivery, presence, ordered);
    this.routing = { nc, delivery, presence, messaging: new Messaging(delivery, this.config.serverId, this.access, this.rates, this.metrics), ordered, cursors: new CursorStore(kv.cursors, this.log) };
    this.gateway.start();
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
          presence.resync(this.local.users());
          // Live messages sent while we were cut off are in the streams: fill each cursor's gap.
          for (const conn of this.local.all()) {
            for (const subject of conn.cursors.keys()) void ordered.catchUp(conn, subject, 'reconnect').catch(() => undefined);
          }
        }
      }
    })();
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
        this.gateway.close(conn, CloseCode.serviceRestart, CloseReason.restart);
        resolve();
      }, Math.random() * windowMs);
    })));
    const deadline = Date.now() + 2_000;
    while (this.local.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const conn of this.local.all()) conn.socket.terminate();
    this.gateway.stop();
    if (this.routing !== null) {
      await this.routing.presence.stop().catch((err: unknown) => { this.log.warn({ err }, 'presence stop failed'); });
      await this.routing.nc.drain().catch((err: unknown) => { this.log.warn({ err }, 'NATS drain failed'); });
    }
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => { this.http.close(() => { resolve(); }); });
    this.metricsHttp.closeAllConnections();
    await new Promise<void>((resolve) => { this.metricsHttp.close(() => { resolve(); }); });
    this.log.info('drained');
  }
}
