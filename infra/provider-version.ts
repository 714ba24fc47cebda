/**
 * The kreuzwerker/docker version the stack requires: exactly what setup installed into the project's
 * provider mirror. 3.6.2 (what @cdktf/provider-docker 12.0.3 was generated for) where the Terraform
 * registry answers; offline, the source-built label recorded in .ws-fleet/terraform/provider-docker.stamp
 * (see scripts/lib/versions.sh). Order: WSFLEET_DOCKER_PROVIDER_VERSION (exported by scripts/lib/env.sh),
 * then the stamp file (so a bare `cdktf synth` or a test outside env.sh agrees), then 3.6.2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stateDir } from './paths.js';

export const BINDINGS_PROVIDER_VERSION = '3.6.2';
const VERSION_RE = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

export function providerStampFile(): string {
  return path.join(stateDir, 'terraform', 'provider-docker.stamp');
}

export function dockerProviderVersion(env: NodeJS.ProcessEnv = process.env, stampFile: string = providerStampFile()): string {
  const fromEnv = env['WSFLEET_DOCKER_PROVIDER_VERSION'];
  if (fromEnv !== undefined && VERSION_RE.test(fromEnv)) return fromEnv;
  if (fs.existsSync(stampFile)) {
    const first = fs.readFileSync(stampFile, 'utf8').trim().split(/\s+/)[0] ?? '';
    if (VERSION_RE.test(first)) return first;
  }
  return BINDINGS_PROVIDER_VERSION;
}
