/**
 * Long-running processes the tests and the bench start, and what the bench reads of them in /proc.
 *  - startProcess: output to .ws-fleet/logs/<logDir>/<name>.log (tests/ by default, bench/ for the
 *    bench); every one tracked, so an interrupted run (Ctrl-C, an exception, exit) kills what it
 *    started and nothing else;
 *  - cpuSeconds / runQueueWaitSeconds / rssBytes / machineBusySeconds: per-process and machine
 *    counters from /proc;
 *  - CpuMeter: CPU used by named groups of processes over a window, sampled through the window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logsDir } from '../../infra/paths.js';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
  /** Folder under .ws-fleet/logs for the log file ("tests" unless told). */
  logDir?: string;
  /** Open an IPC channel (child_process.fork-style messages) as the fourth stdio entry. */
  ipc?: boolean;
}

const live = new Set<ManagedProcess>();

/** Kills (SIGKILL) every process started here that is still running. */
export function killStarted(): void {
  for (const p of live) p.signal('SIGKILL');
}
process.once('exit', killStarted);

/** The log files this process has started a child on (`startProcess`). */
const startedLogs = new Set<string>();

/** Starts a long-running process with its output in .ws-fleet/logs/<logDir>/<name>.log. */
export function startProcess(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, opts: StartOptions = {}): ManagedProcess {
  const dir = logsDir(opts.logDir ?? 'tests');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${name}.log`);
  // A line per start, and a process started again under its name in this run (a NATS node or a
  // replica after a kill) appends: the log of its earlier life is what explains a failure after a
  // kill. A log left by an earlier run is overwritten (tests read some logs, haproxy's).
  const log = createWriteStream(logFile, { flags: startedLogs.has(logFile) ? 'a' : 'w' });
  startedLogs.add(logFile);
  log.write(`=== ${new Date().toISOString()} start ${name}: ${cmd} ${args.join(' ')}\n`);
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
  const managed: ManagedProcess = {
    name,
    pid: child.pid,
    child,
    logFile,
    exited,
    signal(sig) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async stop(graceMs = 5000) {
      managed.signal('SIGTERM');
      const timer = setTimeout(() => { managed.signal('SIGKILL'); }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  live.add(managed);
  void exited.then(() => live.delete(managed));
  return managed;
}

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces); undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system, dead threads included) a process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return f === undefined ? 0 : (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_SEC;
}

/** When the process started, in seconds since boot (/proc/<pid>/stat starttime); undefined when gone. */
export function startedAtSec(pid: number): number | undefined {
  const f = statFields(pid);
  return f === undefined ? undefined : Number(f[19]) / CLOCK_TICKS_PER_SEC;
}

function uptimeSec(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
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

/** Busy CPU seconds of the whole machine so far (user+nice+system+irq+softirq+steal), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SEC;
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

export interface CpuWindow {
  wallSec: number;
  /** CPU seconds used per group in the window; never more than machineBusySec. */
  cpuSec: Record<string, number>;
  /** Seconds the group's threads waited for a CPU while runnable. */
  runQueueWaitSec: Record<string, number>;
  /** CPU seconds the whole machine spent busy (all processes, ours or not) from /proc/stat. */
  machineBusySec: number;
  /** Share of the window during which some runnable task waited for a CPU (Linux PSI "some"), %. */
  cpuPressurePct: number;
  /** Groups whose sum was cut to the machine's busy CPU (tick rounding on a short window). */
  clamped: string[];
  /** Processes that existed before the window but were first seen after its start: left out. */
  skipped: number;
}

interface PidTrack {
  /** Counter at the window's start (0 for a process started inside the window). */
  cpuBase: number;
  waitBase: number;
  /** Last counters read while it was alive (a process that exits keeps what it used). */
  cpuLast: number;
  waitLast: number;
}

/**
 * Measures CPU use and run-queue delay of named groups of processes between start() and stop().
 * The groups are re-read every `sampleMs` during the window: a process that appears is counted from
 * the start of the window when it started inside it (its whole lifetime is in the window), and left
 * out otherwise (its CPU before the window is not the window's); a process that exits keeps the CPU
 * it had used when last seen.
 */
export class CpuMeter {
  private readonly tracks = new Map<string, Map<number, PidTrack>>();
  private machineBefore = 0;
  private stallBefore = 0;
  private started = 0;
  private startedUptime = 0;
  private skipped = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly groups: () => Record<string, number[]>, private readonly sampleMs = 250) {}

  start(): void {
    this.tracks.clear();
    this.skipped = 0;
    this.startedUptime = uptimeSec();
    for (const [group, pids] of Object.entries(this.groups())) {
      const m = new Map<number, PidTrack>();
      for (const pid of pids) {
        const cpu = cpuSeconds(pid);
        const wait = runQueueWaitSeconds(pid);
        m.set(pid, { cpuBase: cpu, waitBase: wait, cpuLast: cpu, waitLast: wait });
      }
      this.tracks.set(group, m);
    }
    this.machineBefore = machineBusySeconds();
    this.stallBefore = cpuStallMicros();
    this.started = performance.now();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = setInterval(() => { this.sample(); }, this.sampleMs);
    this.timer.unref();
  }

  private sample(): void {
    for (const [group, pids] of Object.entries(this.groups())) {
      let m = this.tracks.get(group);
      if (m === undefined) {
        m = new Map();
        this.tracks.set(group, m);
      }
      for (const pid of pids) {
        const cpu = cpuSeconds(pid);
        const wait = runQueueWaitSeconds(pid);
        const t = m.get(pid);
        if (t !== undefined) {
          if (cpu > 0) {
            t.cpuLast = cpu;
            t.waitLast = wait;
          }
          continue;
        }
        const since = startedAtSec(pid);
        if (since === undefined) continue;
        // Started after the window began (tick resolution): all its CPU is the window's.
        if (since >= this.startedUptime - 0.01) m.set(pid, { cpuBase: 0, waitBase: 0, cpuLast: cpu, waitLast: wait });
        else {
          m.set(pid, { cpuBase: cpu, waitBase: wait, cpuLast: cpu, waitLast: wait });
          this.skipped += 1;
        }
      }
    }
  }

  stop(): CpuWindow {
    this.sample();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const wallSec = (performance.now() - this.started) / 1000;
    const machineBusy = machineBusySeconds() - this.machineBefore;
    const cpuSec: Record<string, number> = {};
    const runQueueWaitSec: Record<string, number> = {};
    const clamped: string[] = [];
    for (const [group, m] of this.tracks) {
      let cpu = 0;
      let wait = 0;
      for (const t of m.values()) {
        cpu += Math.max(0, t.cpuLast - t.cpuBase);
        wait += Math.max(0, t.waitLast - t.waitBase);
      }
      if (cpu > machineBusy) {
        clamped.push(group);
        cpu = machineBusy;
      }
      cpuSec[group] = Math.round(cpu * 100) / 100;
      runQueueWaitSec[group] = Math.round(wait * 100) / 100;
    }
    const cpuPressurePct = Math.round((cpuStallMicros() - this.stallBefore) / 1e4 / Math.max(0.001, wallSec));
    return { wallSec: Math.round(wallSec * 100) / 100, cpuSec, runQueueWaitSec, machineBusySec: Math.round(machineBusy * 100) / 100, cpuPressurePct, clamped, skipped: this.skipped };
  }
}
