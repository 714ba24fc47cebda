/**
 * CPU profiles of the measured fleet over a measured window: every replica of the fleet was started
 * with its inspector on loopback (startBenchFleet({ inspect: true })); the workload's own run is
 * bracketed, and the profiles (results/profiles/<workload>-<replica>.cpuprofile) are summarized
 * together. Sampling costs the replicas a little CPU: the profiled run is named in the detail.
 */
import { join } from 'node:path';
import { summarizeProfile, type ProfileSummary } from './cpuprofile.js';
import type { BenchReplica } from './fleet.js';
import { startCpuProfile } from './inspector.js';
import { profilesDir } from './paths.js';

export interface ProfiledWindow {
  workload: string;
  /** What ran while profiled, with its figures. */
  what: string;
  summary: ProfileSummary;
  files: string[];
}

export interface WindowProfiler {
  stop(what: string): Promise<ProfiledWindow>;
}

/** Starts profiling every replica that has an inspector; undefined when none has. */
export async function startWindowProfile(replicas: BenchReplica[], workload: string): Promise<WindowProfiler | undefined> {
  const inspected = replicas.filter((r) => r.inspectPort !== undefined);
  if (inspected.length === 0) return undefined;
  const running = await Promise.all(inspected.map((r) => startCpuProfile(r.inspectPort ?? 0)));
  const files = inspected.map((r) => join(profilesDir, `${workload}-${r.id}.cpuprofile`));
  return {
    stop: async (what) => {
      await Promise.all(running.map((r, i) => r.stop(files[i] ?? '')));
      return { workload, what, summary: summarizeProfile(files, 15), files };
    },
  };
}
