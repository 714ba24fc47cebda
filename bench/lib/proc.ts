/**
 * Processes the bench starts: output to .ws-fleet/logs/bench/<name>.log, every one tracked so an
 * interrupted run (Ctrl-C, an exception) kills what it started and nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
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

/**
 * Seconds the process's threads spent runnable but waiting for a CPU (run-queue delay), summed over
 * its threads from /proc/<pid>/task/<tid>/schedstat; 0 when it is gone. On an oversubscribed machine
 * this is where latency goes.
 */
export function runQueueWaitSeconds(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
      } catch {
        // thread gone
      }
    }
  } catch {
    return 0;
  }
  return ns / 1e9;
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

export interface CpuWindow {
  wallSec: number;
  /** CPU seconds used per group (2 cores: at most 2 CPU-s per wall second for everything on the box). */
  cpuSec: Record<string, number>;
  /** Seconds the group's threads waited for a CPU while runnable. */
  runQueueWaitSec: Record<string, number>;
  /** CPU seconds the whole machine spent busy (all processes, ours or not) from /proc/stat. */
  machineBusySec: number;
  /** Share of the window during which some runnable task waited for a CPU (Linux PSI "some"), %. */
  cpuPressurePct: number;
}

/** Microseconds of CPU stall ("some") so far, from /proc/pressure/cpu; 0 when unavailable. */
function cpuStallMicros(): number {
  try {
    const m = /total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '');
    return m?.[1] === undefined ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Busy CPU seconds of the whole machine so far (user+nice+system+irq+softirq+steal), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SEC;
}

/** Measures CPU use and run-queue delay of named groups of processes between start() and stop(). */
export class CpuMeter {
  private readonly cpuBefore = new Map<number, number>();
  private readonly waitBefore = new Map<number, number>();
  private machineBefore = 0;
  private stallBefore = 0;
  private started = 0;

  constructor(private readonly groups: () => Record<string, number[]>) {}

  start(): void {
    this.cpuBefore.clear();
    this.waitBefore.clear();
    for (const pids of Object.values(this.groups())) {
      for (const pid of pids) {
        this.cpuBefore.set(pid, cpuSeconds(pid));
        this.waitBefore.set(pid, runQueueWaitSeconds(pid));
      }
    }
    this.machineBefore = machineBusySeconds();
    this.stallBefore = cpuStallMicros();
    this.started = performance.now();
  }

  stop(): CpuWindow {
    const wallSec = (performance.now() - this.started) / 1000;
    const cpuSec: Record<string, number> = {};
    const runQueueWaitSec: Record<string, number> = {};
    for (const [group, pids] of Object.entries(this.groups())) {
      let cpu = 0;
      let wait = 0;
      for (const pid of pids) {
        cpu += Math.max(0, cpuSeconds(pid) - (this.cpuBefore.get(pid) ?? 0));
        wait += Math.max(0, runQueueWaitSeconds(pid) - (this.waitBefore.get(pid) ?? 0));
      }
      cpuSec[group] = Math.round(cpu * 100) / 100;
      runQueueWaitSec[group] = Math.round(wait * 100) / 100;
    }
    const machineBusySec = Math.round((machineBusySeconds() - this.machineBefore) * 100) / 100;
    const cpuPressurePct = Math.round((cpuStallMicros() - this.stallBefore) / 1e4 / Math.max(0.001, wallSec));
    return { wallSec: Math.round(wallSec * 100) / 100, cpuSec, runQueueWaitSec, machineBusySec, cpuPressurePct };
  }
}
