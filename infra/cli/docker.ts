/**
 * The `docker` CLI against one endpoint ('' = the environment's DOCKER_HOST, else the local socket).
 */
import { run, type RunResult } from './run.js';

export function dockerArgs(endpoint: string, args: string[]): string[] {
  return endpoint === '' ? args : ['-H', endpoint, ...args];
}

export async function docker(endpoint: string, args: string[], opts: { timeoutMs?: number; allowFailure?: boolean } = {}): Promise<RunResult> {
  return run('docker', dockerArgs(endpoint, args), { capture: true, timeoutMs: opts.timeoutMs ?? 120_000, allowFailure: opts.allowFailure });
}

/** stdout lines, empty ones dropped. */
export async function dockerLines(endpoint: string, args: string[]): Promise<string[]> {
  const r = await docker(endpoint, args);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** The image's ID on that endpoint, or undefined when it is not there. */
export async function imageId(endpoint: string, ref: string): Promise<string | undefined> {
  const r = await docker(endpoint, ['image', 'inspect', '--format', '{{.Id}}', ref], { allowFailure: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}
