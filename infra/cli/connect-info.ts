/**
 * Prints the deployment's URLs and how to connect, with a sample JWT (HS256, 1 h) for `user` minted from
 * the deployment's secret. `node --import tsx infra/cli/connect-info.ts [user]` runs it alone; `up` prints it.
 * On swarm the balancer address is the first node running HAProxy (from the outputs file of the last deploy).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSigner } from 'fast-jwt';
import { loadSettings, type Settings } from '../settings.js';
import { readSecrets } from '../secrets.js';
import { outputsFile, secretsFile } from '../paths.js';
import { wsContainerName } from '../names.js';
import { renderBalancerConfig } from '../render/haproxy.js';

/** host:port of the balancer: the bind address on docker; a balancer node's address on swarm. */
function balancerHosts(settings: Settings): { http: string; stats: string; all: string[] } {
  if (settings.engine === 'swarm') {
    try {
      const out = JSON.parse(fs.readFileSync(outputsFile(settings.prefix), 'utf8')) as { balancer_urls?: { value?: string[] } };
      const urls = out.balancer_urls?.value ?? [];
      const first = urls[0]?.replace(/^http:\/\//, '').replace(/:\d+$/, '');
      if (first !== undefined) return { http: `${first}:${settings.balancerPort}`, stats: `${first}:${settings.statsPort}`, all: urls };
    } catch {
      // no outputs yet: fall through to a placeholder
    }
    return { http: `<balancer node>:${settings.balancerPort}`, stats: `<balancer node>:${settings.statsPort}`, all: [] };
  }
  return { http: `${settings.bindAddress}:${settings.balancerPort}`, stats: `${settings.bindAddress}:${settings.statsPort}`, all: [] };
}

export function printConnectInfo(settings: Settings, user: string): void {
  const secrets = readSecrets(settings.prefix);
  const now = Math.floor(Date.now() / 1000);
  const token = createSigner({ key: secrets.authSecret, algorithm: 'HS256', noTimestamp: true })({ sub: user, iat: now, exp: now + 3600 });
  const hosts = balancerHosts(settings);
  const base = hosts.http;
  const statsPath = renderBalancerConfig(settings).statsPath;
  const replicas =
    settings.engine === 'swarm'
      ? `${settings.prefix}-ws (${settings.replicas} tasks, ${wsContainerName(settings.prefix, 1)} … by slot)`
      : Array.from({ length: settings.replicas }, (_, i) => wsContainerName(settings.prefix, i + 1)).join(' ');
  console.log(
    [
      `ws-fleet "${settings.prefix}" on ${settings.engine}: ${settings.replicas} replicas, ${settings.natsNodes} NATS node(s), balancer mode ${settings.lbMode}`,
      `  balancer:   http://${base}${hosts.all.length > 1 ? ` (also ${hosts.all.slice(1).join(' ')})` : ''}`,
      `  websocket:  ws://${base}/ws`,
      `  stats:      http://${hosts.stats}${statsPath}`,
      `  replicas:   ${replicas}`,
      `  secrets:    ${secretsFile(settings.prefix)} (AUTH_SECRET signs client JWTs)`,
      '',
      `Connect as "${user}" (token valid 1 h):`,
      `  node -e "const ws=new (require('ws'))('ws://${base}/ws?token='+process.argv[1]);ws.on('message',m=>console.log(String(m)))" ${token}`,
      `  curl -s -X POST http://${base}/send -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"to":"${user}","data":"hi"}'`,
    ].join('\n'),
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  try {
    printConnectInfo(loadSettings(), process.argv[2] ?? 'alice');
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
}
