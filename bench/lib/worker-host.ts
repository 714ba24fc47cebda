/** The bench side of bench/lib/ipc.ts: starts a worker bundle and sends it typed commands. */
import { join } from 'node:path';
import { isEvent, isResponse, type WorkerApi } from './ipc.js';
import { BENCH_LOGS, buildDir } from './paths.js';
import { startProcess, type ManagedProcess } from '../../tests/support/processes.js';

export interface WorkerHandle<A extends WorkerApi, E> {
  readonly name: string;
  readonly pid: number;
  readonly proc: ManagedProcess;
  request<K extends keyof A & string>(cmd: K, req: A[K]['req'], timeoutMs?: number): Promise<A[K]['res']>;
  onEvent(listener: (event: E) => void): () => void;
  stop(): Promise<void>;
}

/** Starts results/.build/workers/<bundle>.mjs with plain node and an IPC channel. */
export function startWorker<A extends WorkerApi, E = never>(name: string, bundle: string, nodeArgs: string[] = []): WorkerHandle<A, E> {
  const proc = startProcess(name, process.execPath, [...nodeArgs, join(buildDir, 'workers', `${bundle}.mjs`)], {}, { ...BENCH_LOGS, ipc: true });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const listeners = new Set<(event: E) => void>();
  let nextId = 1;
  proc.child.on('message', (m: unknown) => {
    if (isResponse(m)) {
      const p = pending.get(m.id);
      if (p === undefined) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.res);
      else p.reject(new Error(`worker ${name}: ${m.error}`));
    } else if (isEvent(m)) {
      for (const l of listeners) l(m.event as E);
    }
  });
  void proc.exited.then((code) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`worker ${name} exited (${String(code)}) during request ${id}; see ${proc.logFile}`));
    }
    pending.clear();
  });
  return {
    name,
    pid: proc.pid,
    proc,
    request: (cmd, req, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`worker ${name}: ${cmd} took longer than ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        proc.child.send({ id, cmd, req });
      }),
    onEvent: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: async () => {
      if (proc.child.connected) proc.child.disconnect();
      await proc.stop(3000);
    },
  };
}
