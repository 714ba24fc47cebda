/**
 * `tsx infra/cli/connect-info.ts [user]`: prints the deployment's URLs and how to connect, with a
 * sample JWT (HS256, 1 h) for `user` minted from the deployment's secret.
 */
import { createSigner } from 'fast-jwt';
import { loadSettings } from '../settings.js';
import { readSecrets } from '../secrets.js';
import { secretsFile } from '../paths.js';
import { wsContainerName } from '../names.js';
import { renderBalancerConfig } from '../render/haproxy.js';

function main(): void {
  const settings = loadSettings();
  const user = process.argv[2] ?? 'alice';
  const secrets = readSecrets(settings.prefix);
  const now = Math.floor(Date.now() / 1000);
  const token = createSigner({ key: secrets.authSecret, algorithm: 'HS256', noTimestamp: true })({ sub: user, iat: now, exp: now + 3600 });
  const base = `${settings.bindAddress}:${settings.balancerPort}`;
  const statsPath = renderBalancerConfig(settings).statsPath;
  const replicas = Array.from({ length: settings.replicas }, (_, i) => wsContainerName(settings.prefix, i + 1));
  console.log(
    [
      `ws-fleet "${settings.prefix}": ${settings.replicas} replicas, ${settings.natsNodes} NATS node(s), balancer mode ${settings.lbMode}`,
      `  balancer:   http://${base}`,
      `  websocket:  ws://${base}/ws`,
      `  stats:      http://${settings.bindAddress}:${settings.statsPort}${statsPath}`,
      `  replicas:   ${replicas.join(' ')}`,
      `  secrets:    ${secretsFile(settings.prefix)} (AUTH_SECRET signs client JWTs)`,
      '',
      `Connect as "${user}" (token valid 1 h):`,
      `  node -e "const ws=new (require('ws'))('ws://${base}/ws?token='+process.argv[1]);ws.on('message',m=>console.log(String(m)))" ${token}`,
      `  curl -s -X POST http://${base}/send -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -d '{"to":"${user}","data":"hi"}'`,
    ].join('\n'),
  );
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
