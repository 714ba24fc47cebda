/**
 * `node --import tsx infra/rolling/cli.ts`: rolls the current server build (server/.image, or
 * WSFLEET_SERVER_CONTEXT) over the deployment WSFLEET_PREFIX one replica at a time, each step applied
 * by the deploy command (`infra/cli/fleet.ts apply`). Build the bundle first (`npm run build:server`). Prints the steps
 * as one JSON line on stdout; progress on stderr. The TypeScript deploy command calls rollingDeploy()
 * with its own apply instead.
 */
import { spawn } from 'node:child_process';
import { loadSettings, SettingsError } from '../settings.js';
import { ensureSecrets } from '../secrets.js';
import { serverContext } from '../server-context.js';
import { renderBalancerConfig } from '../render/haproxy.js';
import { projectRoot } from '../paths.js';
import { dockerRollingDeps, rollingDeploy } from './rolling-deploy.js';

function fleetApply(extraEnv: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/cli/fleet.ts', 'apply'], {
      cwd: projectRoot,
      env: { ...process.env, ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`apply exited ${String(code)}`));
    });
  });
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const { secrets } = ensureSecrets(settings.prefix);
  // In place: the synth of each step snapshots the build; pruning here would drop the old build's snapshot.
  const target = serverContext({ inPlace: true }).contextHash;
  const log = (m: string): void => {
    console.error(`ws-fleet: ${m}`);
  };
  const deps = dockerRollingDeps(settings, secrets, renderBalancerConfig(settings).statsPath, fleetApply, target, log);
  const report = await rollingDeploy(deps);
  console.log(JSON.stringify(report));
}

main().catch((err: unknown) => {
  console.error(err instanceof SettingsError ? `ws-fleet settings: ${err.message}` : err instanceof Error ? err.message : err);
  process.exit(1);
});
