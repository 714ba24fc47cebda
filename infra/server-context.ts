/**
 * The server image's build context (server/.image, prepared by `npm run build:server`) and a hash of
 * every file in it. The hash is the image's trigger and tag: a changed bundle rebuilds the image and
 * replaces the replicas; an unchanged one plans nothing. WSFLEET_SERVER_CONTEXT overrides the directory.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { serverImageContext } from './paths.js';

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else if (entry.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

/** sha256 over the relative paths and contents of all files in `dir`. */
export function hashDirectory(dir: string): string {
  const hash = createHash('sha256');
  for (const rel of listFiles(dir)) {
    hash.update(rel).update('\0').update(fs.readFileSync(path.join(dir, rel))).update('\0');
  }
  return hash.digest('hex');
}

export interface ServerContext {
  readonly contextDir: string;
  readonly contextHash: string;
}

/**
 * Throws with the fix when the context is missing, unless `allowMissing` (destroy only needs a valid
 * configuration, not a buildable one).
 */
export function serverContext(opts: { dir?: string; allowMissing?: boolean } = {}): ServerContext {
  const fromEnv = process.env['WSFLEET_SERVER_CONTEXT'];
  const dir = opts.dir ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : serverImageContext);
  const dockerfile = path.join(dir, 'Dockerfile');
  if (!fs.existsSync(dockerfile)) {
    if (opts.allowMissing === true) return { contextDir: dir, contextHash: '0'.repeat(64) };
    throw new Error(`server image context ${dir} has no Dockerfile: run \`npm run build:server\` first (scripts/up.sh does)`);
  }
  return { contextDir: dir, contextHash: hashDirectory(dir) };
}
