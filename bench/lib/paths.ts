/** Where the bench reads and writes: results/ (gitignored output) and the project's state dir for logs. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { logsDir } from '../../infra/paths.js';
import { repoRoot } from '../../tests/support/paths.js';

export { repoRoot };
export const resultsDir = join(repoRoot, 'results');
/** esbuild bundles of the bench's own servers and workers (plain `node` runs them: no loader in the measured processes). */
export const buildDir = join(resultsDir, '.build');
export const profilesDir = join(resultsDir, 'profiles');
export const logDir = logsDir('bench');
/** startProcess options: the bench's processes log to .ws-fleet/logs/bench/<name>.log. */
export const BENCH_LOGS = { logDir: 'bench' } as const;
/** The replica as it ships in the image: `npm run build:server` bundles it here. */
export const serverBundle = join(repoRoot, 'server', '.image', 'server.mjs');

export function ensureDirs(): void {
  for (const d of [resultsDir, buildDir, profilesDir, logDir]) mkdirSync(d, { recursive: true });
}
