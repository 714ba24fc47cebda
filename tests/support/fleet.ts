/**
 * Drives a real ws-fleet deployment on Docker through the project's own scripts (up/scale/lb/down),
 * under its own prefix and ports so it never touches a user's fleet. Used by tests/e2e, tests/swarm and bench.
 */
import fs from 'node:fs';
import path from 'node:path';
import { deploymentLeftovers, secretsFile, settingsFile, terraformStateFile } from '../../infra/paths.js';
import { readSecrets, type FleetSecrets } from '../../infra/secrets.js';
import { run as runBounded } from '../../infra/cli/run.js';
import { repoRoot } from './paths.js';

export interface FleetOptions {
  prefix: string;
  balancerPort: number;
  statsPort: number;
  /** Extra WSFLEET_* settings for every command (e.g. WSFLEET_DRAIN_WINDOW_MS). */
  env?: Record<string, string>;
  /** Per-command time limit (default 10 min). */
  timeoutMs?: number;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface PlannedChange {
  address: string;
  action: 'create' | 'update' | 'delete' | 'replace' | 'read' | 'noop' | 'move' | 'remove' | 'import';
  name?: string;
}

interface PlanLine {
  type?: string;
  change?: { action: PlannedChange['action']; resource: { addr: string; resource_type: string } };
}

/** Docker objects whose name starts with the prefix, by kind. */
export interface DockerLeftovers {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

/** Runs a command with a time limit (the deploy command's bounded runner); never rejects (the result carries the exit code). */
export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000): Promise<CommandResult> {
  const started = Date.now();
  const seconds = (): number => (Date.now() - started) / 1000;
  try {
    const r = await runBounded(cmd, args, { cwd: repoRoot, env, timeoutMs, capture: true, allowFailure: true });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, seconds: seconds() };
  } catch (err) {
    return { code: -1, stdout: '', stderr: (err as Error).message, seconds: seconds() };
  }
}

export class Fleet {
  readonly prefix: string;
  readonly balancerUrl: string;
  readonly wsUrl: string;
  readonly statsUrl: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;

  constructor(private readonly opts: FleetOptions) {
    this.prefix = opts.prefix;
    this.balancerUrl = `http://127.0.0.1:${opts.balancerPort}`;
    this.wsUrl = `ws://127.0.0.1:${opts.balancerPort}/ws`;
    this.statsUrl = `http://127.0.0.1:${opts.statsPort}/stats`;
    this.timeoutMs = opts.timeoutMs ?? 600_000;
    // No WSFLEET_* setting leaks in from the caller's shell: the test states all it depends on.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WSFLEET_') && !k.startsWith('TF_VAR_')));
    this.env = {
      ...clean,
      WSFLEET_PREFIX: opts.prefix,
      WSFLEET_BALANCER_PORT: String(opts.balancerPort),
      WSFLEET_STATS_PORT: String(opts.statsPort),
      WSFLEET_BIND_ADDRESS: '127.0.0.1',
      ...opts.env,
    };
  }

  get settingsFile(): string {
    return settingsFile(this.prefix);
  }

  get secretsFile(): string {
    return secretsFile(this.prefix);
  }

  /** Removes every file the deployment kept under .ws-fleet/ (settings, secrets, outputs, state, synth output, server builds). */
  removeFiles(): void {
    const { files, dirs } = deploymentLeftovers(this.prefix);
    for (const f of files) fs.rmSync(f, { force: true });
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }

  /** Starts from the given settings file contents (replicas, lbMode, ...). */
  writeSettings(settings: Record<string, unknown>): void {
    fs.mkdirSync(path.dirname(this.settingsFile), { recursive: true });
    fs.writeFileSync(this.settingsFile, `${JSON.stringify(settings, null, 2)}\n`);
  }

  private async script(name: string, args: string[], extraEnv: Record<string, string> = {}): Promise<CommandResult> {
    const r = await run('bash', [path.join('scripts', name), ...args], { ...this.env, ...extraEnv }, this.timeoutMs);
    if (r.code !== 0) {
      throw new Error(`scripts/${name} ${args.join(' ')} exited ${String(r.code)} after ${r.seconds}s\n--- stderr (tail) ---\n${r.stderr.slice(-6000)}\n--- stdout (tail) ---\n${r.stdout.slice(-2000)}`);
    }
    return r;
  }

  /** scripts/up.sh (setup skipped when `skipSetup`: the test command ran it already). */
  up(skipSetup = true): Promise<CommandResult> {
    return this.script('up.sh', [], skipSetup ? { WSFLEET_SKIP_SETUP: '1' } : {});
  }

  scale(replicas: number): Promise<CommandResult> {
    return this.script('scale.sh', [String(replicas)]);
  }

  lb(mode: string): Promise<CommandResult> {
    return this.script('lb.sh', [mode]);
  }

  /** `fleet.ts roll`: rolls the current server build (or `env.WSFLEET_SERVER_CONTEXT`'s) over the replicas one at a time. */
  async rolling(extraEnv: Record<string, string> = {}): Promise<CommandResult> {
    const r = await run(process.execPath, ['--import', 'tsx', path.join('infra', 'cli', 'fleet.ts'), 'roll'], { ...this.env, ...extraEnv }, this.timeoutMs);
    if (r.code !== 0) throw new Error(`rolling deploy exited ${String(r.code)} after ${r.seconds}s\n--- stderr (tail) ---\n${r.stderr.slice(-6000)}`);
    return r;
  }

  down(keepData = false): Promise<CommandResult> {
    return this.script('down.sh', keepData ? ['--keep-data'] : []);
  }

  /** What applying the current settings (plus `overrides`, e.g. WSFLEET_REPLICAS) would change. */
  async plan(overrides: Record<string, string> = {}): Promise<PlannedChange[]> {
    const r = await run(
      'bash',
      ['-c', 'set -euo pipefail; source scripts/lib/env.sh; source scripts/lib/fleet.sh; fleet_plan_json'],
      { ...this.env, ...overrides },
      this.timeoutMs,
    );
    if (r.code !== 0) throw new Error(`plan failed (exit ${String(r.code)}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-4000)}`);
    const changes: PlannedChange[] = [];
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const msg = JSON.parse(line) as PlanLine;
      if (msg.type === 'planned_change' && msg.change !== undefined) {
        changes.push({ address: msg.change.resource.addr, action: msg.change.action });
      }
    }
    return changes;
  }

  /** The deployment's secrets (generated by the first deploy), read by infra/secrets.ts. */
  secrets(): FleetSecrets {
    return readSecrets(this.prefix);
  }

  /** The deployment's JWT secret. */
  authSecret(): string {
    return this.secrets().authSecret;
  }

  /** The Authorization header the balancer's stats page and exporter require. */
  statsAuthHeader(): Record<string, string> {
    const { lbStatsUser, lbStatsPassword } = this.secrets();
    const basic = Buffer.from(`${lbStatsUser}:${lbStatsPassword}`).toString('base64');
    return { authorization: `Basic ${basic}` };
  }

  /** Names of running containers carrying the prefix label, sorted. */
  async runningContainers(): Promise<string[]> {
    const r = await run('docker', ['ps', '--filter', `label=io.ws-fleet.prefix=${this.prefix}`, '--format', '{{.Names}}'], process.env, 30_000);
    return r.stdout.split('\n').filter((s) => s !== '').sort();
  }

  /** Containers, networks, volumes and images whose name starts with `<prefix>-`. */
  async leftovers(): Promise<DockerLeftovers> {
    const list = async (args: string[]): Promise<string[]> => {
      const r = await run('docker', args, process.env, 30_000);
      return r.stdout
        .split('\n')
        .filter((n) => n.startsWith(`${this.prefix}-`) || n.startsWith(`${this.prefix}_`))
        .sort();
    };
    return {
      containers: await list(['ps', '-a', '--format', '{{.Names}}']),
      networks: await list(['network', 'ls', '--format', '{{.Name}}']),
      volumes: await list(['volume', 'ls', '--format', '{{.Name}}']),
      images: await list(['images', '--format', '{{.Repository}}:{{.Tag}}']),
    };
  }

  /**
   * Last resort after a failed `down`: removes what carries this prefix (and only that), so a broken
   * test run does not leave containers behind. Returns what it removed.
   */
  async forceCleanup(): Promise<DockerLeftovers> {
    const left = await this.leftovers();
    if (left.containers.length > 0) await run('docker', ['rm', '-f', ...left.containers], process.env, 120_000);
    if (left.networks.length > 0) await run('docker', ['network', 'rm', ...left.networks], process.env, 60_000);
    if (left.volumes.length > 0) await run('docker', ['volume', 'rm', '-f', ...left.volumes], process.env, 60_000);
    if (left.images.length > 0) await run('docker', ['rmi', '-f', ...left.images], process.env, 60_000);
    fs.rmSync(terraformStateFile(this.prefix), { force: true });
    fs.rmSync(`${terraformStateFile(this.prefix)}.backup`, { force: true });
    return left;
  }

  /** Servers of the balancer's backend and their status (UP, DOWN, MAINT, ...), from the stats CSV. */
  async backendServers(): Promise<{ name: string; status: string; addr: string }[]> {
    const res = await fetch(`${this.statsUrl};csv`, { headers: this.statsAuthHeader(), signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`stats CSV answered ${res.status}`);
    const text = await res.text();
    const [header, ...rows] = text.split('\n');
    const cols = (header ?? '').replace(/^# /, '').split(',');
    const idx = (name: string): number => cols.indexOf(name);
    const out: { name: string; status: string; addr: string }[] = [];
    for (const row of rows) {
      const f = row.split(',');
      if (f[idx('pxname')] !== 'ws_replicas') continue;
      const name = f[idx('svname')] ?? '';
      if (name === 'BACKEND' || name === 'FRONTEND') continue;
      out.push({ name, status: f[idx('status')] ?? '', addr: f[idx('addr')] ?? '' });
    }
    return out;
  }

  /** How many backend servers are UP (ready replicas the balancer routes to). */
  async upServers(): Promise<number> {
    try {
      return (await this.backendServers()).filter((s) => s.status === 'UP').length;
    } catch {
      return 0;
    }
  }
}
