/**
 * Rolling deploy on the `swarm` engine. Swarm itself replaces the tasks one at a time: the ws service's
 * update config (infra/swarm/ws-service.ts) stops an old task before starting its successor (two tasks never
 * share a SERVER_ID), one task at a time, waits for the successor's healthcheck and then a delay that covers
 * the drain and the balancer's DNS re-resolution, and rolls back when a new task fails. So a roll is one apply
 * of the new build (the provider waits for the service to converge), then checks: every running task runs the
 * new image, the balancer routes to all of them, and the task history shows the slots replaced one after the
 * other (each successor running before the next slot's old task was stopped).
 */
import type { Settings } from '../settings.js';
import type { FleetSecrets } from '../secrets.js';
import { wsServiceName } from '../swarm/names.js';
import { serverImageTag } from '../swarm/server-image.js';
import { convergeTimeoutSeconds } from '../swarm/ws-service.js';
import { balancerAddresses, managerEndpoint } from '../cli/swarm-ops.js';
import { dockerLines } from '../cli/docker.js';
import { backendStates } from './rolling-deploy.js';

export interface SwarmTask {
  readonly id: string;
  readonly slot: number;
  readonly image: string;
  readonly desired: string;
  readonly state: string;
  /** ms */
  readonly createdAt: number;
  /** ms: when the task reached its current state. */
  readonly stateAt: number;
}

export interface SwarmRollStep {
  readonly replica: number;
  readonly from: string;
  /** ms: the old task stopped (its last state), the successor was created, and reached running. */
  readonly oldStoppedAt: number;
  readonly newCreatedAt: number;
  readonly newRunningAt: number;
}

export interface SwarmRollReport {
  readonly engine: 'swarm';
  readonly targetImage: string;
  readonly nothingToRoll: boolean;
  readonly seconds: number;
  readonly steps: readonly SwarmRollStep[];
}

/** Every task of the ws service Swarm still remembers (its task history), newest state first per slot. */
export async function wsServiceTasks(settings: Settings): Promise<SwarmTask[]> {
  const ep = managerEndpoint(settings);
  const ids = await dockerLines(ep, ['service', 'ps', '-q', '--no-trunc', wsServiceName(settings.prefix)]);
  if (ids.length === 0) return [];
  const fmt = '{{.ID}}|{{.Slot}}|{{.Spec.ContainerSpec.Image}}|{{.DesiredState}}|{{.Status.State}}|{{json .CreatedAt}}|{{json .Status.Timestamp}}';
  const out = await dockerLines(ep, ['inspect', '--format', fmt, ...ids]);
  return out.map((line) => {
    const [id = '', slot = '', image = '', desired = '', state = '', created = '""', at = '""'] = line.split('|');
    return { id, slot: Number(slot), image, desired, state, createdAt: Date.parse(JSON.parse(created) as string), stateAt: Date.parse(JSON.parse(at) as string) };
  });
}

const imageTag = (image: string): string => image.replace(/@sha256:[0-9a-f]+$/, '');

/**
 * The slots' replacements in the order Swarm made them, from the task history around one roll.
 * Each slot running `target` after the roll whose task was created at or after `since` is a step;
 * its predecessor is the slot's newest task on another image created before it, looked up in both
 * snapshots (Swarm keeps a task history): the `before` snapshot alone can miss a task that was
 * between states when it was taken. A slot that ran another image before and has no running
 * successor is an error.
 */
export function rollSteps(before: readonly SwarmTask[], after: readonly SwarmTask[], target: string, since = 0): SwarmRollStep[] {
  const byId = new Map<string, SwarmTask>();
  for (const t of [...before, ...after]) byId.set(t.id, t);
  const history = [...byId.values()];
  const successors = new Map<number, SwarmTask>();
  for (const t of after) {
    if (t.desired !== 'running' || imageTag(t.image) !== target || t.createdAt < since) continue;
    const first = successors.get(t.slot);
    if (first === undefined || t.createdAt < first.createdAt) successors.set(t.slot, t);
  }
  for (const old of before.filter((t) => t.desired === 'running' && imageTag(t.image) !== target)) {
    if (!successors.has(old.slot)) throw new Error(`rolling: slot ${old.slot} has no running task on ${target} after the roll`);
  }
  const steps: SwarmRollStep[] = [];
  for (const [slot, successor] of successors) {
    const old = history
      .filter((t) => t.slot === slot && imageTag(t.image) !== target && t.createdAt <= successor.createdAt)
      .sort((a, b) => b.createdAt - a.createdAt)[0];
    if (old === undefined) continue;
    steps.push({
      replica: slot,
      from: imageTag(old.image),
      oldStoppedAt: old.desired === 'running' ? Number.NaN : old.stateAt,
      newCreatedAt: successor.createdAt,
      newRunningAt: successor.state === 'running' ? successor.stateAt : Number.NaN,
    });
  }
  return steps.sort((a, b) => a.newCreatedAt - b.newCreatedAt);
}

/** Swarm's account of the ws service's last update: state (`updating`, `completed`, `rollback_completed`…) and message; empty when it was never updated. */
export async function wsUpdateStatus(settings: Settings): Promise<{ state: string; message: string }> {
  const [line = ''] = await dockerLines(managerEndpoint(settings), ['service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{end}}', wsServiceName(settings.prefix)]);
  const [state = '', message = ''] = line.split('|');
  return { state, message };
}

/** Update states in which Swarm is still replacing tasks: a roll waits for them to end before it starts. */
const UPDATE_IN_PROGRESS = new Set(['updating', 'rollback_started']);

/** Waits (bounded) until no update of the ws service is in progress; a paused one is an error naming it. */
async function waitForSteadyService(settings: Settings, log: (m: string) => void): Promise<void> {
  const deadline = Date.now() + convergeTimeoutSeconds(settings.replicas, settings.drainWindowMs) * 1000;
  let said = false;
  for (;;) {
    const status = await wsUpdateStatus(settings);
    if (status.state.endsWith('paused')) throw new Error(`rolling: the ws service's last update is ${status.state} (${status.message}): resolve it first (docker service update --rollback, or a new deploy)`);
    if (!UPDATE_IN_PROGRESS.has(status.state)) return;
    if (!said) log(`rolling: waiting for the update in progress to end (${status.state}: ${status.message})`);
    said = true;
    if (Date.now() > deadline) throw new Error(`rolling: the ws service is still ${status.state} (${status.message})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Rolls the current server build over the swarm deployment; `apply` is the deploy command's one apply. */
export async function swarmRoll(settings: Settings, secrets: FleetSecrets, statsPath: string, contextHash: string, apply: () => Promise<void>, log: (m: string) => void): Promise<SwarmRollReport> {
  const target = serverImageTag(settings.prefix, contextHash);
  await waitForSteadyService(settings, log);
  const started = Date.now();
  const before = await wsServiceTasks(settings);
  const running = before.filter((t) => t.desired === 'running');
  const stale = running.filter((t) => imageTag(t.image) !== target);
  log(`rolling: ${stale.length} of ${running.length} ws tasks to move to ${target}; Swarm replaces them one at a time`);
  await apply();
  // The provider may report the update converged before Swarm has replaced every task: wait, bounded.
  const convergeBy = Date.now() + convergeTimeoutSeconds(settings.replicas, settings.drainWindowMs) * 1000;
  let after = await wsServiceTasks(settings);
  for (;;) {
    const now = after.filter((t) => t.desired === 'running');
    const wrong = now.filter((t) => imageTag(t.image) !== target || t.state !== 'running');
    if (now.length === settings.replicas && wrong.length === 0) break;
    if (Date.now() > convergeBy) {
      throw new Error(`rolling: ${now.length}/${settings.replicas} ws tasks are meant to run, not running ${target}: ${wrong.map((t) => `slot ${t.slot} ${t.image} ${t.state}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
    after = await wsServiceTasks(settings);
  }
  const outcome = await wsUpdateStatus(settings);
  if (outcome.state.startsWith('rollback')) throw new Error(`rolling: Swarm rolled the update back (${outcome.state}: ${outcome.message})`);
  // The balancer routes to every successor (its resolvers and checks), bounded.
  const auth = { user: secrets.lbStatsUser, password: secrets.lbStatsPassword };
  const addrs = await balancerAddresses(settings);
  const deadline = Date.now() + 60_000;
  for (const addr of addrs) {
    for (;;) {
      const up = (await backendStates(`http://${addr}:${settings.statsPort}${statsPath}`, auth).catch(() => [])).filter((s) => s.status === 'UP');
      if (up.length >= settings.replicas) break;
      if (Date.now() > deadline) throw new Error(`rolling: the balancer on ${addr} routes to ${up.length} of ${settings.replicas} replicas 60 s after the roll`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const steps = rollSteps(before, after, target, started - 1000);
  for (const s of steps) log(`rolling: slot ${s.replica} ${s.from} → ${target} (running ${((s.newRunningAt - s.newCreatedAt) / 1000).toFixed(1)} s after it was created)`);
  return { engine: 'swarm', targetImage: target, nothingToRoll: stale.length === 0, seconds: (Date.now() - started) / 1000, steps };
}
