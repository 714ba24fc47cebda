/**
 * k6 against the stack the end-to-end tests deploy (the same Fleet helper and settings as
 * fleet.test.ts, under its own prefix and OS-chosen ports): the smoke script, then a 3-minute soak with
 * one scale-down (3 → 2 replicas) in the middle. Both run through scripts/k6.sh, exactly as a user runs
 * them, so the k6 thresholds (no acknowledged message lost, connect failures < 0.1 %, p99 latency,
 * reconnects within 10 s), the replicas' memory check and the reports are what is tested here.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Fleet, run, type CommandResult } from '../support/fleet.js';
import { freePort } from '../support/ports.js';
import { repoRoot } from '../support/paths.js';

const PREFIX = 'wsfleet-k6';
/** Same sizing as fleet.test.ts: a short drain, replicas and NATS sized for a 2-core CI box. */
const FLEET_ENV = { WSFLEET_DRAIN_WINDOW_MS: '3000', WSFLEET_WS_MEMORY_MB: '192', WSFLEET_NATS_MEMORY_MB: '192' };
/** The CI soak: 3 minutes; the scale-down starts 40 s in and (cdktf deploy included) lands mid-run. */
const SOAK = { users: 500, rate: 100, duration: '3m', scaleDownAt: '40s' };

interface MetricSummary {
  type: string;
  values: Record<string, number>;
}
interface K6Summary {
  thresholdsOk: boolean;
  failedThresholds: string[];
  params: { users: number; rate: number; durationMs: number };
  metrics: Record<string, MetricSummary | undefined>;
}
interface MemoryReport {
  ok?: boolean;
  note?: string;
  replicas?: { replica: string; startBytes: number; endBytes: number; growth: number; ok: boolean }[];
}
interface ScaleEvent {
  action: string;
  replicas: number;
  exitCode: number;
}

function value(s: K6Summary, metric: string, key: string): number {
  return s.metrics[metric]?.values[key] ?? 0;
}

/** Parsed JSON as written by scripts/k6.sh / k6/lib/summary.js; callers cast to the shape they read. */
function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The results directory scripts/k6.sh names on its last lines ("k6: results: results/k6/<run>"). */
function resultsDir(r: CommandResult): string {
  const m = /k6: results: (\S+)/.exec(r.stderr);
  if (m?.[1] === undefined) throw new Error(`scripts/k6.sh named no results dir (exit ${String(r.code)}):\n${r.stderr.slice(-4000)}`);
  return path.resolve(repoRoot, m[1]);
}

function describeRun(r: CommandResult, dir: string): string {
  const summary = path.join(dir, 'summary.txt');
  return `scripts/k6.sh exited ${String(r.code)} after ${r.seconds}s\n${fs.existsSync(summary) ? fs.readFileSync(summary, 'utf8') : r.stdout.slice(-4000)}\n${r.stderr.slice(-3000)}`;
}

/** The HTML dashboard report exists and loads nothing from the network (it must work offline). */
function assertOfflineReport(dir: string): void {
  const file = path.join(dir, 'report.html');
  assert.ok(fs.existsSync(file), `${file} was not written`);
  const html = fs.readFileSync(file, 'utf8');
  assert.ok(html.length > 10_000, `report.html is only ${html.length} bytes`);
  const external = html.match(/<(script|link|img)[^>]+(src|href)="https?:\/\/[^"]+"/g) ?? [];
  assert.deepEqual(external, [], 'report.html references external resources');
}

void describe('e2e: k6 smoke and soak against the e2e fleet', { timeout: 40 * 60_000 }, () => {
  let fleet: Fleet;
  let k6Env: NodeJS.ProcessEnv = {};

  before(async () => {
    const balancerPort = await freePort();
    const statsPort = await freePort();
    fleet = new Fleet({ prefix: PREFIX, balancerPort, statsPort, env: FLEET_ENV });
    // scripts/k6.sh calls scripts/scale.sh, which must see the same deployment settings as the Fleet's
    // own commands (prefix, ports, sizing); nothing else of the caller's WSFLEET_*/WSF_* may leak in.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(WSFLEET_|WSF_|TF_VAR_|K6_)/.test(k)));
    k6Env = {
      ...clean,
      WSFLEET_PREFIX: PREFIX,
      WSFLEET_BALANCER_PORT: String(balancerPort),
      WSFLEET_STATS_PORT: String(statsPort),
      WSFLEET_BIND_ADDRESS: '127.0.0.1',
      ...FLEET_ENV,
    };
    const stale = await fleet.leftovers();
    if ([stale.containers, stale.networks, stale.volumes, stale.images].some((l) => l.length > 0)) await fleet.forceCleanup();
    fleet.writeSettings({ replicas: 3, lbMode: 'roundrobin', natsNodes: 3 });
    await fleet.up();
  });

  after(async () => {
    try {
      await fleet.down();
    } catch (err) {
      console.error(`k6 e2e: down failed, removing by prefix: ${String(err)}`);
    }
    await fleet.forceCleanup();
    for (const f of [fleet.settingsFile, fleet.secretsFile, path.join(repoRoot, '.ws-fleet', 'outputs', `${PREFIX}.json`)]) {
      fs.rmSync(f, { force: true });
    }
    fs.rmSync(path.join(repoRoot, '.ws-fleet', 'cdktf', PREFIX), { recursive: true, force: true });
  });

  void it('smoke: 50 users, direct and room messages, every one arrives exactly once', async () => {
    const r = await run('bash', ['scripts/k6.sh', 'smoke'], k6Env, 5 * 60_000);
    const dir = resultsDir(r);
    assert.equal(r.code, 0, describeRun(r, dir));
    const s = readJson(path.join(dir, 'summary.json')) as K6Summary;
    assert.equal(s.thresholdsOk, true, `crossed: ${s.failedThresholds.join('; ')}`);
    // The load really ran: at least 90 % of rate × duration was sent, and all of it acknowledged and received.
    const planned = (s.params.rate * s.params.durationMs) / 1000;
    assert.ok(value(s, 'messages_sent', 'count') >= 0.9 * planned, `sent ${value(s, 'messages_sent', 'count')} of ~${planned}`);
    assert.equal(value(s, 'messages_acked', 'count'), value(s, 'messages_sent', 'count'));
    assert.equal(value(s, 'messages_lost', 'count'), 0);
    assert.equal(value(s, 'messages_duplicated', 'count'), 0);
    assert.ok(value(s, 'messages_received', 'count') >= value(s, 'messages_acked', 'count'));
    assert.equal(value(s, 'ws_connects', 'count'), s.params.users);
    assertOfflineReport(dir);
  });

  void it(`soak: ${SOAK.duration} of traffic with a scale-down 3 → 2 at +${SOAK.scaleDownAt}: sockets come back, nothing lost, memory flat`, async () => {
    const r = await run(
      'bash',
      ['scripts/k6.sh', 'soak', '--duration', SOAK.duration, '--users', String(SOAK.users), '--rate', String(SOAK.rate), '--ramp', '20s',
        '--scale-plan', `${SOAK.scaleDownAt}=2`, '--memory-warmup', '30s', '--no-restore', '--label', 'ci'],
      k6Env,
      15 * 60_000,
    );
    const dir = resultsDir(r);
    assert.equal(r.code, 0, describeRun(r, dir));
    const s = readJson(path.join(dir, 'summary.json')) as K6Summary;
    assert.equal(s.thresholdsOk, true, `crossed: ${s.failedThresholds.join('; ')}`);

    const events = readJson(path.join(dir, 'events.json')) as ScaleEvent[];
    assert.deepEqual(events.map((e) => [e.action, e.replicas, e.exitCode]), [['scale', 2, 0]]);
    assert.equal((await fleet.runningContainers()).filter((n) => /-ws-\d+$/.test(n)).length, 2);

    // The scale-down closed the drained replica's sockets; every one reconnected within the bound.
    assert.ok(value(s, 'ws_reconnects', 'count') > 0, 'the scale-down dropped no socket: did it happen under load?');
    assert.ok(value(s, 'ws_reconnect_time', 'max') < 10_000, `slowest reconnect ${value(s, 'ws_reconnect_time', 'max')} ms`);
    assert.equal(value(s, 'ws_reconnect_incomplete', 'count'), 0);
    assert.equal(value(s, 'messages_lost', 'count'), 0);
    assert.ok(value(s, 'messages_received', 'count') > 0);

    const memory = readJson(path.join(dir, 'memory.json')) as MemoryReport;
    assert.equal(memory.note, undefined, `memory check did not run: ${String(memory.note)}`);
    assert.equal(memory.replicas?.length, 2, `memory sampled on ${JSON.stringify(memory.replicas)}`);
    for (const m of memory.replicas ?? []) assert.ok(m.ok && m.growth < 0.1, `${m.replica} grew ${(m.growth * 100).toFixed(1)}%`);
    assertOfflineReport(dir);
  });
});
