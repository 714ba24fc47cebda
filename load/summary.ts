/**
 * The run's summary: metrics in the shape of k6's summary (metrics[name] = { type, values }), so the
 * thresholds of load/scenarios.js are evaluated the same way for both; what each event cost; and the
 * text rendering (summary.txt).
 */
import { CHAOS_SETTLE_MS, type EventRecord } from './chaos.js';
import { evaluateThresholds, thresholdsFor, type Params } from './scenarios.js';
import { COUNTERS, type Counters, type Histogram, type TrendName } from './stats.js';
import type { Series } from './series.js';

export interface MetricSummary {
  type: 'counter' | 'rate' | 'trend' | 'gauge';
  values: Record<string, number>;
}

export interface MemoryCheck {
  startMs: number | undefined;
  endMs: number | undefined;
  replicas: { replica: string; startBytes: number; endBytes: number; growth: number }[];
  note: string | undefined;
}

export interface EventCost {
  label: string;
  startMs: number;
  endMs: number;
  ok: boolean;
  detail: string;
  /** Over [start, end + CHAOS_SETTLE_MS). */
  window: { sent: number; acked: number; undelivered: number; notStored: number; connectFailures: number; serverCloses: number; reconnects: number; ackP99: number | undefined; e2eP99: number | undefined; e2eMax: number | undefined; replayP99: number | undefined };
}

export function eventWindows(events: EventRecord[]): [number, number][] {
  return events.map((e) => [e.startMs, e.endMs + CHAOS_SETTLE_MS]);
}

export function eventCosts(series: Series, events: EventRecord[]): EventCost[] {
  return events.map((e) => {
    const w = series.window(e.startMs, e.endMs + CHAOS_SETTLE_MS);
    const c = w.counters;
    return {
      label: e.label, startMs: e.startMs, endMs: e.endMs, ok: e.ok, detail: e.detail,
      window: {
        sent: c.messages_sent, acked: c.messages_acked, undelivered: c.messages_undelivered, notStored: c.acks_not_stored,
        connectFailures: c.ws_connect_failures, serverCloses: c.ws_closes_unexpected, reconnects: c.ws_reconnects,
        ackP99: w.trends.ack_latency.quantile(0.99), e2eP99: w.trends.e2e_latency.quantile(0.99), e2eMax: w.trends.e2e_latency.count > 0 ? w.trends.e2e_latency.max : undefined,
        replayP99: w.trends.replay_time.quantile(0.99),
      },
    };
  });
}

export function buildMetrics(p: Params, counters: Counters, trends: Record<TrendName, Histogram>, series: Series, events: EventRecord[], memory: MemoryCheck | undefined): Record<string, MetricSummary> {
  const secs = p.durationMs / 1000;
  const m: Record<string, MetricSummary> = {};
  for (const c of COUNTERS) m[c] = { type: 'counter', values: { count: counters[c], rate: counters[c] / secs } };
  const attempts = counters.ws_connects + counters.ws_connect_failures;
  m.ws_connect_failed = { type: 'rate', values: { rate: attempts === 0 ? 0 : counters.ws_connect_failures / attempts, passes: counters.ws_connect_failures, fails: counters.ws_connects } };
  const outside = series.outside('ws_connect_failures', eventWindows(events));
  m.ws_connect_failed_outside_chaos = { type: 'counter', values: { count: outside } };
  for (const [name, h] of Object.entries(trends)) m[name] = { type: 'trend', values: h.values() };
  // No server-side close, no reconnect: none took longer than the bound (as k6 passes it). Replay time
  // keeps "not measured" instead: the chaos run must show replays to pass.
  if (trends.ws_reconnect_time.count === 0 && counters.ws_closes_unexpected === 0) m.ws_reconnect_time = { type: 'trend', values: { count: 0, max: 0 } };
  if (memory !== undefined && memory.replicas.length > 0 && memory.note === undefined) {
    m.replica_memory_growth = { type: 'gauge', values: { max: Math.max(...memory.replicas.map((r) => r.growth)), value: Math.max(...memory.replicas.map((r) => r.growth)) } };
  }
  return m;
}

export function checkThresholds(p: Params, metrics: Record<string, MetricSummary>): ReturnType<typeof evaluateThresholds> {
  return evaluateThresholds(thresholdsFor(p), metrics);
}

function ms(v: number | undefined): string {
  if (v === undefined) return '–';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

function trendLine(v: Record<string, number>): string {
  if ((v.count ?? 0) === 0) return 'no samples';
  return `med=${ms(v.med)} p(95)=${ms(v['p(95)'])} p(99)=${ms(v['p(99)'])} max=${ms(v.max)}  (${v.count} samples)`;
}

const ROWS: [string, string][] = [
  ['messages_sent', 'send/publish frames written'],
  ['messages_acked', 'acknowledged as delivered (or stored)'],
  ['messages_undelivered', 'not acknowledged (recipient offline, error, socket closed first, no ack in time)'],
  ['messages_received', 'distinct deliveries received'],
  ['messages_lost', 'acknowledged, never received'],
  ['messages_duplicated', 'same message again for the same user'],
  ['messages_missed_offline', 'room deliveries missed while not joined (server without room seq)'],
  ['acks_not_stored', 'acks with stored:false (delivered live, not resumable)'],
  ['server_errors', 'error frames from the server without a request id'],
  ['e2e_latency', 'send → receipt'],
  ['ack_latency', 'send → ack'],
  ['ws_connects', 'established: upgrade + welcome (connects + reconnects)'],
  ['ws_connect_failed', 'attempts that did not reach the welcome'],
  ['ws_connect_failed_outside_chaos', 'of those, outside the event windows (event + 10 s)'],
  ['ws_reconnects', 'server-side closes re-established'],
  ['ws_reconnect_time', 'server-side close → welcome on the replacement'],
  ['replay_time', 'welcome of a resumed connection → replay done'],
  ['ws_reconnect_incomplete', 'sockets down at the end'],
  ['ws_closes_unexpected', 'closes the client did not ask for'],
  ['jitter_drops', 'sockets dropped by the jitter profile (client side, not counted as reconnects)'],
];

export function renderText(o: {
  title: string;
  p: Params;
  target: string;
  workers: number;
  trafficStart: number;
  metrics: Record<string, MetricSummary>;
  results: ReturnType<typeof evaluateThresholds>;
  costs: EventCost[];
  memory: MemoryCheck | undefined;
  problems: string[];
  servers: Record<string, number>;
  /** Sends not acknowledged, by reason (group.ts). */
  undelivered: Record<string, number>;
  /** Closes the client did not ask for, by code and reason (group.ts). */
  closes: Record<string, number>;
  host: string;
}): string {
  const p = o.p;
  const L: string[] = [];
  L.push(o.title);
  L.push(`  ${p.users} users in groups of ${p.groupSize} over ${o.workers} worker process(es), ${p.rate} msg/s for ${p.durationMs / 1000}s (ramp ${p.rampMs / 1000}s, grace ${p.graceMs / 1000}s), rooms of ${p.roomSize}, ${Math.round(p.roomShare * 100)}% room messages, ${p.payloadBytes} B padding`);
  L.push(`  target ${o.target}; traffic from ${new Date(o.trafficStart).toISOString()}; ${o.host}`);
  L.push('');
  for (const [name, what] of ROWS) {
    const m = o.metrics[name];
    if (m === undefined) continue;
    let v: string;
    if (m.type === 'trend') v = trendLine(m.values);
    else if (m.type === 'rate') v = `${((m.values.rate ?? 0) * 100).toFixed(3)}%  (${m.values.passes} of ${(m.values.passes ?? 0) + (m.values.fails ?? 0)})`;
    else v = `${m.values.count ?? 0}${name.startsWith('messages_') && m.values.rate !== undefined ? `  (${(m.values.rate).toFixed(1)}/s of traffic)` : ''}`;
    L.push(`    ${name.padEnd(32)} ${v.padEnd(60)} ${what}`);
  }
  const reasons = Object.entries(o.undelivered).sort((a, b) => b[1] - a[1]);
  if (reasons.length > 0) L.push(`    ${'not acknowledged, by reason'.padEnd(32)} ${reasons.map(([r, n]) => `${r}=${n}`).join(' ')}`);
  const closes = Object.entries(o.closes).sort((a, b) => b[1] - a[1]);
  if (closes.length > 0) L.push(`    ${'closes by code'.padEnd(32)} ${closes.map(([r, n]) => `${r}=${n}`).join(', ')}`);
  const servers = Object.entries(o.servers).sort();
  if (servers.length > 0) L.push(`    ${'welcomes by replica'.padEnd(32)} ${servers.map(([s, n]) => `${s}=${n}`).join(' ')}`);
  if (o.costs.length > 0) {
    L.push('', '  events (times from the start of traffic; cost over the event and the 10 s after it)');
    for (const c of o.costs) {
      const w = c.window;
      L.push(`    +${(c.startMs / 1000).toFixed(0).padStart(3)}s ${c.label.padEnd(40)} took ${((c.endMs - c.startMs) / 1000).toFixed(1).padStart(5)}s ${c.ok ? 'ok    ' : 'FAILED'} ` +
        `closes ${w.serverCloses}, reconnects ${w.reconnects}, connect failures ${w.connectFailures}, undelivered ${w.undelivered}, stored:false ${w.notStored}, ack p99 ${ms(w.ackP99)}, e2e p99 ${ms(w.e2eP99)} (max ${ms(w.e2eMax)}), replay p99 ${ms(w.replayP99)}`);
      if (!c.ok) L.push(`          ${c.detail}`);
    }
  }
  if (o.memory !== undefined) {
    L.push('', `  replica memory (resident, median of 3 samples) from +${ms(o.memory.startMs)} to +${ms(o.memory.endMs)}`);
    for (const r of o.memory.replicas) L.push(`    ${r.replica.padEnd(26)} ${(r.startBytes / 1048576).toFixed(1).padStart(7)} MiB -> ${(r.endBytes / 1048576).toFixed(1).padStart(7)} MiB  ${(r.growth * 100 >= 0 ? '+' : '') + (r.growth * 100).toFixed(1)}%`);
    if (o.memory.note !== undefined) L.push(`    check could not run: ${o.memory.note}`);
  }
  L.push('', '  thresholds');
  for (const r of o.results) L.push(`    ${r.ok ? 'ok  ' : 'FAIL'} ${r.label.padEnd(44)} actual ${r.actual === undefined ? 'not measured' : Number.isInteger(r.actual) ? String(r.actual) : r.actual.toFixed(4)}   ${r.threshold.why}`);
  for (const prob of o.problems) L.push(`    FAIL plan: ${prob}`);
  const failed = o.results.filter((r) => !r.ok).length + o.problems.length;
  L.push('', failed === 0 ? '  result: all thresholds hold' : `  result: ${failed} check(s) failed`, '');
  return L.join('\n');
}
