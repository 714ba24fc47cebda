/**
 * CDKTF entry point (cdktf.json: "app": "npx tsx infra/main.ts").
 *
 * Reads and validates the settings (defaults ← .ws-fleet/settings/<prefix>.json ← WSFLEET_* env),
 * checks the balancer's ports are free, and synthesizes one stack named after the prefix.
 * WSFLEET_SYNTH_FOR_DESTROY=1 (set by scripts/down.sh) skips the checks that only matter for a deploy.
 */
import { App } from 'cdktf';
import { loadSettings, SettingsError } from './settings.js';
import { assertBalancerPortsAvailable } from './port-check.js';
import { serverContext } from './server-context.js';
import { renderBalancerConfig } from './render/haproxy.js';
import { FleetStack } from './stack.js';

async function main(): Promise<void> {
  const forDestroy = process.env['WSFLEET_SYNTH_FOR_DESTROY'] === '1';
  const settings = loadSettings();
  if (!forDestroy) await assertBalancerPortsAvailable(settings);
  const app = new App();
  new FleetStack(app, settings.prefix, {
    settings,
    server: serverContext({ allowMissing: forDestroy }),
    balancer: renderBalancerConfig(settings),
  });
  app.synth();
}

main().catch((err: unknown) => {
  if (err instanceof SettingsError) {
    console.error(`ws-fleet settings: ${err.message}`);
  } else {
    console.error(err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
