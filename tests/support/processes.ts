import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<number | null>;
}

const live = new Set<ManagedProcess>();
process.once('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});

/** Starts a long-running process with its output in .ws-fleet/logs/tests/<name>.log. */
export function startProcess(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ManagedProcess {
  const dir = join(repoRoot, '.ws-fleet', 'logs', 'tests');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'w' });
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => { resolve(code); });
    child.once('error', () => { resolve(-1); });
  });
  const managed: ManagedProcess = {
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
