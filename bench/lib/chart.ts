/**
 * The latency chart of docs/benchmarks.md: p50 and p99 against the offered rate, one line per system
 * and path, from every run of figure 3/6 (fixed rates and the rate search; the median where a rate
 * was run more than once). Plain SVG, no dependency: two panels, log-scale latency axis.
 */
import { median } from './stats.js';

export interface ChartPoint {
  series: string;
  rate: number;
  p50: number;
  p99: number;
  sustained: boolean;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];
const W = 560;
const H = 360;
const M = { left: 56, right: 12, top: 28, bottom: 40 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Medians per (series, rate). */
function collapse(points: ChartPoint[]): Map<string, ChartPoint[]> {
  const by = new Map<string, Map<number, ChartPoint[]>>();
  for (const p of points) {
    if (!Number.isFinite(p.p50) || !Number.isFinite(p.p99)) continue;
    const s = by.get(p.series) ?? new Map<number, ChartPoint[]>();
    by.set(p.series, s);
    s.set(p.rate, [...(s.get(p.rate) ?? []), p]);
  }
  const out = new Map<string, ChartPoint[]>();
  for (const [series, rates] of by) {
    out.set(series, [...rates.entries()].sort((a, b) => a[0] - b[0]).map(([rate, ps]) => ({
      series,
      rate,
      p50: median(ps.map((x) => x.p50)),
      p99: median(ps.map((x) => x.p99)),
      sustained: ps.filter((x) => x.sustained).length * 2 > ps.length,
    })));
  }
  return out;
}

function panel(series: Map<string, ChartPoint[]>, q: 'p50' | 'p99', x0: number, title: string, maxRate: number, yMin: number, yMax: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const lx = (rate: number): number => x0 + M.left + (rate / maxRate) * pw;
  const ly = (v: number): number => M.top + ph - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph;
  const parts: string[] = [`<text x="${x0 + M.left + pw / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  parts.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let e = Math.ceil(Math.log10(yMin)); e <= Math.floor(Math.log10(yMax)); e++) {
    const v = 10 ** e;
    const y = ly(v);
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + M.left - 4}" y="${y + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(Math.max(0, -e))} ms</text>`);
  }
  const step = maxRate > 10_000 ? 5000 : maxRate > 4000 ? 1000 : 500;
  for (let r = 0; r <= maxRate; r += step) {
    parts.push(`<text x="${lx(r)}" y="${M.top + ph + 16}" text-anchor="middle">${r >= 1000 ? `${r / 1000}k` : r}</text>`);
  }
  parts.push(`<text x="${x0 + M.left + pw / 2}" y="${H - 6}" text-anchor="middle">offered rate (messages/s)</text>`);
  let i = 0;
  for (const [, pts] of series) {
    const color = COLORS[i % COLORS.length] ?? '#000';
    i += 1;
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${lx(p.rate).toFixed(1)},${ly(p[q]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) {
      // Filled: sustained at that rate; hollow: not (carried less, or p99 over the bound).
      parts.push(`<circle cx="${lx(p.rate).toFixed(1)}" cy="${ly(p[q]).toFixed(1)}" r="3" stroke="${color}" fill="${p.sustained ? color : 'white'}"/>`);
    }
  }
  return parts.join('\n');
}

export function renderLatencyChart(points: ChartPoint[], subtitle: string): string {
  const series = collapse(points);
  const all = [...series.values()].flat();
  const maxRate = Math.max(1000, ...all.map((p) => p.rate));
  const yMin = 0.1;
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, ...all.map((p) => p.p99))));
  const legendH = 16 * series.size + 24;
  const lines: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + legendH}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    panel(series, 'p50', 0, 'p50 delivery latency', maxRate, yMin, yMax),
    panel(series, 'p99', W, 'p99 delivery latency', maxRate, yMin, yMax),
  ];
  let i = 0;
  for (const name of series.keys()) {
    const color = COLORS[i % COLORS.length] ?? '#000';
    const y = H + 12 + 16 * i;
    lines.push(`<line x1="${M.left}" x2="${M.left + 24}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/><text x="${M.left + 30}" y="${y + 4}">${esc(name)}</text>`);
    i += 1;
  }
  lines.push(`<text x="${M.left}" y="${H + legendH - 4}" fill="#555">${esc(subtitle)}; filled point: sustained (≥ 90% carried, p99 within the bound), hollow: not</text>`, '</svg>');
  return `${lines.join('\n')}\n`;
}
