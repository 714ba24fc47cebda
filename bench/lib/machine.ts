/** What the bench ran on, for the results and the doc. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { findBinary } from '../../tests/support/paths.js';

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]?.trim() ?? '';
  } catch {
    return 'not found';
  }
}

function safeBinary(name: string): string {
  try {
    return findBinary(name);
  } catch {
    return name;
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  natsServer: string;
  haproxy: string;
  redis: string;
  openFilesLimit: string;
  loadAverageAtStart: number[];
  /** Share of time some runnable task waited for a CPU (Linux PSI, /proc/pressure/cpu), at start. */
  cpuPressureAtStart: string;
}

/** "some avg10=… avg60=… avg300=…" from /proc/pressure/cpu: how oversubscribed the CPUs are (noisy neighbours included). */
export function cpuPressure(): string {
  try {
    return (readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '').replace(/ total=\d+$/, '');
  } catch {
    return 'unavailable';
  }
}

export function machineInfo(): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    natsServer: version(safeBinary('nats-server'), ['--version']),
    haproxy: version(safeBinary('haproxy'), ['-v']),
    redis: version('redis-server', ['--version']),
    openFilesLimit: version('bash', ['-c', 'echo "soft $(ulimit -Sn) hard $(ulimit -Hn)"']),
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    cpuPressureAtStart: cpuPressure(),
  };
}
