/**
 * Where one deployment's files live (all under the gitignored .ws-fleet/, except the default
 * deployment's synth output, cdktf.out/, where `cdktf` puts it):
 *   settings/<prefix>.json   state/<prefix>.tfstate   secrets/<prefix>.env   outputs/<prefix>.json
 *   cdktf/<prefix>/stacks/<prefix>/cdk.tf.json  (synth output; WSFLEET_CDKTF_OUT overrides the directory)
 */
import path from 'node:path';
import { projectRoot, stateDir } from '../paths.js';

export function synthOutdir(prefix: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env['WSFLEET_CDKTF_OUT'];
  if (override !== undefined && override !== '') return override;
  return prefix === 'wsfleet' ? path.join(projectRoot, 'cdktf.out') : path.join(stateDir, 'cdktf', prefix);
}

export function stackDir(prefix: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(synthOutdir(prefix, env), 'stacks', prefix);
}

export function outputsFile(prefix: string): string {
  return path.join(stateDir, 'outputs', `${prefix}.json`);
}
