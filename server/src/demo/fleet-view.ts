/**
 * GET /fleet: what the demo's fleet panel shows, as this replica sees it.
 *  - this replica: open connections and message rates (frames in from clients, out to clients, per
 *    second over the last sampling window), from its own metrics;
 *  - the other replicas, when the server passes a `fleet` source (heartbeats carrying those numbers);
 *  - the NATS nodes of its configuration, each probed with a TCP connect (cached a few seconds).
 */
import net from 'node:net';
import type { Metrics } from '../metrics.js';

export interface ReplicaView {
  id: string;
  connections: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
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

const SAMPLE_MS = 2_000;
const PROBE_CACHE_MS = 3_000;
const PROBE_TIMEOUT_MS = 500;

export class FleetViewer {
  private last: { at: number; in: number; out: number } | undefined;
  private rates = { in: 0, out: 0 };
  private timer: NodeJS.Timeout | undefined;
  private probes: { at: number; result: Promise<NatsNodeView[]> } | undefined;

  constructor(
    private readonly serverId: string,
    private readonly metrics: Metrics,
    private readonly natsServers: readonly string[],
    private readonly source?: FleetSource,
  ) {}

  async view(): Promise<FleetView> {
    this.startSampling();
    const self: ReplicaView = {
      id: this.serverId,
      connections: await this.connections(),
      messagesInPerSec: round(this.rates.in),
      messagesOutPerSec: round(this.rates.out),
      ageMs: 0,
      self: true,
    };
    const others = this.source === undefined ? [] : (await this.source()).filter((r) => r.id !== this.serverId);
    const [natsConnected, nodes] = await Promise.all([this.natsConnected(), this.natsNodes()]);
    return {
      server: this.serverId,
      at: Date.now(),
      replicas: [self, ...others].sort((a, b) => a.id.localeCompare(b.id)),
      source: this.source === undefined ? 'self' : 'heartbeats',
      nats: { connected: natsConnected, nodes },
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private startSampling(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => { void this.sample(); }, SAMPLE_MS);
    this.timer.unref();
  }

  private async sample(): Promise<void> {
    const { values } = await this.metrics.messages.get();
    let inCount = 0;
    let outCount = 0;
    for (const v of values) {
      if (v.labels.direction === 'in') inCount += v.value;
      else if (v.labels.direction === 'out') outCount += v.value;
    }
    const now = Date.now();
    if (this.last !== undefined && now > this.last.at) {
      const sec = (now - this.last.at) / 1000;
      this.rates = { in: (inCount - this.last.in) / sec, out: (outCount - this.last.out) / sec };
    }
    this.last = { at: now, in: inCount, out: outCount };
  }

  private async connections(): Promise<number> {
    return (await this.metrics.connections.get()).values[0]?.value ?? 0;
  }

  private async natsConnected(): Promise<boolean> {
    return ((await this.metrics.natsConnected.get()).values[0]?.value ?? 0) === 1;
  }

  private natsNodes(): Promise<NatsNodeView[]> {
    const now = Date.now();
    if (this.probes === undefined || now - this.probes.at > PROBE_CACHE_MS) {
      this.probes = { at: now, result: Promise.all(this.natsServers.map(async (s) => { const node = hostPort(s); return { node, up: await probe(node) }; })) };
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

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
