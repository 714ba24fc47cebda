/**
 * Which fleet the runner loads, found as scripts/k6.sh finds it: the deployment WSFLEET_PREFIX
 * (default wsfleet), its balancer URL from the deploy outputs (.ws-fleet/outputs/<prefix>.json, else
 * the deployment's settings), AUTH_SECRET from .ws-fleet/secrets/<prefix>.env. WSFLEET_BALANCER_URL and
 * WSFLEET_AUTH_SECRET override them. Only 127.0.0.1 is accepted, and the balancer must answer /healthz.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { DEFAULT_PREFIX, outputsFile, projectRoot } from '../infra/paths.js';
import { readSecrets } from '../infra/secrets.js';
import { balancerWsUrl, ConfigError } from './scenarios.js';

export interface Target {
  prefix: string;
  wsUrl: string;
  healthUrl: string;
  secret: string;
  description: string;
}

export const repoRoot = projectRoot;

/** The first `balancer_url` anywhere in cdktf's ({"<stack>": {"balancer_url": …}}) or terraform's ({"balancer_url": {"value": …}}) outputs. */
export function findBalancerUrl(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const obj = json as Record<string, unknown>;
  const direct = obj.balancer_url;
  if (typeof direct === 'string') return direct;
  if (direct !== null && typeof direct === 'object' && typeof (direct as { value?: unknown }).value === 'string') return (direct as { value: string }).value;
  for (const v of Object.values(obj)) {
    const found = findBalancerUrl(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

function fromOutputs(prefix: string): string | undefined {
  for (const file of [outputsFile(prefix), `${outputsFile(prefix)}.tf`]) {
    if (!fs.existsSync(file)) continue;
    try {
      const url = findBalancerUrl(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (url !== undefined) return url;
    } catch {
      // An unreadable outputs file: try the next source.
    }
  }
  return undefined;
}

function fromSettings(): string | undefined {
  const get = (key: string): string =>
    execFileSync(process.execPath, ['--import', 'tsx', 'infra/cli/settings.ts', 'get', key], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return `http://${get('bindAddress')}:${get('balancerPort')}`;
  } catch {
    return undefined;
  }
}

/** The deployment's AUTH_SECRET, read by infra/secrets.ts (the one parser of the secrets file). */
export function readSecret(prefix: string): string {
  try {
    return readSecrets(prefix).authSecret;
  } catch (err) {
    throw new ConfigError(`${err instanceof Error ? err.message : String(err)}; or set WSFLEET_AUTH_SECRET`);
  }
}

/** `healthPath`: what the balancer's frontend answers 200 on (ws-fleet's replicas: /healthz; a Centrifugo peer: /health). */
export async function discoverTarget(env: NodeJS.ProcessEnv, healthPath = '/healthz'): Promise<Target> {
  const prefix = env.WSFLEET_PREFIX !== undefined && env.WSFLEET_PREFIX !== '' ? env.WSFLEET_PREFIX : DEFAULT_PREFIX;
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(prefix)) throw new ConfigError(`WSFLEET_PREFIX=${JSON.stringify(prefix)}: not a deployment prefix`);
  const given = env.WSFLEET_BALANCER_URL;
  const url = given !== undefined && given !== '' ? given : (fromOutputs(prefix) ?? fromSettings());
  if (url === undefined) throw new ConfigError(`no balancer URL for deployment ${prefix}: deploy it (npm run up) or set WSFLEET_BALANCER_URL`);
  const wsUrl = balancerWsUrl(url);
  const secret = env.WSFLEET_AUTH_SECRET !== undefined && env.WSFLEET_AUTH_SECRET !== '' ? env.WSFLEET_AUTH_SECRET : readSecret(prefix);
  if (secret.length < 32) throw new ConfigError(`the AUTH_SECRET of deployment ${prefix} is shorter than 32 characters`);
  const healthUrl = wsUrl.replace(/^ws/, 'http').replace(/\/ws$/, healthPath);
  try {
    const res = await fetch(healthUrl, { signal: AbortSignal.timeout(5000) });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new ConfigError(`the balancer does not answer: GET ${healthUrl} → ${err instanceof Error ? err.message : String(err)}; is the fleet up (npm run up)?`);
  }
  return { prefix, wsUrl, healthUrl, secret, description: `deployment ${prefix}` };
}
