/**
 * Processes the bench starts: output to .ws-fleet/logs/bench/<name>.log, every one tracked so an
 * interrupted run (Ctrl-C, an exception) kills what it started and nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logDir } from './paths.js';

export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code once it is gone. */
  stop(graceMs?: number): Promise<number | null>;
}

const live = new Set<BenchProcess>();

function killAll(): void {
  for (const p of live) p.signal('SIGKILL');
}
process.once('exit', killAll);

/** Kills (SIGKILL) every process this bench started that is still running. */
export function killStarted(): void {
  killAll();
}

export function startBenchProcess(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: { ipc?: boolean } = {}): BenchProcess {
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'w' });
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: opts.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => { resolve(code); });
    child.once('error', () => { resolve(-1); });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const p: BenchProcess = {
    name,
    pid: child.pid,
    child,
    logFile,
    exited,
    signal(sig) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async stop(graceMs = 5000) {
      p.signal('SIGTERM');
      const timer = setTimeout(() => { p.signal('SIGKILL'); }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  live.add(p);
  void exited.then(() => live.delete(p));
  return p;
}

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS_PER_SEC;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in bytes (VmRSS), 0 when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Measures CPU seconds used by named groups of processes between start() and stop(). */
export class CpuMeter {
  private readonly before = new Map<number, number>();
  private started = 0;

  constructor(private readonly groups: () => Record<string, number[]>) {}

  start(): void {
    this.before.clear();
    for (const pids of Object.values(this.groups())) for (const pid of pids) this.before.set(pid, cpuSeconds(pid));
    this.started = performance.now();
  }

  /** CPU seconds per group and the wall-clock seconds of the window (2 cores = at most 2 CPU-s per s). */
  stop(): { wallSec: number; cpuSec: Record<string, number> } {
    const wallSec = (performance.now() - this.started) / 1000;
    const cpuSec: Record<string, number> = {};
    for (const [group, pids] of Object.entries(this.groups())) {
      let sum = 0;
      for (const pid of pids) sum += Math.max(0, cpuSeconds(pid) - (this.before.get(pid) ?? 0));
      cpuSec[group] = Math.round(sum * 100) / 100;
    }
    return { wallSec: Math.round(wallSec * 100) / 100, cpuSec };
  }
}
