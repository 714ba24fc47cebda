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

export interface KernelMemory {
  /** Pages the kernel holds in TCP socket buffers machine-wide (/proc/net/sockstat "TCP: mem"), in bytes. */
  tcpBuffersBytes: number;
  /** Unreclaimable slab (socket, inode, dentry and epoll structures among them), from /proc/meminfo SUnreclaim. */
  slabUnreclaimableBytes: number;
}

const PAGE_BYTES = 4096;

/**
 * The kernel's memory that sockets cost, machine-wide: a connection's kernel share is the change
 * over N connections divided by N. Machine-wide means the neighbours' sockets move it too, and on
 * loopback both ends of every connection (client and server, and HAProxy's two in figure 2) are here.
 */
export function kernelMemory(): KernelMemory {
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8');
  const tcpPages = Number(/^TCP:.* mem (\d+)/m.exec(sockstat)?.[1] ?? 0);
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const slabKb = Number(/^SUnreclaim:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  return { tcpBuffersBytes: tcpPages * PAGE_BYTES, slabUnreclaimableBytes: slabKb * 1024 };
}

/** (after - before) / n per field, bytes. */
export function kernelPerConnection(before: KernelMemory, after: KernelMemory, n: number): KernelMemory & { totalBytes: number } {
  const d = Math.max(1, n);
  const tcp = (after.tcpBuffersBytes - before.tcpBuffersBytes) / d;
  const slab = (after.slabUnreclaimableBytes - before.slabUnreclaimableBytes) / d;
  return { tcpBuffersBytes: tcp, slabUnreclaimableBytes: slab, totalBytes: tcp + slab };
}
