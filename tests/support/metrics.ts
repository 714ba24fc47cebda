import { metricsUrlOf } from './replica.js';

/**
 * Reads one sample from a replica's /metrics (Prometheus text), summing series that match all labels.
 * `baseUrl` is the replica's public URL or its metrics URL: metrics are served on METRICS_PORT.
 */
export async function readMetric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${metricsUrlOf(baseUrl)}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const lbls = m[3] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbls.includes(`${k}="${v}"`))) sum += Number(m[4]);
  }
  return sum;
}
