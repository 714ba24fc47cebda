/**
 * End-of-test reports: a text summary on stdout (and summary.txt), and summary.json with the run's
 * parameters, timeline, every metric and every threshold's verdict, both in WSFLEET_RESULTS_DIR.
 */

const SECTIONS = [
  ['messages', [
    ['messages_sent', 'frames send/publish written'],
    ['messages_acked', 'acknowledged as delivered (or stored)'],
    ['messages_undelivered', 'not acknowledged (recipient offline, error, socket closed first)'],
    ['messages_received', 'distinct deliveries received'],
    ['messages_lost', 'acknowledged, never received'],
    ['messages_duplicated', 'same message again, new seq or none'],
    ['messages_redelivered', 'replays of a seq already seen (dropped)'],
    ['messages_missed_offline', 'room deliveries missed while not joined (server without seq)'],
    ['server_errors', 'error frames from the server'],
    ['e2e_latency', 'send → receipt'],
  ]],
  ['connections', [
    ['ws_connects', 'established: upgrade + welcome (connects + reconnects)'],
    ['ws_connect_failed', 'attempts refused, failed, timed out or closed before the welcome'],
    ['ws_reconnects', 'dropped sockets re-established'],
    ['ws_reconnect_time', 'close → welcome on the replacement'],
    ['ws_reconnect_incomplete', 'sockets still down at the end'],
    ['ws_closes_unexpected', 'closes the client did not ask for'],
    ['ws_first_frames_dropped', 'k6 dropped the first frames (no welcome first): reopened'],
    ['ws_connecting', 'TCP + upgrade handshake (k6 built-in)'],
    ['ws_msgs_sent', 'frames sent (k6 built-in)'],
    ['ws_msgs_received', 'frames received (k6 built-in)'],
  ]],
];

function fmtNum(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(4);
}

function fmtMs(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n);
  return n >= 1000 ? `${(n / 1000).toFixed(2)}s` : `${n.toFixed(2)}ms`;
}

function describeValues(metric, trafficSec) {
  const v = metric.values;
  switch (metric.type) {
    case 'counter':
      // Message counts per second of traffic (k6's own rate divides by the whole run, ramp and grace included).
      return trafficSec > 0 ? `${fmtNum(v.count)}  (${fmtNum(v.count / trafficSec)}/s of traffic)` : fmtNum(v.count);
    case 'rate':
      return `${(v.rate * 100).toFixed(3)}%  (${fmtNum(v.passes)} of ${fmtNum(v.passes + v.fails)})`;
    case 'gauge':
      return `${fmtNum(v.value)}  (min ${fmtNum(v.min)}, max ${fmtNum(v.max)})`;
    case 'trend': {
      const f = metric.contains === 'time' ? fmtMs : fmtNum;
      return ['med', 'p(95)', 'p(99)', 'max'].filter((k) => v[k] !== undefined).map((k) => `${k}=${f(v[k])}`).join(' ');
    }
    default:
      return JSON.stringify(v);
  }
}

/** Must match lib/run.js: the always-true threshold that only makes k6 keep a tagged sub-metric. */
const BREAKDOWN = 'count>=0';

function thresholdsOf(metric) {
  if (metric.thresholds === undefined) return [];
  return Object.keys(metric.thresholds)
    .filter((expr) => expr !== BREAKDOWN)
    .map((expr) => ({ expr, ok: metric.thresholds[expr].ok }));
}

/** "messages_lost{kind:direct}" sub-metrics of `name` with a non-zero count, as "kind:direct=3". */
function breakdownOf(data, name) {
  const parts = [];
  for (const key of Object.keys(data.metrics).sort()) {
    if (!key.startsWith(`${name}{`)) continue;
    const count = data.metrics[key].values.count;
    if (count > 0) parts.push(`${key.slice(name.length + 1, -1)}=${count}`);
  }
  return parts.join(' ');
}

export function renderText(data, params, schedule) {
  const lines = [];
  const dur = data.state === undefined ? 0 : data.state.testRunDurationMs;
  lines.push(`ws-fleet k6 ${params.script}${params.label ? ` (${params.label})` : ''}: ${fmtMs(dur)}`);
  lines.push(
    `  ${params.users} users in ${params.vus} VU groups of ${params.usersPerVu}, ${params.rate} msg/s for ${params.durationMs / 1000}s` +
      ` (ramp ${params.rampMs / 1000}s, grace ${params.graceMs / 1000}s), rooms of ${params.roomSize}, ${Math.round(params.roomShare * 100)}% room messages, ${params.payloadBytes} B padding, target ${params.wsUrl}`,
  );
  if (schedule !== undefined) lines.push(`  traffic ${new Date(schedule.trafficStart).toISOString()} → ${new Date(schedule.trafficEnd).toISOString()}`);
  const failed = [];
  for (const [title, rows] of SECTIONS) {
    lines.push('', `  ${title}`);
    for (const [name, what] of rows) {
      const m = data.metrics[name];
      if (m === undefined) {
        // k6 leaves out metrics that got no sample; for our counters that means zero.
        if (name.startsWith('messages_') || name === 'server_errors' || name === 'ws_reconnects' || name === 'ws_reconnect_incomplete' || name === 'ws_closes_unexpected' || name === 'ws_first_frames_dropped') {
          lines.push(`    ${name.padEnd(26)} ${'0'.padEnd(52)} ${what}`);
        }
        continue;
      }
      const perSec = name.startsWith('messages_') || name === 'server_errors' ? params.durationMs / 1000 : 0;
      lines.push(`    ${name.padEnd(26)} ${describeValues(m, perSec).padEnd(52)} ${what}`);
      const parts = breakdownOf(data, name);
      if (parts !== '') lines.push(`    ${''.padEnd(26)}   ${parts}`);
    }
  }
  lines.push('', '  thresholds');
  for (const name of Object.keys(data.metrics).sort()) {
    if (name.includes('{') && thresholdsOf(data.metrics[name]).length === 0) continue;
    for (const t of thresholdsOf(data.metrics[name])) {
      lines.push(`    ${t.ok ? 'ok  ' : 'FAIL'} ${name} ${t.expr}`);
      if (!t.ok) failed.push(`${name} ${t.expr}`);
    }
  }
  lines.push('', failed.length === 0 ? '  result: all thresholds hold' : `  result: ${failed.length} threshold(s) crossed: ${failed.join('; ')}`, '');
  return { text: lines.join('\n'), failed };
}

/** handleSummary's return value: stdout plus the files in the results dir (when set). */
export function summaryOutputs(data, cfg) {
  const setup = data.setup_data || {};
  const params = setup.params || { script: cfg.script };
  const { text, failed } = renderText(data, params, setup.schedule);
  const out = { stdout: `\n${text}\n` };
  if (cfg.resultsDir !== '') {
    const dir = cfg.resultsDir.replace(/\/$/, '');
    out[`${dir}/summary.txt`] = `${text}\n`;
    out[`${dir}/summary.json`] = JSON.stringify(
      {
        script: params.script,
        runId: setup.runId,
        params,
        schedule: setup.schedule,
        testRunDurationMs: data.state === undefined ? undefined : data.state.testRunDurationMs,
        thresholdsOk: failed.length === 0,
        failedThresholds: failed,
        metrics: data.metrics,
      },
      null,
      2,
    );
  }
  return out;
}
