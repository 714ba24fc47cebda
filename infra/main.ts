/**
 * CDKTF entry point (cdktf.json: "app": "npx tsx infra/main.ts"; the deploy command in infra/cli/ runs it too).
 *
 * Reads and validates the settings (defaults ← .ws-fleet/settings/<prefix>.json ← WSFLEET_* env) and
 * synthesizes one stack named after the prefix, for the engine the settings name:
 * - docker: checks the balancer's ports are free on this host, then FleetStack (infra/stack.ts);
 * - swarm: SwarmStack (infra/swarm/stack.ts); the ports are published on the balancer's swarm nodes.
 * WSFLEET_SYNTH_FOR_DESTROY=1 (set by the deploy command's `down`) skips the checks that only matter for a deploy.
 */
import { App } from 'cdktf';
import { loadSettings, SettingsError } from './settings.js';
import { assertBalancerPortsAvailable } from './port-check.js';
import { serverContext } from './server-context.js';
import { renderBalancerConfig } from './render/haproxy.js';
import { FleetStack } from './stack.js';
import { SwarmStack } from './swarm/stack.js';
import { serverImageTag } from './swarm/server-image.js';

async function main(): Promise<void> {
  const forDestroy = process.env['WSFLEET_SYNTH_FOR_DESTROY'] === '1';
  const settings = loadSettings();
  const server = serverContext({ allowMissing: forDestroy });
  const balancer = renderBalancerConfig(settings);
  const app = new App();
  if (settings.engine === 'swarm') {
    new SwarmStack(app, settings.prefix, {
      settings,
      images: { server: serverImageTag(settings.prefix, server.contextHash), nats: settings.natsImage, haproxy: settings.haproxyImage },
      balancer,
    });
  } else {
    if (!forDestroy) await assertBalancerPortsAvailable(settings);
    new FleetStack(app, settings.prefix, { settings, server, balancer });
  }
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
