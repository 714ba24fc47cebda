/**
 * The deploy tool and the environment it runs in.
 *
 * WSFLEET_DEPLOY_TOOL picks it: `terraform`, `tofu` (OpenTofu) or `cdktf` (`cdktf deploy`, which runs
 * terraform or tofu itself). Unset: terraform when it is on PATH, else tofu, else an error naming both.
 * Every tool gets the project's provider mirror (TF_CLI_CONFIG_FILE), no update checks and no telemetry.
 */
import path from 'node:path';
import { binDir, projectRoot, terraformCliConfig } from '../paths.js';
import { findOnPath } from './run.js';

export type DeployTool = 'terraform' | 'tofu' | 'cdktf';

/** PATH with the project's own binaries first (nats-server, node_modules/.bin) and haproxy's /usr/sbin. */
export function toolPath(envPath: string = process.env['PATH'] ?? ''): string {
  const parts = envPath.split(path.delimiter).filter((p) => p !== '');
  const first = [binDir, path.join(projectRoot, 'node_modules', '.bin')];
  const last = ['/usr/local/go/bin', '/usr/sbin', '/sbin'];
  return [...first, ...parts.filter((p) => !first.includes(p) && !last.includes(p)), ...last].join(path.delimiter);
}

export interface ToolChoice {
  tool: DeployTool;
  /** The Terraform-compatible binary that does the work (cdktf runs it too). */
  binary: 'terraform' | 'tofu';
}

export function chooseDeployTool(env: NodeJS.ProcessEnv = process.env): ToolChoice {
  const PATH = toolPath(env['PATH']);
  const asked = env['WSFLEET_DEPLOY_TOOL'] ?? '';
  if (env['WSFLEET_DEPLOY_ENGINE'] !== undefined) {
    throw new Error('WSFLEET_DEPLOY_ENGINE was renamed WSFLEET_DEPLOY_TOOL (terraform, tofu or cdktf); WSFLEET_ENGINE now picks docker or swarm');
  }
  const terraform = findOnPath('terraform', PATH) !== undefined;
  const tofu = findOnPath('tofu', PATH) !== undefined;
  const binary = terraform ? 'terraform' : tofu ? 'tofu' : undefined;
  const missing = "neither 'terraform' nor 'tofu' is on PATH: run scripts/setup.sh, or install Terraform or OpenTofu";
  switch (asked) {
    case '':
      if (binary === undefined) throw new Error(missing);
      return { tool: binary, binary };
    case 'terraform':
    case 'tofu':
      if (!(asked === 'terraform' ? terraform : tofu)) throw new Error(`WSFLEET_DEPLOY_TOOL=${asked} but '${asked}' is not on PATH`);
      return { tool: asked, binary: asked };
    case 'cdktf':
      if (findOnPath('cdktf', PATH) === undefined) throw new Error("WSFLEET_DEPLOY_TOOL=cdktf but 'cdktf' is not on PATH (npm ci installs it into node_modules/.bin)");
      if (binary === undefined) throw new Error(missing);
      return { tool: 'cdktf', binary };
    default:
      throw new Error(`invalid WSFLEET_DEPLOY_TOOL=${JSON.stringify(asked)}: terraform, tofu or cdktf`);
  }
}

/** The environment for synth and the deploy tool (secrets are added by the caller, never logged). */
export function toolEnv(choice: ToolChoice, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    PATH: toolPath(env['PATH']),
    TF_CLI_CONFIG_FILE: terraformCliConfig,
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    DISABLE_VERSION_CHECK: 'true',
    CDKTF_DISABLE_TELEMETRY: 'true',
    ...(choice.binary === 'tofu' ? { TERRAFORM_BINARY_NAME: 'tofu' } : {}),
  };
}
