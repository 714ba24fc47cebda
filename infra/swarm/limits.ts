/** Swarm expresses limits in bytes and nano-CPUs; the settings use MB and CPUs (the docker engine's units). */
export function swarmLimits(memoryMb: number, cpus: number): { memoryBytes: number; nanoCpus: number } {
  return { memoryBytes: memoryMb * 1024 * 1024, nanoCpus: Math.round(cpus * 1e9) };
}

/** Labels in the provider's list form. */
export function labelList(labels: Record<string, string>): { label: string; value: string }[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}
