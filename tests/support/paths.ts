import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { binDir, projectRoot } from '../../infra/paths.js';

export const repoRoot = projectRoot;

/** Finds a binary: an explicit env override, then the project's .ws-fleet/bin, then PATH. */
export function findBinary(name: string, envOverride?: string): string {
  const explicit = envOverride === undefined ? undefined : process.env[envOverride];
  if (explicit !== undefined && explicit !== '') return explicit;
  const candidates = [join(binDir, name), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, name)), join('/usr/sbin', name)];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) {
    throw new Error(`${name} not found (looked in .ws-fleet/bin and PATH): run "bash scripts/setup.sh" first`);
  }
  return found;
}
