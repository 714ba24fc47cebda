/**
 * What the deploy command does around the Terraform apply on the swarm engine:
 * - checks the manager endpoint is an active swarm manager;
 * - builds the server image and puts every image on every node (no registry), or on the manager
 *   (registry: the stack pushes them from there);
 * - after the apply, finds the balancer's nodes and waits until HAProxy answers on them;
 * - after a destroy, removes what the tasks left on the nodes: the NATS volumes and the server image.
 */
import { spawn } from 'node:child_process';
import type { Settings } from '../settings.js';
import { natsVolumeName, serverImageRepository } from '../names.js';
import { balancerServiceName, natsServiceName, wsServiceName } from '../swarm/names.js';
import { docker, dockerArgs, dockerLines, imageId } from './docker.js';
import { CommandError, log, run, sleep } from './run.js';

/** The manager endpoint the stack's provider uses ('' = DOCKER_HOST, else the local socket). */
export function managerEndpoint(settings: Settings): string {
  return settings.swarmManager;
}

export async function assertSwarmManager(settings: Settings): Promise<void> {
  const ep = managerEndpoint(settings);
  const where = ep === '' ? (process.env['DOCKER_HOST'] ?? 'the local Docker socket') : ep;
  const r = await docker(ep, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'], { allowFailure: true });
  if (r.code !== 0) throw new CommandError(`docker at ${where} does not answer (swarmManager): ${r.stderr.trim().slice(0, 300)}`);
  if (r.stdout.trim() !== 'active true') {
    throw new CommandError(`docker at ${where} is not a swarm manager (state: ${r.stdout.trim()}): run \`docker swarm init\` there, or set swarmManager to a manager's endpoint`);
  }
}

/** Endpoint → swarm node id, for the manager and every listed node. */
async function endpointNodes(settings: Settings): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const ep of [managerEndpoint(settings), ...settings.swarmNodes]) {
    if (out.has(ep)) continue;
    const r = await docker(ep, ['info', '--format', '{{.Swarm.NodeID}}'], { allowFailure: true });
    const id = r.stdout.trim();
    if (r.code !== 0 || id === '') throw new CommandError(`swarmNodes: ${ep === '' ? 'the local Docker' : ep} does not answer as a swarm node: ${r.stderr.trim().slice(0, 300)}`);
    out.set(ep, id);
  }
  return out;
}

/**
 * `docker save <refs> | docker -H <target> load` onto every target at once: one save, its stream fed to
 * all the loads in parallel (a node skips the layers it already holds). Bounded.
 */
async function copyImages(refs: string[], targets: string[]): Promise<void> {
  const save = spawn('docker', ['save', ...refs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let saveErr = '';
  save.stderr.on('data', (d: Buffer) => { saveErr = (saveErr + d.toString()).slice(-2000); });
  const saved = new Promise<void>((resolve, reject) => {
    save.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new CommandError(`docker save ${refs.join(' ')} exited ${String(code)}: ${saveErr.trim()}`));
    });
  });
  const loads = targets.map((target) => run('docker', dockerArgs(target, ['load', '-q']), { input: save.stdout, capture: true, timeoutMs: 10 * 60_000 }));
  await Promise.all([...loads, saved]);
}

/**
 * Builds the server image (local Docker, where setup built the others) and makes the images present where
 * the swarm needs them. Returns nothing; throws naming the node and image that could not be placed.
 */
export async function distributeImages(settings: Settings, serverTag: string, contextDir: string): Promise<void> {
  if ((await imageId('', serverTag)) === undefined) {
    log(`building ${serverTag}`);
    await run('docker', ['build', '-q', '-t', serverTag, '--label', `io.ws-fleet.prefix=${settings.prefix}`, '--build-arg', `NODE_IMAGE=${settings.nodeImage}`, contextDir], {
      capture: true,
      timeoutMs: 15 * 60_000,
    });
  }
  const nodes = await endpointNodes(settings);
  if (settings.registry === '') {
    const swarmNodes = await dockerLines(managerEndpoint(settings), ['node', 'ls', '--format', '{{.ID}}']);
    const covered = new Set(nodes.values());
    const uncovered = swarmNodes.filter((id) => !covered.has(id));
    if (uncovered.length > 0) {
      throw new CommandError(
        `swarm nodes ${uncovered.join(', ')} are not in swarmNodes: with no registry, every node gets the images from this machine; ` +
          'list every node\'s Docker endpoint in WSFLEET_SWARM_NODES (comma-separated), or set WSFLEET_REGISTRY',
      );
    }
  }
  const targets = settings.registry === '' ? [...nodes.keys()] : [managerEndpoint(settings)];
  const refs = [serverTag, settings.natsImage, settings.haproxyImage];
  const missing = new Map<string, string[]>();
  for (const ref of refs) {
    const want = await imageId('', ref);
    if (want === undefined) throw new CommandError(`image ${ref} is not on this machine's Docker: run scripts/setup.sh`);
    for (const target of targets) {
      if ((await imageId(target, ref)) === want) continue;
      missing.set(target, [...(missing.get(target) ?? []), ref]);
    }
  }
  if (missing.size === 0) return;
  const union = refs.filter((r) => [...missing.values()].some((m) => m.includes(r)));
  const started = Date.now();
  log(`loading ${union.join(', ')} onto ${[...missing.keys()].map((t) => (t === '' ? 'the local Docker' : t)).join(', ')}`);
  await copyImages(union, [...missing.keys()]);
  log(`images loaded (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** Node addresses running a balancer task, for the URLs. */
export async function balancerAddresses(settings: Settings): Promise<string[]> {
  const ep = managerEndpoint(settings);
  const tasks = await dockerLines(ep, ['service', 'ps', '-q', '--filter', 'desired-state=running', balancerServiceName(settings.prefix)]);
  const addrs = new Set<string>();
  for (const task of tasks) {
    const nodeId = (await docker(ep, ['inspect', '--format', '{{.NodeID}}', task], { allowFailure: true })).stdout.trim();
    if (nodeId === '') continue;
    const addr = (await docker(ep, ['node', 'inspect', '--format', '{{.Status.Addr}}', nodeId], { allowFailure: true })).stdout.trim();
    if (addr !== '') addrs.add(addr);
  }
  return [...addrs].sort();
}

/** Waits (bounded) until HAProxy answers /healthz on its stats port on every balancer node. */
export async function waitForBalancer(settings: Settings, healthPath: string, timeoutMs = 180_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no balancer task running yet';
  while (Date.now() < deadline) {
    const addrs = await balancerAddresses(settings);
    if (addrs.length > 0) {
      const ok = await Promise.all(
        addrs.map(async (a) => {
          try {
            return (await fetch(`http://${a}:${settings.statsPort}${healthPath}`, { signal: AbortSignal.timeout(3000) })).ok;
          } catch {
            return false;
          }
        }),
      );
      if (ok.every(Boolean)) return addrs;
      last = `not answering yet on ${addrs.filter((_, i) => ok[i] !== true).join(', ')}`;
    }
    await sleep(1000);
  }
  throw new CommandError(`the balancer did not come up within ${timeoutMs / 1000} s: ${last}`);
}

/** After a destroy: waits for the tasks' containers to go, then removes the NATS volumes and server images on every node. */
export async function cleanupNodes(settings: Settings, opts: { keepData: boolean }): Promise<string[]> {
  const left: string[] = [];
  const nodes = new Map<string, string>();
  for (const ep of [managerEndpoint(settings), ...settings.swarmNodes]) {
    const r = await docker(ep, ['info', '--format', '{{.ID}}'], { allowFailure: true, timeoutMs: 20_000 });
    if (r.code === 0) nodes.set(ep, '');
    else left.push(`${ep === '' ? 'the local Docker' : ep}: not reachable, its NATS volume and images (if any) are left`);
  }
  const services = [wsServiceName(settings.prefix), balancerServiceName(settings.prefix), ...Array.from({ length: 3 }, (_, i) => natsServiceName(settings.prefix, i + 1))];
  for (const ep of nodes.keys()) {
    const name = ep === '' ? 'the local Docker' : ep;
    const deadline = Date.now() + 90_000;
    const tasksLeft = async (): Promise<string[]> =>
      (await Promise.all(services.map((s) => dockerLines(ep, ['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${s}`])))).flat();
    while ((await tasksLeft()).length > 0 && Date.now() < deadline) await sleep(1000);
    if (!opts.keepData) {
      for (let n = 1; n <= 3; n++) {
        const vol = natsVolumeName(settings.prefix, n);
        const r = await docker(ep, ['volume', 'rm', vol], { allowFailure: true });
        if (r.code !== 0 && !/no such volume/i.test(r.stderr)) left.push(`${name}: volume ${vol} (${r.stderr.trim().slice(0, 200)})`);
      }
    }
    await removeServerImages(ep, settings.prefix);
  }
  // The build's copy on this machine.
  await removeServerImages('', settings.prefix);
  return left;
}

async function removeServerImages(ep: string, prefix: string): Promise<void> {
  const images = await dockerLines(ep, ['images', '--format', '{{.Repository}}:{{.Tag}}', serverImageRepository(prefix)]);
  if (images.length > 0) await docker(ep, ['rmi', '-f', ...images], { allowFailure: true });
}
