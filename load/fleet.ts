/**
 * What the runner does to and reads from the deployed fleet, all through the docker CLI and the
 * project's own scale command, only on containers of the run's prefix: replica and NATS container
 * names, replica memory (from /metrics inside each container), SIGKILL of a replica's process (the
 * restart policy brings it back), `docker kill`/`start` of a NATS node, `docker network disconnect`/
 * `connect`, scale, and a rolling deploy of a changed server build. Every command has a time limit.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './target.js';
import { run } from '../infra/cli/run.js';
import { stateDir } from '../infra/paths.js';

/** Where the chaos run's changed server build is prepared (one at a time; the deploy snapshots it). */
const ROLLING_BUILD_DIR = path.join(stateDir, 'load', 'rolling-build');

export interface CommandOutcome {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs a command with a time limit (the deploy command's bounded runner); never rejects. */
export async function runCommand(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<CommandOutcome> {
  const started = Date.now();
  try {
    const r = await run(cmd, args, { cwd: repoRoot, env, timeoutMs, capture: true, allowFailure: true });
    return { code: r.code, output: `${r.stdout}${r.stderr}`.slice(-20_000), ms: Date.now() - started };
  } catch (err) {
    return { code: -1, output: (err as Error).message, ms: Date.now() - started };
  }
}

function docker(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

const PROBE = fs.readFileSync(path.join(import.meta.dirname, 'metrics-probe.sh'), 'utf8');
const RSS_RE = /^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)\r?$/m;

export class FleetOps {
  /** Environment the deploy commands get on top of the runner's: after a rolling deploy, the build it rolled out. */
  private readonly deployEnv: Record<string, string> = {};

  constructor(readonly prefix: string, private readonly scaleCmd: string[]) {}

  private async names(kind: 'ws' | 'nats'): Promise<string[]> {
    const out = await docker(['ps', '--format', '{{.Names}}', '--filter', `name=^${this.prefix}-${kind}-`]);
    const re = new RegExp(`^${this.prefix}-${kind}-(\\d+)$`);
    return out
      .split('\n')
      .filter((n) => re.test(n))
      .sort((a, b) => Number(re.exec(a)?.[1]) - Number(re.exec(b)?.[1]));
  }

  replicas(): Promise<string[]> {
    return this.names('ws');
  }

  natsNodes(): Promise<string[]> {
    return this.names('nats');
  }

  natsName(n: number): string {
    return `${this.prefix}-nats-${n}`;
  }

  replicaName(n: number): string {
    return `${this.prefix}-ws-${n}`;
  }

  networkName(): string {
    return `${this.prefix}-net`;
  }

  /** Resident memory of one replica in bytes, or undefined when it does not answer. */
  async replicaRss(name: string): Promise<number | undefined> {
    let text = '';
    try {
      text = await docker(['exec', name, 'bash', '-c', PROBE], 15_000);
    } catch {
      try {
        text = await docker(['exec', name, 'node', '-e',
          'const p=[process.env.METRICS_PORT||9091,process.env.PORT||8080];(async()=>{for(const x of p){try{const r=await fetch(`http://127.0.0.1:${x}/metrics`);const t=await r.text();if(t.includes("process_resident_memory_bytes")){process.stdout.write(t);return}}catch{}}process.exit(1)})()'], 20_000);
      } catch {
        return undefined;
      }
    }
    const m = RSS_RE.exec(text);
    return m?.[1] === undefined ? undefined : Math.round(Number(m[1]));
  }

  /** Every running replica's resident memory, read in parallel. */
  async memory(): Promise<Record<string, number>> {
    const names = await this.replicas().catch(() => []);
    const values = await Promise.all(names.map((n) => this.replicaRss(n)));
    const out: Record<string, number> = {};
    names.forEach((n, i) => {
      const v = values[i];
      if (v !== undefined) out[n] = v;
    });
    return out;
  }

  /** Each NATS node's log since `sinceIso` into `dir/nats-N.log` (evidence for what an event cost); never throws. */
  async saveNatsLogs(dir: string, sinceIso: string): Promise<string[]> {
    const saved: string[] = [];
    for (const name of await this.natsNodes().catch(() => [])) {
      const r = await runCommand('docker', ['logs', '--since', sinceIso, '--timestamps', name], 30_000);
      const file = path.join(dir, `${name.slice(this.prefix.length + 1)}.log`);
      fs.writeFileSync(file, r.output);
      saved.push(file);
    }
    return saved;
  }

  async restartCount(name: string): Promise<number> {
    return Number((await docker(['inspect', '-f', '{{.RestartCount}}', name])).trim());
  }

  async running(name: string): Promise<boolean> {
    try {
      return (await docker(['inspect', '-f', '{{.State.Running}}', name])).trim() === 'true';
    } catch {
      return false;
    }
  }

  /**
   * SIGKILL of the server process from the host (a crash, as far as Docker knows, so the restart
   * policy applies; `docker kill` would count as a deliberate stop). Resolves once it runs again.
   */
  async crashReplica(name: string, timeoutMs: number): Promise<string> {
    const before = await this.restartCount(name);
    const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', name])).trim());
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${name} has no host pid (${pid})`);
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await sleep(500);
      if ((await this.restartCount(name).catch(() => before)) > before && (await this.running(name))) return `restarted by its restart policy (restart count ${before} → ${before + 1})`;
    }
    throw new Error(`${name} did not come back within ${timeoutMs} ms`);
  }

  async dockerKill(name: string): Promise<void> {
    await docker(['kill', name]);
  }

  async dockerStart(name: string): Promise<void> {
    await docker(['start', name], 60_000);
  }

  async disconnect(name: string): Promise<void> {
    await docker(['network', 'disconnect', this.networkName(), name]);
  }

  async connect(name: string): Promise<void> {
    await docker(['network', 'connect', this.networkName(), name]);
  }

  /** The project's scale command (default `bash scripts/scale.sh N`), with the caller's environment. */
  scale(replicas: number, timeoutMs: number): Promise<CommandOutcome> {
    const [cmd, ...args] = this.scaleCmd;
    if (cmd === undefined) return Promise.resolve({ code: -1, output: 'no scale command', ms: 0 });
    return runCommand(cmd, [...args, String(replicas)], timeoutMs, { ...process.env, ...this.deployEnv });
  }

  /**
   * A rolling deploy of a changed server build: the current build context (WSFLEET_SERVER_CONTEXT,
   * else server/.image) copied with one file added, so its hash (the image tag) differs, rolled over
   * the replicas one at a time by the deploy command's `roll` verb (infra/rolling/roll.ts). Later scale steps of the
   * run deploy that build too (else a scale would put the old build back on every replica at once).
   * `cmd` (WSFLEET_ROLLING_CMD) replaces the command; it gets WSFLEET_SERVER_CONTEXT all the same.
   */
  async rollingDeploy(tag: string, cmd: string[] | undefined, timeoutMs: number): Promise<CommandOutcome & { build: string }> {
    const source = this.deployEnv.WSFLEET_SERVER_CONTEXT ?? process.env.WSFLEET_SERVER_CONTEXT ?? path.join(repoRoot, 'server', '.image');
    if (!fs.existsSync(path.join(source, 'Dockerfile'))) return { code: -1, output: `${source} has no Dockerfile: run npm run build:server first`, ms: 0, build: ROLLING_BUILD_DIR };
    const tmp = `${ROLLING_BUILD_DIR}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.cpSync(source, tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'LOAD-RUN-BUILD'), `a changed server build for the chaos run ${tag} (${new Date().toISOString()})\n`);
    fs.rmSync(ROLLING_BUILD_DIR, { recursive: true, force: true });
    fs.renameSync(tmp, ROLLING_BUILD_DIR);
    const [c, ...args] = cmd ?? [process.execPath, '--import', 'tsx', 'infra/cli/fleet.ts', 'roll'];
    if (c === undefined) return { code: -1, output: 'empty rolling deploy command', ms: 0, build: ROLLING_BUILD_DIR };
    const env = { ...process.env, ...this.deployEnv, WSFLEET_SERVER_CONTEXT: ROLLING_BUILD_DIR };
    const r = await runCommand(c, args, timeoutMs, env);
    this.deployEnv.WSFLEET_SERVER_CONTEXT = ROLLING_BUILD_DIR;
    return { ...r, build: ROLLING_BUILD_DIR };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
