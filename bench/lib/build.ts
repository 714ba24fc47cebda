/**
 * Bundles the bench's own servers and workers with esbuild into results/.build, so every measured
 * process (replica, bare server, Socket.IO peer, load generators) runs under plain `node` alike.
 */
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildDir, repoRoot } from './paths.js';

const entries = {
  'servers/mem-probe': 'bench/servers/mem-probe.ts',
  'servers/bare-ws': 'bench/servers/bare-ws.ts',
  'servers/socketio': 'bench/servers/socketio.ts',
  'workers/holder': 'bench/workers/holder.ts',
  'workers/latency': 'bench/workers/latency.ts',
  'workers/fanout': 'bench/workers/fanout.ts',
} as const;

export type BundleName = keyof typeof entries;

export async function buildBundles(): Promise<void> {
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, join(repoRoot, src)])),
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    // ws and socket.io pull CommonJS modules that call require(): give the ESM bundle one.
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    external: ['bufferutil', 'utf-8-validate'],
  });
}

export function bundlePath(name: BundleName): string {
  return join(buildDir, `${name}.mjs`);
}
