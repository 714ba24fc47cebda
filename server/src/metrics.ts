import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SUSPECT_AFTER_MS } from './nats-liveness.js';

/** Every Prometheus metric the server exports, on its own registry (served at GET /metrics on METRICS_PORT). */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({ name: 'wsfleet_connections', help: 'Open WebSocket connections on this replica', registers: [this.registry] });
  readonly connectionsTotal = new Counter({ name: 'wsfleet_connections_total', help: 'WebSocket connections accepted', registers: [this.registry] });
  readonly upgradesRejected = new Counter({ name: 'wsfleet_upgrades_rejected_total', help: 'Upgrades refused, by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly messages = new Counter({
    name: 'wsfleet_messages_total',
    help: 'Frames handled, by type and direction (in: from clients, out: to clients)',
    labelNames: ['type', 'direction'] as const,
    registers: [this.registry],
  });
  readonly crossReplicaPublishes = new Counter({
    name: 'wsfleet_cross_replica_publishes_total',
    help: 'Messages published to NATS for other replicas, by kind (direct, room, broadcast)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly publishBatchFailures = new Counter({
    name: 'wsfleet_publish_failures_total',
    help: 'Fire-and-forget NATS publishes that threw when their batch was flushed (the connection had closed): not retried',
    registers: [this.registry],
  });
  readonly crossReplicaReceived = new Counter({
    name: 'wsfleet_cross_replica_received_total',
    help: 'Messages received from NATS for local delivery, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'wsfleet_delivery_latency_seconds',
    help: 'Time from a message entering the fleet to its write on the recipient socket, by path (local, remote)',
    labelNames: ['path'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly natsReconnects = new Counter({ name: 'wsfleet_nats_reconnects_total', help: 'Reconnections to NATS', registers: [this.registry] });
  readonly natsProbes = new Counter({ name: 'wsfleet_nats_probes_total', help: `Pings sent to the NATS node because something waited on it past ${SUSPECT_AFTER_MS} ms, by outcome (answered, or silent: the replica moved to another node)`, labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly natsConnected = new Gauge({ name: 'wsfleet_nats_connected', help: '1 while connected to NATS', registers: [this.registry] });
  readonly errorsSent = new Counter({ name: 'wsfleet_client_errors_total', help: 'Error frames and error closes sent to clients, by code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly slowConsumerCloses = new Counter({ name: 'wsfleet_slow_consumer_closes_total', help: 'Connections closed because their send buffer passed the cap', registers: [this.registry] });
  readonly drains = new Counter({ name: 'wsfleet_drains_total', help: 'Graceful drains started', registers: [this.registry] });
  readonly resumes = new Counter({ name: 'wsfleet_resumes_total', help: 'Replays started, by trigger (resume: asked by the client, cursor: from the stored cursor, gap: a hole in the live chain, reconnect: messages found past a cursor after NATS came back, purged: the same after another replica judged this one dead, tail: messages found past a cursor by the check a second after connect)', labelNames: ['trigger'] as const, registers: [this.registry] });
  readonly replayedMessages = new Counter({ name: 'wsfleet_replayed_messages_total', help: 'Messages written from JetStream history rather than live', registers: [this.registry] });
  readonly jetstreamPublishLatency = new Histogram({
    name: 'wsfleet_jetstream_publish_latency_seconds',
    help: 'Time for a message to be stored (JetStream publish acknowledged)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly historyAppendRetries = new Counter({
    name: 'wsfleet_history_append_retries_total',
    help: 'Appends tried again, by reason (conflict: another replica appended to the subject first; in_flight: another append to the subject was still being stored; transient: no stream leader for a moment)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly historyTailReads = new Counter({ name: 'wsfleet_history_tail_reads_total', help: "Reads of a subject's last sequence (before an append whose predecessor this replica did not know, and on connect)", registers: [this.registry] });
  readonly historyReadTimeouts = new Counter({ name: 'wsfleet_history_read_timeouts_total', help: 'Replay page reads (direct-get batches) stopped at their 1 s deadline (routed to a replica that could not answer) and tried again', registers: [this.registry] });
  readonly historyTailFallbacks = new Counter({ name: 'wsfleet_history_tail_fallbacks_total', help: "Replays and cursor starts that took the nearest replica's tail because the stream leader did not answer in time (a leader election)", registers: [this.registry] });
  readonly natsCallbackErrors = new Counter({ name: 'wsfleet_nats_callback_errors_total', help: 'Exceptions thrown by NATS subscription callbacks (caught: the reader keeps running), by first subject token', labelNames: ['subject'] as const, registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'wsfleet_rate_limited_total', help: 'Sends and publishes refused by the per-user rate limit, by transport (ws, http)', labelNames: ['transport'] as const, registers: [this.registry] });
  readonly forbidden = new Counter({ name: 'wsfleet_forbidden_total', help: 'Actions refused by namespace policy or grants, by action', labelNames: ['action'] as const, registers: [this.registry] });
  readonly bufferedBytes = new Gauge({ name: 'wsfleet_buffered_bytes', help: 'Bytes waiting in the send buffers of all sockets on this replica (sampled)', registers: [this.registry] });
  readonly bufferBudgetCloses = new Counter({ name: 'wsfleet_buffer_budget_closes_total', help: 'Connections closed 1013 because the replica was over MAX_BUFFERED_BYTES_TOTAL', registers: [this.registry] });
  readonly tokenExpiryCloses = new Counter({ name: 'wsfleet_token_expiry_closes_total', help: 'Connections closed 4001: token expired and not refreshed in time', registers: [this.registry] });
  readonly presenceWrites = new Counter({ name: 'wsfleet_presence_writes_total', help: 'Presence KV writes, by result', labelNames: ['result'] as const, registers: [this.registry] });

  constructor(serverId: string) {
    this.registry.setDefaultLabels({ server: serverId });
    collectDefaultMetrics({ register: this.registry });
  }
}
