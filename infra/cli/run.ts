/**
 * Child processes for the deploy command: every one with a time limit, killed with its process group
 * when it overruns (terraform starts the provider as a child). Output goes to our stderr unless captured.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Default 30 min: an apply that rolls many replicas one at a time takes a while. */
  timeoutMs?: number;
  /** Capture stdout (returned) instead of passing it to our stderr. */
  capture?: boolean;
  /** Feed this process's stdout into another's stdin (for `docker save | docker load`). */
  input?: NodeJS.ReadableStream;
  /** Do not throw on a non-zero exit. */
  allowFailure?: boolean;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input ? 'pipe' : 'ignore', opts.capture === true ? 'pipe' : 'inherit', 'pipe'],
      detached: true,
    });
    if (opts.input && child.stdin) opts.input.pipe(child.stdin);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (opts.capture !== true) process.stderr.write(d);
    });
    const timer = setTimeout(() => {
      stderr += `\n[${cmd} timed out after ${timeoutMs} ms: killed]`;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(`${cmd}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && opts.allowFailure !== true) {
        reject(new CommandError(`${cmd} ${args.join(' ')} exited ${String(code)}${opts.capture === true ? `:\n${stderr.slice(-3000)}` : ''}`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** `command -v`: the first executable named `name` on PATH, or undefined. */
export function findOnPath(name: string, envPath: string = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function log(message: string): void {
  process.stderr.write(`ws-fleet: ${message}\n`);
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}
