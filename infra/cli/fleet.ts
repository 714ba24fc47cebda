/**
 * The deploy command: `node --import tsx infra/cli/fleet.ts <command>` (the npm scripts up, down, scale
 * and lb call it).
 *
 *   up                 build the server bundle, synth, apply; print where to connect
 *   down [--keep-data] destroy everything the stack created (--keep-data keeps the NATS volumes)
 *   scale <replicas>   write the replica count into the settings file, then apply
 *   lb <mode>          write the balancer mode into the settings file, then apply
 *   plan-json          synth and print `terraform plan -json` (nothing applied)
 *
 * Settings: infra/settings.ts (defaults ← .ws-fleet/settings/<prefix>.json ← WSFLEET_* env); the
 * deployment is WSFLEET_PREFIX (default wsfleet). The engine (settings `engine`: docker | swarm) picks the
 * stack; the deploy tool is terraform, tofu or cdktf (infra/cli/tool.ts). Secrets reach the tool as
 * TF_VAR_* (never printed, never in the synthesized files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSettings, SettingsError, updateSettingsFile, type Settings, type SettingKey } from '../settings.js';
import { ensureSecrets, terraformVariableEnv } from '../secrets.js';
import { outputsFile, projectRoot, stackDir, synthOutdir, terraformStateFile } from '../paths.js';
import { serverContext } from '../server-context.js';
import { renderBalancerConfig } from '../render/haproxy.js';
import { serverImageTag } from '../swarm/server-image.js';
import { chooseDeployTool, toolEnv, type ToolChoice } from './tool.js';
import { CommandError, log, run } from './run.js';
import { assertSwarmManager, cleanupNodes, distributeImages, waitForBalancer } from './swarm-ops.js';
import { printConnectInfo } from './connect-info.js';

interface Context {
  settings: Settings;
  choice: ToolChoice;
  env: NodeJS.ProcessEnv;
}

function context(extraEnv: NodeJS.ProcessEnv = {}): Context {
  const settings = loadSettings();
  const choice = chooseDeployTool();
  const { secrets } = ensureSecrets(settings.prefix);
  const env = { ...toolEnv(choice), ...terraformVariableEnv(secrets), ...extraEnv };
  // The provider (and docker) talk to the swarm manager the settings name.
  if (settings.engine === 'swarm' && settings.swarmManager !== '') env['DOCKER_HOST'] = settings.swarmManager;
  return { settings, choice, env };
}

const elapsed = (start: number): string => ((Date.now() - start) / 1000).toFixed(1);

async function synth(ctx: Context): Promise<string> {
  const outdir = synthOutdir(ctx.settings.prefix);
  fs.mkdirSync(path.dirname(outdir), { recursive: true });
  fs.mkdirSync(path.dirname(terraformStateFile(ctx.settings.prefix)), { recursive: true });
  await run(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'infra', 'main.ts')], {
    cwd: projectRoot,
    env: { ...ctx.env, CDKTF_OUTDIR: outdir },
    timeoutMs: 120_000,
  });
  return stackDir(ctx.settings.prefix);
}

async function terraform(ctx: Context, dir: string, args: string[], capture = false): Promise<string> {
  const r = await run(ctx.choice.binary, [`-chdir=${dir}`, ...args], { env: ctx.env, capture, cwd: projectRoot });
  return r.stdout;
}

async function init(ctx: Context, dir: string): Promise<void> {
  await run(ctx.choice.binary, [`-chdir=${dir}`, 'init', '-input=false', '-no-color'], { env: ctx.env, capture: true, timeoutMs: 5 * 60_000 });
}

/** cdktf's own CLI for the whole cycle: `cdktf deploy|destroy <stack>` (it synthesizes through cdktf.json's app). */
async function cdktf(ctx: Context, verb: 'deploy' | 'destroy', outputs?: string): Promise<void> {
  const outdir = synthOutdir(ctx.settings.prefix);
  const args = [verb, ctx.settings.prefix, '--auto-approve', '--skip-provider-lock', '--output', outdir, ...(outputs !== undefined ? ['--outputs-file', outputs] : [])];
  await run('cdktf', args, { env: ctx.env, cwd: projectRoot });
}

async function prepareSwarm(ctx: Context): Promise<void> {
  await assertSwarmManager(ctx.settings);
  const server = serverContext();
  await distributeImages(ctx.settings, serverImageTag(ctx.settings.prefix, server.contextHash), server.contextDir);
}

async function apply(ctx: Context): Promise<void> {
  const s = ctx.settings;
  if (s.engine === 'swarm') await prepareSwarm(ctx);
  const outputs = outputsFile(s.prefix);
  fs.mkdirSync(path.dirname(outputs), { recursive: true });
  if (ctx.choice.tool === 'cdktf') {
    await cdktf(ctx, 'deploy', outputs);
  } else {
    const dir = await synth(ctx);
    await init(ctx, dir);
    await terraform(ctx, dir, ['apply', '-input=false', '-auto-approve', '-no-color']);
    fs.writeFileSync(outputs, await terraform(ctx, dir, ['output', '-json'], true));
  }
  if (s.engine === 'swarm') {
    const addrs = await waitForBalancer(s, renderBalancerConfig(s).healthPath);
    const current = JSON.parse(fs.readFileSync(outputs, 'utf8')) as Record<string, unknown>;
    const url = `http://${addrs[0] ?? '?'}:${s.balancerPort}`;
    fs.writeFileSync(
      outputs,
      `${JSON.stringify(
        {
          ...current,
          balancer_url: { value: url },
          balancer_urls: { value: addrs.map((a) => `http://${a}:${s.balancerPort}`) },
          websocket_url: { value: `ws://${addrs[0] ?? '?'}:${s.balancerPort}/ws` },
          stats_url: { value: `http://${addrs[0] ?? '?'}:${s.statsPort}${renderBalancerConfig(s).statsPath}` },
        },
        null,
        2,
      )}\n`,
    );
  }
}

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
    case 'plan-json':
      return planJson();
    case 'apply':
      // The current settings and server build, applied as they are (the rolling deploy's step).
      return apply(context());
    default:
      throw new CommandError('usage: fleet.ts up | down [--keep-data] | scale <replicas> | lb <mode> | plan-json | apply');
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof SettingsError) console.error(`ws-fleet settings: ${err.message}`);
  else console.error(`ws-fleet: error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof CommandError && /^usage:/.test(err.message) ? 2 : 1);
});
