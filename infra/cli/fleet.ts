/**
 * The deploy command: `node --import tsx infra/cli/fleet.ts <command>` (the npm scripts up, down, scale,
 * lb and roll call it).
 *
 *   up                 build the server bundle, synth, apply; print where to connect
 *   down [--keep-data] destroy everything the stack created (--keep-data keeps the NATS volumes)
 *   scale <replicas>   write the replica count into the settings file, then apply
 *   lb <mode>          write the balancer mode into the settings file, then apply
 *   roll               roll the current server build over the replicas one at a time (infra/rolling/roll.ts);
 *                      prints the steps as one JSON line on stdout
 *   plan-json          synth and print `terraform plan -json` (nothing applied)
 *   apply              apply the current settings and server build as they are
 *
 * Settings: infra/settings.ts (defaults ← .ws-fleet/settings/<prefix>.json ← WSFLEET_* env); the
 * deployment is WSFLEET_PREFIX (default wsfleet). The engine (settings `engine`: docker | swarm) picks the
 * stack; the deploy tool is terraform, tofu or cdktf (infra/cli/tool.ts). Secrets reach the tool as
 * TF_VAR_* (never printed, never in the synthesized files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SettingsError, updateSettingsFile, type Settings, type SettingKey } from '../settings.js';
import { outputsFile, projectRoot, terraformStateFile } from '../paths.js';
import { CommandError, log, run } from './run.js';
import { cleanupNodes } from './swarm-ops.js';
import { printConnectInfo } from './connect-info.js';
import { apply, cdktf, context, elapsed, init, synth, terraform } from './deploy.js';
import { roll } from '../rolling/roll.js';

async function up(): Promise<void> {
  let start = Date.now();
  await run('bash', [path.join(projectRoot, 'scripts', 'build-server.sh')], { cwd: projectRoot, timeoutMs: 5 * 60_000 });
  log(`server bundle built (${elapsed(start)} s)`);
  const ctx = context();
  start = Date.now();
  await apply(ctx);
  log(`deployed ${ctx.settings.prefix} on ${ctx.settings.engine} (${elapsed(start)} s)`);
  process.stdout.write('\n');
  printConnectInfo(ctx.settings, 'alice');
}

async function down(args: string[]): Promise<void> {
  const keepData = args.includes('--keep-data');
  if (args.some((a) => a !== '--keep-data')) throw new CommandError('usage: npm run down [-- --keep-data]');
  const ctx = context({ WSFLEET_SYNTH_FOR_DESTROY: '1' });
  const s = ctx.settings;
  const state = terraformStateFile(s.prefix);
  if (!fs.existsSync(state) || fs.statSync(state).size === 0) {
    log(`no state for ${s.prefix} (${state}): nothing to destroy`);
    return;
  }
  const start = Date.now();
  if (ctx.choice.tool === 'cdktf' && !(keepData && s.engine === 'docker')) {
    await cdktf(ctx, 'destroy');
  } else {
    const dir = await synth(ctx);
    await init(ctx, dir);
    if (keepData && s.engine === 'docker') {
      // Forgetting the volumes (not destroying them) keeps the JetStream data for the next `up`.
      const volumes = (await terraform(ctx, dir, ['state', 'list'], true)).split('\n').filter((l) => l.startsWith('docker_volume.'));
      if (volumes.length > 0) await terraform(ctx, dir, ['state', 'rm', ...volumes], true);
    }
    await terraform(ctx, dir, ['destroy', '-input=false', '-auto-approve', '-no-color']);
  }
  if (s.engine === 'swarm') {
    const left = await cleanupNodes(s, { keepData });
    if (left.length > 0) throw new CommandError(`destroyed ${s.prefix}, but these are left on the nodes:\n  ${left.join('\n  ')}`);
  }
  fs.rmSync(outputsFile(s.prefix), { force: true });
  log(`destroyed ${s.prefix} (${elapsed(start)} s)${keepData ? '; NATS volumes kept' : ''}`);
}

async function setAndApply(key: SettingKey, args: string[], usage: string, what: (s: Settings) => string): Promise<void> {
  const [value, ...rest] = args;
  if (value === undefined || rest.length > 0) throw new CommandError(usage);
  // The command line is what the user asked for: an env override must not silently win over it.
  const envName = `WSFLEET_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
  Reflect.deleteProperty(process.env, envName);
  updateSettingsFile(key, value);
  const ctx = context();
  const start = Date.now();
  await apply(ctx);
  log(`${what(ctx.settings)} (${elapsed(start)} s)`);
}

async function planJson(): Promise<void> {
  const ctx = context();
  const dir = await synth(ctx);
  await init(ctx, dir);
  const out = await terraform(ctx, dir, ['plan', '-json', '-input=false', '-lock-timeout=60s'], true);
  process.stdout.write(out);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'up':
      return up();
    case 'down':
      return down(args);
    case 'scale':
      return setAndApply('replicas', args, 'usage: npm run scale -- <replicas 1..64>', (s) => `scaled ${s.prefix} to ${s.replicas} replicas`);
    case 'lb':
      return setAndApply('lbMode', args, 'usage: npm run lb -- <roundrobin|leastconn|sticky>', (s) => `balancer of ${s.prefix} now in ${s.lbMode} mode`);
    case 'roll': {
      if (args.length > 0) throw new CommandError('usage: npm run roll');
      const report = await roll();
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    case 'plan-json':
      return planJson();
    case 'apply':
      // The current settings and server build, applied as they are (the rolling deploy's step).
      return apply(context());
    default:
      throw new CommandError('usage: fleet.ts up | down [--keep-data] | scale <replicas> | lb <mode> | roll | plan-json | apply');
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof SettingsError) console.error(`ws-fleet settings: ${err.message}`);
  else console.error(`ws-fleet: error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof CommandError && /^usage:/.test(err.message) ? 2 : 1);
});
