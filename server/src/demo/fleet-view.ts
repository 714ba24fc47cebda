/**
 * GET /fleet: what the demo's fleet panel shows, as this replica sees it.
 *  - this replica: open connections and message rates (frames in from clients, out to clients, per
 *    second over the last sampling window), from its own load meter (replica-load.ts);
 *  - every other live replica, when the server passes a `fleet` source: the same numbers, carried by
 *    their heartbeats (fleet-membership.ts), so any one answer shows the whole fleet;
 *  - the NATS nodes of its configuration, each probed with a TCP connect (cached a few seconds).
 */
import net from 'node:net';
import type { LoadMeter, ReplicaLoad } from '../replica-load.js';
import type { Metrics } from '../metrics.js';

export interface ReplicaView extends ReplicaLoad {
  id: string;
  /** Age of the numbers (ms): 0 for this replica, the heartbeat's age for the others. */
  ageMs: number;
  self?: boolean;
}

export interface NatsNodeView {
  /** host:port from NATS_URLS (no credentials). */
  node: string;
  up: boolean;
}

export interface FleetView {
  server: string;
  at: number;
  replicas: ReplicaView[];
  /** 'heartbeats': every live replica; 'self': only this one (the server passed no heartbeat source). */
  source: 'heartbeats' | 'self';
  nats: { connected: boolean; nodes: NatsNodeView[] };
}

/** Other replicas' numbers, e.g. from their heartbeats. */
export type FleetSource = () => Promise<ReplicaView[]> | ReplicaView[];

const PROBE_CACHE_MS = 3_000;
const PROBE_TIMEOUT_MS = 500;

export interface FleetViewerDeps {
  serverId: string;
  /** For whether this replica is connected to NATS. */
  metrics: Metrics;
  /** This replica's own numbers. */
  load: LoadMeter;
  natsServers: readonly string[];
  /** The other replicas' numbers (from their heartbeats); without it the view shows this replica only. */
  source?: FleetSource | undefined;
}

export class FleetViewer {
  private probes: { at: number; result: Promise<NatsNodeView[]> } | undefined;

  constructor(private readonly deps: FleetViewerDeps) {}

  async view(): Promise<FleetView> {
    this.deps.load.start();
    const self: ReplicaView = { id: this.deps.serverId, ...(await this.deps.load.current()), ageMs: 0, self: true };
    const others = this.deps.source === undefined ? [] : (await this.deps.source()).filter((r) => r.id !== this.deps.serverId);
    const [natsConnected, nodes] = await Promise.all([this.natsConnected(), this.natsNodes()]);
    return {
      server: this.deps.serverId,
      at: Date.now(),
      replicas: [self, ...others].sort((a, b) => a.id.localeCompare(b.id)),
      source: this.deps.source === undefined ? 'self' : 'heartbeats',
      nats: { connected: natsConnected, nodes },
    };
  }

  private async natsConnected(): Promise<boolean> {
    return ((await this.deps.metrics.natsConnected.get()).values[0]?.value ?? 0) === 1;
  }

  private natsNodes(): Promise<NatsNodeView[]> {
    const now = Date.now();
    if (this.probes === undefined || now - this.probes.at > PROBE_CACHE_MS) {
      this.probes = { at: now, result: Promise.all(this.deps.natsServers.map(async (s) => { const node = hostPort(s); return { node, up: await probe(node) }; })) };
    }
    return this.probes.result;
  }
}

/** host:port of a NATS URL, without scheme or credentials. */
export function hostPort(server: string): string {
  try {
    const u = new URL(server.includes('://') ? server : `nats://${server}`);
    return `${u.hostname}:${u.port === '' ? '4222' : u.port}`;
  } catch {
    return server;
  }
}

function probe(node: string): Promise<boolean> {
  const i = node.lastIndexOf(':');
  const host = node.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(node.slice(i + 1));
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (up: boolean): void => { s.destroy(); resolve(up); };
    s.setTimeout(PROBE_TIMEOUT_MS, () => { done(false); });
    s.once('connect', () => { done(true); });
    s.once('error', () => { done(false); });
  });
}
