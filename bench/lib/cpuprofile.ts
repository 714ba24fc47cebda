/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time per function (and per package), so the
 * doc can say where a replica's CPU goes. Self time = samples whose top frame is that function.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** V8's own pseudo-frames: reported as themselves, not attributed to a package. */
const V8_SPECIAL = new Set(['(garbage collector)', '(program)', '(root)']);

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Excluding (idle): time the thread was doing something. */
  busyMs: number;
  top: SelfTime[];
  byPackage: SelfTime[];
}

/**
 * esbuild marks where each bundled module starts with a comment line ("// node_modules/ws/lib/x.js",
 * "// server/src/history.ts"): from those, a line of the bundle maps back to its source module.
 */
const moduleMaps = new Map<string, { line: number; module: string }[]>();

function moduleAt(url: string, line: number): string | undefined {
  if (!url.startsWith('file://')) return undefined;
  let map = moduleMaps.get(url);
  if (map === undefined) {
    map = [];
    const path = fileURLToPath(url);
    if (existsSync(path)) {
      const lines = readFileSync(path, 'utf8').split('\n');
      lines.forEach((text, i) => {
        const m = /^\/\/ ((?:node_modules|server|bench|tests|loadbalancer)\/\S+)$/.exec(text);
        if (m?.[1] !== undefined) map?.push({ line: i, module: m[1] });
      });
    }
    moduleMaps.set(url, map);
  }
  let lo = 0;
  let hi = map.length - 1;
  let found: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const entry = map[mid];
    if (entry === undefined) break;
    if (entry.line <= line) {
      found = entry.module;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** "node_modules/@nats-io/nats-core/..." → "@nats-io/nats-core"; "server/src/x.ts" → "ws-fleet server"; node internals → "node: core". */
function packageOf(url: string, line: number): string {
  if (url === '') return '(native/V8)';
  if (url.startsWith('node:')) return 'node: core';
  const module = moduleAt(url, line) ?? url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module);
  if (m?.[1] !== undefined) return m[1];
  if (module.startsWith('server/')) return 'ws-fleet server';
  return basename(module);
}

function whereOf(url: string, line: number): string {
  if (url === '') return '';
  if (url.startsWith('node:')) return `${url.slice('node:'.length)}:${line + 1}`;
  const module = moduleAt(url, line);
  return module === undefined ? `${basename(url)}:${line + 1}` : `${module.replace(/^node_modules\//, '')} (${basename(url)}:${line + 1})`;
}

/** Summarizes one or more profiles together (e.g. the 4 replicas of one workload). */
export function summarizeProfile(files: string | string[], topN = 15): ProfileSummary {
  const list = typeof files === 'string' ? [files] : files;
  const fnTotals = new Map<string, { name: string; where: string; us: number }>();
  const pkgTotals = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const file of list) {
    const r = accumulate(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, fnTotals, pkgTotals);
    idleUs += r.idleUs;
    totalUs += r.totalUs;
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const toSelf = (name: string, where: string, us: number): SelfTime => ({ name, where, ms: Math.round(us / 1000), percent: Math.round((1000 * us) / busyUs) / 10 });
  return {
    file: list.map((f) => basename(f)).join(' + '),
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    top: [...fnTotals.values()].sort((a, b) => b.us - a.us).slice(0, topN).map((e) => toSelf(e.name, e.where, e.us)),
    byPackage: [...pkgTotals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([pkg, us]) => toSelf(pkg, '', us)),
  };
}

function accumulate(profile: CpuProfile, fnTotals: Map<string, { name: string; where: string; us: number }>, pkgTotals: Map<string, number>): { idleUs: number; totalUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] ?? -1;
    // A sample's duration is the delta to the next sample.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const totalUs = profile.endTime - profile.startTime;
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  // Native frames and Node's own JavaScript (socket writes, crypto jobs, streams) count for the
  // nearest caller in the application or a package: who caused the work.
  const ownerUrl = (id: number): { url: string; line: number } => {
    let firstCore: { url: string; line: number } | undefined;
    for (let cur: number | undefined = id, hops = 0; cur !== undefined && hops < 80; cur = parentOf.get(cur), hops++) {
      const cf = byId.get(cur)?.callFrame;
      if (cf === undefined || cf.url === '') continue;
      if (!cf.url.startsWith('node:')) return { url: cf.url, line: cf.lineNumber };
      firstCore ??= { url: cf.url, line: cf.lineNumber };
    }
    return firstCore ?? { url: '', line: 0 };
  };
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const cf = node.callFrame;
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = whereOf(cf.url, cf.lineNumber);
    const key = `${name}@${where}`;
    const entry = fnTotals.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fnTotals.set(key, entry);
    const owner = ownerUrl(id);
    const pkg = V8_SPECIAL.has(cf.functionName) ? cf.functionName : packageOf(owner.url, owner.line);
    pkgTotals.set(pkg, (pkgTotals.get(pkg) ?? 0) + us);
  }
  return { idleUs, totalUs };
}

export function renderProfile(s: ProfileSummary): string {
  const lines = [
    `**${s.file}**: ${s.busyMs} ms not idle of ${s.totalMs} ms sampled (summed over the processes; on an oversubscribed machine "not idle" includes time waiting for a CPU). Self time by function, as a share of the non-idle time:`,
    '',
    '| function | where | self ms | % |',
    '|---|---|---|---|',
    ...s.top.map((t) => `| ${t.name} | ${t.where} | ${t.ms} | ${t.percent} |`),
    '',
    'By package (native and Node-core time counted for the package that called it): ' + s.byPackage.map((p) => `${p.name} ${p.percent}%`).join(', '),
  ];
  return lines.join('\n');
}
