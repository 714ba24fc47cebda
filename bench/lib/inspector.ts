/**
 * CPU profiles of exactly a measured window: replicas started with `--inspect=127.0.0.1:<port>` are
 * profiled through the DevTools protocol (Profiler.start / Profiler.stop over the inspector's
 * WebSocket), so set-up work (connecting a thousand members) stays out of the profile.
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { waitFor } from '../../tests/support/ports.js';

export interface RunningProfile {
  /** Stops the profiler and writes the profile (.cpuprofile JSON) to `file`. */
  stop(file: string): Promise<void>;
}

async function debuggerUrl(port: number): Promise<string> {
  let url = '';
  await waitFor(`inspector on port ${port}`, async () => {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) })).json()) as { webSocketDebuggerUrl?: string }[];
    url = list[0]?.webSocketDebuggerUrl ?? '';
    return url !== '';
  }, 15_000, 100);
  return url;
}

export async function startCpuProfile(inspectPort: number, samplingIntervalUs = 1000): Promise<RunningProfile> {
  const ws = new WebSocket(await debuggerUrl(inspectPort), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { resolve(); });
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  ws.on('message', (raw: Buffer) => {
    const m = JSON.parse(raw.toString('utf8')) as { id?: number; result?: unknown; error?: { message: string } };
    if (m.id === undefined) return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) p?.reject(new Error(m.error.message));
    else p?.resolve(m.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error(`inspector ${method} timed out`));
      }, 60_000).unref();
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  await call('Profiler.start');
  return {
    stop: async (file) => {
      const result = (await call('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(result.profile));
      ws.close();
    },
  };
}
