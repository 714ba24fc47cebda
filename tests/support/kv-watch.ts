/**
 * Watches a deployment's JetStream KV bucket from inside its network: bundles tests/support/kv-watcher.ts
 * (esbuild, with its NATS client) into one file, runs it with `node` from the deployment's server image
 * in a container attached to the deployment's overlay network on a given Docker endpoint, and collects
 * the entries it prints. Timestamps are the NATS server's (`created`): the same clock as the host's, so an
 * event can be timed against something the test did (e.g. a node crash) to the millisecond.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './paths.js';

export interface KvEvent {
  readonly op: 'PUT' | 'DEL' | 'PURGE';
  readonly key: string;
  /** ms: when the NATS server stored the entry. */
  readonly created: number;
  /** ms: when the watcher received it. */
  readonly seen: number;
}

export interface KvWatchOptions {
  /** Docker endpoint (unix://…) of the node the watcher container runs on. */
  readonly endpoint: string;
  /** Container name (the deployment's prefix first, so the destroy check sees a leftover). */
  readonly name: string;
  readonly network: string;
  readonly image: string;
  readonly natsUrl: string;
  readonly natsUser: string;
  readonly natsPassword: string;
  readonly bucket: string;
  /** Directory for the bundle (readable by the container's user). */
  readonly workDir: string;
}

export class KvWatch {
  readonly events: KvEvent[] = [];
  private child: ChildProcess | undefined;
  private ready = false;
  private stderr = '';

  constructor(private readonly opts: KvWatchOptions) {}

  /** Starts the watcher and resolves once its watch is open (bounded). */
  async start(timeoutMs = 60_000): Promise<void> {
    const o = this.opts;
    fs.mkdirSync(o.workDir, { recursive: true });
    const bundle = path.join(o.workDir, 'kv-watcher.mjs');
    await build({
      entryPoints: [path.join(repoRoot, 'tests', 'support', 'kv-watcher.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      outfile: bundle,
      logLevel: 'warning',
      banner: { js: "import { createRequire as __wsfCreateRequire } from 'node:module'; const require = __wsfCreateRequire(import.meta.url);" },
    });
    fs.chmodSync(bundle, 0o644);
    const args = [
      '-H', o.endpoint, 'run', '--rm', '--name', o.name, '--network', o.network,
      '-e', `NATS_URL=${o.natsUrl}`, '-e', `NATS_USER=${o.natsUser}`, '-e', `NATS_PASS=${o.natsPassword}`, '-e', `BUCKET=${o.bucket}`,
      '-v', `${bundle}:/kv-watcher.mjs:ro`, '--entrypoint', 'node', o.image, '/kv-watcher.mjs',
    ];
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const v = JSON.parse(line) as Partial<KvEvent> & { ready?: boolean };
          if (v.ready === true) this.ready = true;
          else if (v.op !== undefined && v.key !== undefined) this.events.push(v as KvEvent);
        } catch {
          // not ours
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000); });
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (child.exitCode !== null) throw new Error(`kv watcher exited ${String(child.exitCode)}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`kv watcher not ready within ${timeoutMs} ms: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Keys whose last entry is a PUT (live keys), as of the events seen so far. */
  liveKeys(): Set<string> {
    const live = new Set<string>();
    for (const e of this.events) {
      if (e.op === 'PUT') live.add(e.key);
      else live.delete(e.key);
    }
    return live;
  }

  /** The first removal (DEL or PURGE) of `key` stored at or after `since`, if any. */
  removedAt(key: string, since: number): number | undefined {
    return this.events.find((e) => e.key === key && e.op !== 'PUT' && e.created >= since)?.created;
  }

  /** Stops and removes the container (bounded; never throws). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined) return;
    await new Promise<void>((resolve) => {
      const rm = spawn('docker', ['-H', this.opts.endpoint, 'rm', '-f', this.opts.name], { stdio: 'ignore' });
      const timer = setTimeout(() => { rm.kill('SIGKILL'); resolve(); }, 30_000);
      rm.on('close', () => { clearTimeout(timer); resolve(); });
    });
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
