/**
 * The deploy command's core, shared by its verbs (infra/cli/fleet.ts) and the rolling deploy
 * (infra/rolling/roll.ts): the context of one run (settings, deploy tool, environment with the secrets as
 * TF_VAR_*), synth, the deploy tool's init/plan/apply, and one apply of the current settings and server
 * build on either engine (on swarm: images onto the nodes first, the balancer's URLs after).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadSettings, type Settings } from '../settings.js';
import { ensureSecrets, terraformVariableEnv } from '../secrets.js';
import { outputsFile, projectRoot, stackDir, synthOutdir, terraformStateFile } from '../paths.js';
import { serverContext } from '../server-context.js';
import { renderBalancerConfig } from '../render/haproxy.js';
import { serverImageTag } from '../swarm/server-image.js';
import { chooseDeployTool, toolEnv, type ToolChoice } from './tool.js';
import { log, run } from './run.js';
import { assertSwarmManager, distributeImages, waitForBalancer } from './swarm-ops.js';

export interface Context {
  settings: Settings;
  choice: ToolChoice;
  env: NodeJS.ProcessEnv;
}

export function context(extraEnv: NodeJS.ProcessEnv = {}): Context {
  const settings = loadSettings();
  const choice = chooseDeployTool();
  const { secrets } = ensureSecrets(settings.prefix);
  const env = { ...toolEnv(choice), ...terraformVariableEnv(secrets), ...extraEnv };
  // The provider (and docker) talk to the swarm manager the settings name.
  if (settings.engine === 'swarm' && settings.swarmManager !== '') env['DOCKER_HOST'] = settings.swarmManager;
  return { settings, choice, env };
}

export const elapsed = (start: number): string => ((Date.now() - start) / 1000).toFixed(1);

export async function synth(ctx: Context): Promise<string> {
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

export async function terraform(ctx: Context, dir: string, args: string[], capture = false): Promise<string> {
  const r = await run(ctx.choice.binary, [`-chdir=${dir}`, ...args], { env: ctx.env, capture, cwd: projectRoot });
  return r.stdout;
}

export async function init(ctx: Context, dir: string): Promise<void> {
  await run(ctx.choice.binary, [`-chdir=${dir}`, 'init', '-input=false', '-no-color'], { env: ctx.env, capture: true, timeoutMs: 5 * 60_000 });
}

/** cdktf's own CLI for the whole cycle: `cdktf deploy|destroy <stack>` (it synthesizes through cdktf.json's app). */
export async function cdktf(ctx: Context, verb: 'deploy' | 'destroy', outputs?: string): Promise<void> {
  const outdir = synthOutdir(ctx.settings.prefix);
  const args = [verb, ctx.settings.prefix, '--auto-approve', '--skip-provider-lock', '--output', outdir, ...(outputs !== undefined ? ['--outputs-file', outputs] : [])];
  await run('cdktf', args, { env: ctx.env, cwd: projectRoot });
}

async function prepareSwarm(ctx: Context): Promise<void> {
  await assertSwarmManager(ctx.settings);
  const server = serverContext();
  await distributeImages(ctx.settings, serverImageTag(ctx.settings.prefix, server.contextHash), server.contextDir);
}

/** Runs one phase of an apply and logs how long it took (where the time of a deploy goes). */
async function phase<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  const out = await fn();
  log(`  ${what}: ${elapsed(start)} s`);
  return out;
}

export async function apply(ctx: Context): Promise<void> {
  const s = ctx.settings;
  if (s.engine === 'swarm') await phase('swarm images', () => prepareSwarm(ctx));
  const outputs = outputsFile(s.prefix);
  fs.mkdirSync(path.dirname(outputs), { recursive: true });
  if (ctx.choice.tool === 'cdktf') {
    await phase('cdktf deploy', () => cdktf(ctx, 'deploy', outputs));
  } else {
    const dir = await phase('synth', () => synth(ctx));
    await phase('init', () => init(ctx, dir));
    await phase('apply', () => terraform(ctx, dir, ['apply', '-input=false', '-auto-approve', '-no-color']));
    fs.writeFileSync(outputs, await terraform(ctx, dir, ['output', '-json'], true));
  }
  if (s.engine === 'swarm') {
    const addrs = await phase('balancer answering', () => waitForBalancer(s, renderBalancerConfig(s).healthPath));
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
