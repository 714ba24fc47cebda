/**
 * The HTML report: one self-contained page (no script, no external resource) with inline SVG charts
 * over time of latency, throughput, connections and replica memory, the scale and chaos events marked
 * on each, then the text summary.
 */
import type { EventRecord } from './chaos.js';
import type { MemorySample, Second } from './series.js';

interface Line {
  name: string;
  points: [number, number][];
}

interface Chart {
  title: string;
  unit: string;
  lines: Line[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 960;
const H = 260;
const PAD = { left: 64, right: 16, top: 28, bottom: 34 };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function svgChart(c: Chart, xMin: number, xMax: number, events: EventRecord[]): string {
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const yMax = niceMax(Math.max(0, ...c.lines.flatMap((l) => l.points.map((p) => p[1]))));
  const x = (v: number): number => PAD.left + ((v - xMin) / Math.max(1, xMax - xMin)) * pw;
  const y = (v: number): number => PAD.top + ph - (v / yMax) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${PAD.left}" y="18" class="t">${escapeHtml(c.title)} (${escapeHtml(c.unit)})</text>`);
  for (const [i, e] of events.entries()) {
    const x0 = x(e.startMs / 1000);
    const x1 = Math.max(x0 + 2, x(e.endMs / 1000));
    parts.push(`<rect x="${x0.toFixed(1)}" y="${PAD.top}" width="${(x1 - x0).toFixed(1)}" height="${ph}" class="ev${e.ok ? '' : ' bad'}"><title>${escapeHtml(`${e.label}: +${(e.startMs / 1000).toFixed(0)} s → +${(e.endMs / 1000).toFixed(0)} s, ${e.detail}`)}</title></rect>`);
    parts.push(`<text x="${(x0 + 2).toFixed(1)}" y="${PAD.top + 10 + (i % 4) * 11}" class="el">${escapeHtml(e.label)}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="g"/><text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="yl">${fmt(v)}</text>`);
  }
  const step = niceMax((xMax - xMin) / 8);
  for (let v = Math.ceil(xMin / step) * step; v <= xMax; v += step) {
    parts.push(`<text x="${x(v).toFixed(1)}" y="${H - PAD.bottom + 16}" class="xl">${fmt(v)} s</text>`);
  }
  c.lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    if (l.points.length > 0) {
      const d = l.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" stroke="${color}" fill="none" stroke-width="1.5"/>`);
    }
    parts.push(`<rect x="${PAD.left + 8 + i * 150}" y="${H - 12}" width="10" height="3" fill="${color}"/><text x="${PAD.left + 22 + i * 150}" y="${H - 8}" class="lg">${escapeHtml(l.name)}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(c.title)}">${parts.join('')}</svg>`;
}

export function renderHtml(opts: { title: string; seconds: Second[]; memory: MemorySample[]; events: EventRecord[]; summaryText: string }): string {
  const secs = opts.seconds;
  const xMin = Math.min(0, ...secs.map((s) => s.s));
  const xMax = Math.max(1, ...secs.map((s) => s.s + 1), ...opts.memory.map((m) => m.atMs / 1000));
  const pts = (f: (s: Second) => number | undefined): [number, number][] =>
    secs.flatMap((s): [number, number][] => {
      const v = f(s);
      return v === undefined ? [] : [[s.s, v]];
    });
  const replicas = [...new Set(opts.memory.flatMap((m) => Object.keys(m.rss)))].sort();
  const charts: Chart[] = [
    {
      title: 'Latency per second',
      unit: 'ms',
      lines: [
        { name: 'e2e p50', points: pts((s) => s.trends.e2e_latency.quantile(0.5)) },
        { name: 'e2e p99', points: pts((s) => s.trends.e2e_latency.quantile(0.99)) },
        { name: 'ack p99', points: pts((s) => s.trends.ack_latency.quantile(0.99)) },
      ],
    },
    {
      title: 'Throughput',
      unit: 'per second',
      lines: [
        { name: 'sent', points: pts((s) => s.counters.messages_sent) },
        { name: 'acked', points: pts((s) => s.counters.messages_acked) },
        { name: 'received', points: pts((s) => s.counters.messages_received) },
        { name: 'ack stored:false', points: pts((s) => s.counters.acks_not_stored) },
      ],
    },
    {
      title: 'Connections',
      unit: 'sockets; events per second',
      lines: [
        { name: 'open sockets', points: pts((s) => s.open) },
        { name: 'connects', points: pts((s) => s.counters.ws_connects) },
        { name: 'connect failures', points: pts((s) => s.counters.ws_connect_failures) },
        { name: 'server-side closes', points: pts((s) => s.counters.ws_closes_unexpected) },
      ],
    },
    {
      title: 'Replica memory (resident)',
      unit: 'MiB',
      lines: replicas.map((r) => ({ name: r, points: opts.memory.filter((m) => m.rss[r] !== undefined).map((m): [number, number] => [m.atMs / 1000, (m.rss[r] ?? 0) / 1048576]) })),
    },
  ];
  const eventRows = opts.events.map((e) => `<tr><td>+${(e.startMs / 1000).toFixed(0)} s</td><td>${escapeHtml(e.label)}</td><td>${((e.endMs - e.startMs) / 1000).toFixed(1)} s</td><td>${e.ok ? 'ok' : 'FAILED'}</td><td>${escapeHtml(e.detail)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(opts.title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
svg{display:block;margin:12px 0;background:#fff;border:1px solid #ddd}
.t{font-weight:600;font-size:13px}.yl{font-size:11px;text-anchor:end;fill:#555}.xl{font-size:11px;text-anchor:middle;fill:#555}
.lg{font-size:11px}.g{stroke:#eee}.ev{fill:#f2b134;opacity:.25}.ev.bad{fill:#d62728}.el{font-size:10px;fill:#7a5200}
pre{background:#f6f6f6;padding:12px;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
</style></head><body>
<h1>${escapeHtml(opts.title)}</h1>
<p>Time axis: seconds from the start of traffic. Shaded bands: scale and chaos events (hover for details).</p>
${charts.map((c) => svgChart(c, xMin, xMax, opts.events)).join('\n')}
${opts.events.length > 0 ? `<h2>Events</h2><table><tr><th>at</th><th>event</th><th>took</th><th></th><th>detail</th></tr>${eventRows}</table>` : ''}
<h2>Summary</h2><pre>${escapeHtml(opts.summaryText)}</pre>
</body></html>
`;
}
