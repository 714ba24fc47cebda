/**
 * The rolling deploy as a module (the deploy command's `roll` verb calls it; so may a load or chaos run):
 * rolls the current server build (server/.image, or WSFLEET_SERVER_CONTEXT) over the deployment
 * WSFLEET_PREFIX one replica at a time, on either engine, each apply made by the deploy command's own
 * apply (infra/cli/deploy.ts). Build the bundle first (`npm run build:server`).
 *   docker: one apply per replica, the others pinned to their build (rolling-deploy.ts), each step waiting
 *           until HAProxy routes to the successor;
 *   swarm:  one apply; Swarm's update config replaces the tasks one at a time (swarm-roll.ts).
 */
import { ensureSecrets } from '../secrets.js';
import { loadSettings } from '../settings.js';
import { serverContext } from '../server-context.js';
import { renderBalancerConfig } from '../render/haproxy.js';
import { apply, context } from '../cli/deploy.js';
import { dockerRollingDeps, rollingDeploy, type RollingReport } from './rolling-deploy.js';
import { swarmRoll, type SwarmRollReport } from './swarm-roll.js';

export type RollReport = (RollingReport & { readonly engine: 'docker' }) | SwarmRollReport;

export interface RollOptions {
  /** Progress lines (default: stderr with the deploy command's prefix). */
  readonly log?: (message: string) => void;
}

export async function roll(opts: RollOptions = {}): Promise<RollReport> {
  const log = opts.log ?? ((m: string): void => { process.stderr.write(`ws-fleet: ${m}\n`); });
  const settings = loadSettings();
  const { secrets } = ensureSecrets(settings.prefix);
  const statsPath = renderBalancerConfig(settings).statsPath;
  if (settings.engine === 'swarm') {
    const target = serverContext().contextHash;
    return swarmRoll(settings, secrets, statsPath, target, () => apply(context()), log);
  }
  // In place: the synth of each step snapshots the build; pruning here would drop the old build's snapshot.
  const target = serverContext({ inPlace: true }).contextHash;
  const deps = dockerRollingDeps(settings, secrets, statsPath, (env) => apply(context(env)), target, log);
  return { engine: 'docker', ...(await rollingDeploy(deps)) };
}
