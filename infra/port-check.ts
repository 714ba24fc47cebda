/**
 * Synth-time check that the ports the balancer publishes are free on the bind address, so a taken
 * port fails with the setting's name instead of a Docker error half-way through an apply.
 * A port held by this deployment's own balancer container (a redeploy, scale or mode switch) is fine.
 */
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SettingsError, type Settings } from './settings.js';
import { balancerContainerName } from './names.js';

const execFileAsync = promisify(execFile);

/** Resolves true when `host:port` can be bound right now. */
export function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

/** Host ports (as "ip:port") a container publishes, or an empty list when it does not exist. */
export async function publishedPorts(containerName: string): Promise<string[]> {
  try {
    const { stdout } = await execFileAsync('docker', ['inspect', '--format', '{{json .HostConfig.PortBindings}}', containerName], {
      timeout: 15_000,
    });
    const bindings = JSON.parse(stdout.trim() || 'null') as Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    const out: string[] = [];
    for (const list of Object.values(bindings ?? {})) {
      for (const b of list ?? []) out.push(`${b.HostIp || '0.0.0.0'}:${b.HostPort}`);
    }
    return out;
  } catch {
    return [];
  }
}

export interface PortCheckDeps {
  canBind: (host: string, port: number) => Promise<boolean>;
  publishedPorts: (containerName: string) => Promise<string[]>;
}

/** Throws SettingsError naming the setting whose port is taken by something other than this stack's balancer. */
export async function assertBalancerPortsAvailable(
  settings: Settings,
  deps: PortCheckDeps = { canBind, publishedPorts },
): Promise<void> {
  const checks = [
    { key: 'balancerPort', port: settings.balancerPort },
    { key: 'statsPort', port: settings.statsPort },
  ] as const;
  let owned: string[] | undefined;
  for (const { key, port } of checks) {
    if (await deps.canBind(settings.bindAddress, port)) continue;
    owned ??= await deps.publishedPorts(balancerContainerName(settings.prefix));
    const ours = owned.some((hp) => hp === `${settings.bindAddress}:${port}` || hp === `0.0.0.0:${port}`);
    if (!ours) {
      throw new SettingsError(
        `invalid setting ${key}=${port}: port ${port} on ${settings.bindAddress} is already in use by another process; ` +
          `pick another with WSFLEET_${key === 'balancerPort' ? 'BALANCER_PORT' : 'STATS_PORT'}=<port> or free it`,
      );
    }
  }
}
