/**
 * The demo's static files (the browser bundle of the client library, the demo page and its script),
 * built by client/build.mjs. They are read once at startup from the first directory that has them:
 * `public/` beside the server bundle (the image) or the repository's client/dist (development).
 * Each is served with an ETag (sha-256 of the content) and Cache-Control; If-None-Match → 304.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  etag: string;
  contentType: string;
  cacheControl: string;
}

/** URL path → file name in the assets directory, its type, and how long a browser may keep it without asking. */
const FILES: Record<string, { file: string; type: string; cache: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8', cache: 'no-cache' },
  '/client.js': { file: 'fleet-client.js', type: 'text/javascript; charset=utf-8', cache: 'public, max-age=300' },
  '/demo.js': { file: 'demo.js', type: 'text/javascript; charset=utf-8', cache: 'public, max-age=300' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8', cache: 'public, max-age=300' },
};

export const ASSET_PATHS: readonly string[] = Object.keys(FILES);

/** Where the assets may be: beside the running module (image: /app/public) or the repo's client/dist. */
export function assetDirCandidates(moduleUrl: string = import.meta.url): string[] {
  const here = path.dirname(fileURLToPath(moduleUrl));
  return [path.join(here, 'public'), path.resolve(here, '..', '..', '..', 'client', 'dist')];
}

/** Loads every asset from the first candidate directory holding the client bundle; an empty map when none does. */
export function loadAssets(dirs: string[] = assetDirCandidates()): { dir: string | undefined; assets: Map<string, Asset> } {
  const assets = new Map<string, Asset>();
  const dir = dirs.find((d) => fs.existsSync(path.join(d, 'fleet-client.js')));
  if (dir === undefined) return { dir, assets };
  for (const [urlPath, f] of Object.entries(FILES)) {
    const file = path.join(dir, f.file);
    if (!fs.existsSync(file)) continue;
    const body = fs.readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(urlPath, { body, etag, contentType: f.type, cacheControl: f.cache });
  }
  return { dir, assets };
}

/** True when the request's If-None-Match names this ETag (or `*`). */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*');
}
