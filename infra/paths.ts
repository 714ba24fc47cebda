/**
 * The project's layout on disk, named once: the default deployment prefix and where each file of a
 * deployment lives. Everything mutable is under the gitignored state dir `.ws-fleet/` at the project
 * root (scripts/lib/env.sh exports the same directory to the shell scripts as WSFLEET_STATE):
 *   bin/                     nats-server and other binaries setup builds (first on PATH)
 *   logs/                    logs of setup, tests and benchmarks
 *   terraform/               the Terraform CLI config and the provider mirror
 *   settings/<prefix>.json   state/<prefix>.tfstate   secrets/<prefix>.env   outputs/<prefix>.json
 *   cdktf/<prefix>/stacks/<prefix>/cdk.tf.json  (synth output; the default deployment's is cdktf.out/,
 *                            where `cdktf` puts it; WSFLEET_CDKTF_OUT overrides the directory)
 *   server-builds/<prefix>/  the server builds a deployment has run (infra/server-context.ts)
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The deployment a command works on when WSFLEET_PREFIX is not set. */
export const DEFAULT_PREFIX = 'wsfleet';

/** The deployment WSFLEET_PREFIX names (unset: the default one). Validation is infra/settings.ts's job. */
export function prefixFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env['WSFLEET_PREFIX'] ?? DEFAULT_PREFIX;
}

/** The project root (the directory holding package.json and cdktf.json). */
export const projectRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const stateDir: string = path.join(projectRoot, '.ws-fleet');

/** Binaries setup puts in place (nats-server, ...). */
export const binDir: string = path.join(stateDir, 'bin');

/** Logs; `logsDir('tests')` is the tests' own folder. */
export function logsDir(...sub: string[]): string {
  return path.join(stateDir, 'logs', ...sub);
}

/** The Terraform CLI config setup writes (filesystem mirror for the docker provider). */
export const terraformCliConfig: string = path.join(stateDir, 'terraform', 'terraformrc');

/** `images/versions.json`: the official image tags the stack runs. */
export const imageVersionsFile: string = path.join(projectRoot, 'images', 'versions.json');

/** The build context `npm run build:server` prepares for the server image. */
export const serverImageContext: string = path.join(projectRoot, 'server', '.image');

/** Per-deployment settings written by `npm run scale` / `npm run lb` (JSON, any subset of the settings). */
export function settingsFile(prefix: string): string {
  return path.join(stateDir, 'settings', `${prefix}.json`);
}

/** Per-deployment secrets (mode 600): AUTH_SECRET, NATS_USER, NATS_PASSWORD, ... as `KEY=value` lines (infra/secrets.ts). */
export function secretsFile(prefix: string): string {
  return path.join(stateDir, 'secrets', `${prefix}.env`);
}

/** Terraform local-backend state for one deployment. */
export function terraformStateFile(prefix: string): string {
  return path.join(stateDir, 'state', `${prefix}.tfstate`);
}

/** The outputs of a deployment's last apply (balancer URL, ...). */
export function outputsFile(prefix: string): string {
  return path.join(stateDir, 'outputs', `${prefix}.json`);
}

/** Where a deployment's stack is synthesized. */
export function synthOutdir(prefix: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env['WSFLEET_CDKTF_OUT'];
  if (override !== undefined && override !== '') return override;
  return prefix === DEFAULT_PREFIX ? path.join(projectRoot, 'cdktf.out') : path.join(stateDir, 'cdktf', prefix);
}

export function stackDir(prefix: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(synthOutdir(prefix, env), 'stacks', prefix);
}

/** The immutable copies of the server builds a deployment has run. */
export function buildSnapshotsDir(prefix: string, root: string = stateDir): string {
  return path.join(root, 'server-builds', prefix);
}

/**
 * Every file and directory one deployment keeps under the state dir, for a test or a benchmark that
 * deploys under a prefix of its own and removes all of it afterwards (never the default deployment's).
 */
export function deploymentLeftovers(prefix: string): { files: string[]; dirs: string[] } {
  const state = terraformStateFile(prefix);
  return {
    files: [settingsFile(prefix), secretsFile(prefix), outputsFile(prefix), state, `${state}.backup`],
    dirs: [path.join(stateDir, 'cdktf', prefix), buildSnapshotsDir(prefix)],
  };
}
