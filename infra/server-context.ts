/**
 * The server image's build context (server/.image, prepared by `npm run build:server`) and a hash of
 * every file in it. The hash is the image's trigger and tag: a changed bundle rebuilds the image and
 * replaces the replicas; an unchanged one plans nothing. WSFLEET_SERVER_CONTEXT overrides the directory.
 *
 * Builds are immutable: each one is copied to `.ws-fleet/server-builds/<prefix>/<hash12>/` and the image
 * is built from that copy, so a replica still running an earlier build during a rolling deploy keeps an
 * image resource whose context never changes under it. WSFLEET_SERVER_BUILD_PINS (JSON, replica number →
 * build hash, set by infra/rolling) keeps those replicas on their earlier build for one apply.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildSnapshotsDir, prefixFromEnv, serverImageContext, stateDir } from './paths.js';

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

/** One server build: the directory its image is built from and the hash of that directory's files. */
export interface ServerBuild {
  readonly contextDir: string;
  readonly contextHash: string;
}

export interface ServerContext extends ServerBuild {
  /** Replicas (by number, 1-based) kept on an earlier build for this apply (a rolling deploy in progress). */
  readonly pinned?: ReadonlyMap<number, ServerBuild>;
}

/** The environment variable infra/rolling sets: `{"2":"<sha256>","3":"<sha256>"}`. */
export const BUILD_PINS_ENV = 'WSFLEET_SERVER_BUILD_PINS';

export { buildSnapshotsDir };

function snapshotDir(prefix: string, hash: string, root: string): string {
  return path.join(buildSnapshotsDir(prefix, root), hash.slice(0, 12));
}

/** Copies `dir` to its immutable snapshot (once) and returns the snapshot. */
function snapshot(prefix: string, dir: string, hash: string, root: string): ServerBuild {
  const target = snapshotDir(prefix, hash, root);
  if (!fs.existsSync(target) || hashDirectory(target) !== hash) {
    const tmp = `${target}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.cpSync(dir, tmp, { recursive: true });
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(tmp, target);
  }
  return { contextDir: target, contextHash: hash };
}

/** Parses WSFLEET_SERVER_BUILD_PINS; throws naming the bad entry. */
export function parseBuildPins(raw: string | undefined): Map<number, string> {
  const pins = new Map<number, string>();
  if (raw === undefined || raw.trim() === '') return pins;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${BUILD_PINS_ENV}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${BUILD_PINS_ENV}: must be an object of replica number → build hash`);
  for (const [k, v] of Object.entries(parsed)) {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${BUILD_PINS_ENV}: ${JSON.stringify(k)} is not a replica number`);
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new Error(`${BUILD_PINS_ENV}: replica ${k}: ${JSON.stringify(v)} is not a build hash (64 hex digits)`);
    pins.set(n, v);
  }
  return pins;
}

export interface ServerContextOptions {
  dir?: string;
  /** Destroy only needs a valid configuration, not a buildable one. */
  allowMissing?: boolean;
  /** The deployment whose snapshots to use (default WSFLEET_PREFIX, else DEFAULT_PREFIX). */
  prefix?: string;
  /** Use the context where it is: no snapshot, no pins (unit tests). */
  inPlace?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Root of the snapshots (default .ws-fleet). */
  stateRoot?: string;
}

/**
 * Throws with the fix when the context is missing (unless `allowMissing`) or a pinned build has no
 * snapshot. With a prefix, snapshots the context, resolves the pins and removes snapshots nothing uses.
 */
export function serverContext(opts: ServerContextOptions = {}): ServerContext {
  const env = opts.env ?? process.env;
  const fromEnv = env['WSFLEET_SERVER_CONTEXT'];
  const dir = opts.dir ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : serverImageContext);
  const dockerfile = path.join(dir, 'Dockerfile');
  if (!fs.existsSync(dockerfile)) {
    if (opts.allowMissing === true) return { contextDir: dir, contextHash: '0'.repeat(64) };
    throw new Error(`server image context ${dir} has no Dockerfile: run \`npm run build:server\` first (scripts/up.sh does)`);
  }
  const hash = hashDirectory(dir);
  if (opts.inPlace === true) return { contextDir: dir, contextHash: hash };
  const prefix = opts.prefix ?? prefixFromEnv(env);
  const root = opts.stateRoot ?? stateDir;
  const current = snapshot(prefix, dir, hash, root);
  const pinned = new Map<number, ServerBuild>();
  for (const [replica, pinHash] of parseBuildPins(env[BUILD_PINS_ENV])) {
    if (pinHash === hash) continue;
    const pinDir = snapshotDir(prefix, pinHash, root);
    if (!fs.existsSync(path.join(pinDir, 'Dockerfile'))) {
      throw new Error(`${BUILD_PINS_ENV}: replica ${replica} is pinned to build ${pinHash.slice(0, 12)}, which has no snapshot in ${buildSnapshotsDir(prefix, root)}`);
    }
    pinned.set(replica, { contextDir: pinDir, contextHash: pinHash });
  }
  if (opts.allowMissing !== true) {
    const keep = new Set([current.contextDir, ...[...pinned.values()].map((b) => b.contextDir)]);
    const parent = buildSnapshotsDir(prefix, root);
    for (const entry of fs.readdirSync(parent)) {
      const full = path.join(parent, entry);
      if (!keep.has(full)) fs.rmSync(full, { recursive: true, force: true });
    }
  }
  return pinned.size > 0 ? { ...current, pinned } : current;
}
