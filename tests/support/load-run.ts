/**
 * What the load-runner end-to-end files share: the fleet's sizing, the summary.json shape the runner
 * writes, and the checks on a run's results directory (tests/e2e/load.test.ts, tests/e2e/load-chaos.test.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { Fleet, run, type CommandResult } from './fleet.js';
import { repoRoot } from './paths.js';
import { freePort } from './ports.js';

/** Same sizing as fleet.test.ts; no per-source connection limit (one host makes all the load). */
export const FLEET_ENV = { WSFLEET_LB_CONN_RATE_PER_SOURCE_PER10S: '0', WSFLEET_DRAIN_WINDOW_MS: '3000', WSFLEET_WS_MEMORY_MB: '192', WSFLEET_NATS_MEMORY_MB: '192' };

export interface Summary {
  ok: boolean;
  thresholdsOk: boolean;
  failedThresholds: string[];
  problems: string[];
  thresholds: { label: string; ok: boolean; actual: number | null }[];
  events: { label: string; ok: boolean }[];
  params: { users: number; rate: number; durationMs: number };
  metrics: Record<string, { values: Record<string, number> } | undefined>;
  /** Sends not acknowledged, by reason (load/group.ts). */
  undeliveredByReason: Record<string, number>;
  /** Closes the client did not ask for, by "code reason" (load/group.ts). */
  closesByCode: Record<string, number>;
}

/**
 * Deploys a 3-replica fleet under `prefix` before the file's tests and destroys it (and its files)
 * after them; `load(args)` runs `npm run load -- <args>` against it, with the environment scripts/scale.sh
 * needs to see the same deployment. Call it inside the file's `describe`.
 */
export function loadRunFleet(prefix: string, label: string): { load: (args: string[], timeoutMs: number) => Promise<CommandResult> } {
  let fleet: Fleet | undefined;
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    const balancerPort = await freePort();
    const statsPort = await freePort();
    fleet = new Fleet({ prefix, balancerPort, statsPort, env: FLEET_ENV });
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(WSFLEET_|WSFLEET_|TF_VAR_)/.test(k)));
    env = { ...clean, WSFLEET_PREFIX: prefix, WSFLEET_BALANCER_PORT: String(balancerPort), WSFLEET_STATS_PORT: String(statsPort), WSFLEET_BIND_ADDRESS: '127.0.0.1', ...FLEET_ENV };
    const stale = await fleet.leftovers();
    if ([stale.containers, stale.networks, stale.volumes, stale.images].some((l) => l.length > 0)) await fleet.forceCleanup();
    fleet.writeSettings({ replicas: 3, lbMode: 'roundrobin', natsNodes: 3 });
    await fleet.up();
  });
  after(async () => {
    if (fleet === undefined) return;
    try {
      await fleet.down();
    } catch (err) {
      console.error(`${label}: down failed, removing by prefix: ${String(err)}`);
    }
    await fleet.forceCleanup();
    fleet.removeFiles();
  });
  return { load: (args, timeoutMs) => run('npm', ['run', '--silent', 'load', '--', ...args], env, timeoutMs) };
}

export function value(s: Summary, metric: string, key: string): number {
  return s.metrics[metric]?.values[key] ?? 0;
}

export function resultsDir(r: CommandResult): string {
  const m = /load: results: (\S+)/.exec(r.stderr);
  if (m?.[1] === undefined) throw new Error(`npm run load named no results dir (exit ${String(r.code)}):\n${r.stderr.slice(-4000)}`);
  return path.resolve(repoRoot, m[1]);
}

export function readSummary(dir: string): Summary {
  return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
}

export function describeRun(r: CommandResult, dir: string): string {
  const file = path.join(dir, 'summary.txt');
  return `npm run load exited ${String(r.code)} after ${r.seconds}s\n${fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : r.stdout.slice(-4000)}\n${r.stderr.slice(-3000)}`;
}

export function assertReport(dir: string): void {
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg /g) ?? []).length >= 4, 'report.html has the four charts');
  assert.deepEqual(html.match(/<(script|link|img)[^>]+(src|href)="https?:\/\/[^"]+"/g) ?? [], [], 'report.html loads nothing from the network');
}
