/**
 * Where a replica's CPU goes when clients connect: the measured fleet's own replicas (started with
 * the inspector on loopback) are profiled over a connect burst spread over them, through the DevTools
 * protocol (bench/lib/window-profile.ts). The latency and fan-out profiles are taken inside figures
 * 3 and 4, on the same fleet, over one of their measured runs. Not a figure of its own: it is the
 * evidence for what limits figures 2 and 5b.
 */
import { renderProfile } from '../lib/cpuprofile.js';
import { BENCH_SECRET, type BenchFleet } from '../lib/fleet.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult } from '../lib/report.js';
import { startWindowProfile } from '../lib/window-profile.js';
import { startWorker } from '../lib/worker-host.js';
import type { HolderApi } from '../workers/holder-api.js';

export async function profilesFigure(fleet: BenchFleet, p: BenchProfile, log: (s: string) => void): Promise<FigureResult> {
  log('profiles: a connect burst over the measured fleet, profiled on its replicas');
  const h = startWorker<HolderApi>('profile-connect', 'holder');
  try {
    const n = Math.min(4000, p.memory.connections);
    const profiler = await startWindowProfile(fleet.replicas, 'connect');
    if (profiler === undefined) throw new Error('the fleet was started without inspectors (profile.cpuProfiles is off)');
    const r = await h.request('open', { targets: fleet.replicas.map((x) => ({ url: x.wsUrl })), count: n, userPrefix: 'profc', userStart: 0, auth: { kind: 'token', secret: BENCH_SECRET }, concurrency: 48, connectTimeoutMs: 20_000, deadline: Date.now() + 60_000, maxConsecutiveFailures: 200 }, 120_000);
    const prof = await profiler.stop(`${r.opened} connects (new users, JWT in the query) spread over the ${fleet.replicas.length} replicas; ${Math.round(r.opened / (r.elapsedMs / 1000))} connects/s while profiled`);
    await h.request('close', {});
    log('  connect workload profiled');
    const detail = ['### Replica CPU profiles: connect', '', `#### ${prof.what}`, '', renderProfile(prof.summary)].join('\n');
    return { rows: [], data: { profiles: [{ workload: prof.workload, what: prof.what, summary: prof.summary, files: prof.files }] }, detail };
  } finally {
    await h.stop();
  }
}
