/** The bench's output: one table row per figure (ws-fleet, baseline, ratio, target), printed and saved. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resultsDir } from './paths.js';

export interface Row {
  /** "1", "2", "3", ... (the issue's numbering) */
  figure: string;
  metric: string;
  /** ws-fleet's figure, formatted with its unit. */
  fleet: string;
  /** The baseline (physical limit or peer) it is compared with, named. */
  baseline: string;
  /** fleet / baseline (or as the target states it). */
  ratio: number | null;
  target: string;
  /** null: informational, or not measured in this run. */
  met: boolean | null;
  /** The ratio's spread over the runs it is the median of, e.g. "1.2–1.6× over 5 runs". */
  spread?: string;
  /** For a missed target: what limits it (the resource, the path, with the profile that shows it). */
  limit?: string;
  note?: string;
}

export interface FigureResult {
  rows: Row[];
  /** Everything measured, for results/bench.json. */
  data: unknown;
  /** A detail table (markdown) for results/bench.md. */
  detail?: string;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export function renderTable(rows: Row[]): string {
  const head = '| # | measure | ws-fleet | baseline | ratio | spread | target | met | limited by |\n|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => `| ${r.figure} | ${cell(r.metric)} | ${cell(r.fleet)} | ${cell(r.baseline)} | ${r.ratio === null ? '–' : `${r.ratio}×`} | ${cell(r.spread ?? '–')} | ${cell(r.target)} | ${r.met === null ? '–' : r.met ? 'yes' : '**no**'} | ${r.met === false ? cell(r.limit ?? r.note ?? 'not named') : '–'} |`);
  return [head, ...lines].join('\n');
}

export function renderNotes(rows: Row[]): string {
  return rows.filter((r) => r.note !== undefined && r.note !== '').map((r) => `- ${r.figure} ${r.metric}: ${r.note ?? ''}`).join('\n');
}

export function writeResults(doc: unknown, table: string, notes: string, details: string[] = []): { json: string; md: string } {
  const json = join(resultsDir, 'bench.json');
  const md = join(resultsDir, 'bench.md');
  writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(md, `${table}\n\n${notes}\n\n${details.join('\n\n')}\n`);
  return { json, md };
}

export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
export const ms = (v: number): string => (!Number.isFinite(v) ? 'n/a' : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);
export const perSec = (v: number): string => (v >= 10_000 ? `${Math.round(v / 1000)}k/s` : `${Math.round(v)}/s`);
