/* global process, console, setTimeout, clearTimeout */
/**
 * A loopback fleet for developing the k6 scripts without Docker: a 3-node NATS cluster, N server
 * processes and a real haproxy in front (static server list with DEV_FLEET_SLOTS slots; slots without
 * a running replica are simply DOWN). Everything listens on 127.0.0.1 only.
 *
 *   node --import tsx k6/dev/process-fleet.mjs            # runs until Ctrl-C, at most DEV_FLEET_MAX_MIN minutes
 *   bash k6/dev/dev-scale.sh 5                            # scale while it runs (SIGTERM drains removed replicas)
 *   WSFLEET_FLEET_FILE=.ws-fleet/state/k6-dev-fleet.json bash scripts/k6.sh smoke
 *
 * Env: DEV_FLEET_REPLICAS (3), DEV_FLEET_SLOTS (6), DEV_FLEET_LB_MODE (roundrobin), DEV_FLEET_MAX_MIN (60),
 *      DEV_FLEET_PORT (balancer port, default: a free one).
 * State file (.ws-fleet/state/k6-dev-fleet.json): balancer URL, the secret, replicas with their metrics URLs.
 * Control file (.ws-fleet/state/k6-dev-fleet.replicas): the desired replica count, written by dev-scale.sh.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDir as projectStateDir } from '../../infra/paths.js';
import { startStaticBalancer } from '../../tests/support/haproxy.js';
import { startNatsCluster } from '../../tests/support/nats-cluster.js';
import { freePort } from '../../tests/support/ports.js';
import { startReplica } from '../../tests/support/replica.js';
import { TEST_SECRET } from '../../tests/support/tokens.js';

const stateDir = join(projectStateDir, 'state');
const stateFile = join(stateDir, 'k6-dev-fleet.json');
const controlFile = join(stateDir, 'k6-dev-fleet.replicas');

function envInt(name, fallback, min, max) {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
  return n;
}

const slots = envInt('DEV_FLEET_SLOTS', 6, 1, 32);
const initial = envInt('DEV_FLEET_REPLICAS', 3, 1, slots);
const maxMinutes = envInt('DEV_FLEET_MAX_MIN', 60, 1, 24 * 60);
const mode = process.env.DEV_FLEET_LB_MODE || 'roundrobin';

mkdirSync(stateDir, { recursive: true });
const nats = await startNatsCluster({ nodes: 3, name: 'k6dev' });
const ports = [];
for (let i = 0; i < slots; i++) ports.push(await freePort());
const frontendPort = process.env.DEV_FLEET_PORT ? envInt('DEV_FLEET_PORT', 0, 1, 65535) : await freePort();
const lb = await startStaticBalancer({
  name: 'k6dev-haproxy',
  mode,
  frontendPort,
  servers: ports.map((port, i) => ({ name: `k6r${i + 1}`, port })),
  maxConnections: 9000,
});

/** Running replicas by slot index. */
const replicas = new Map();
let stopping = false;

function writeState() {
  const list = [...replicas.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => ({ id: r.id, url: r.url, metricsUrl: `${r.url}/metrics`, logFile: r.logFile }));
  writeFileSync(
    stateFile,
    `${JSON.stringify({ pid: process.pid, balancerUrl: `http://127.0.0.1:${frontendPort}`, statsUrl: lb.statsUrl, authSecret: TEST_SECRET, mode, replicas: list }, null, 2)}\n`,
    { mode: 0o600 },
  );
}

async function scaleTo(n) {
  const target = Math.max(1, Math.min(slots, n));
  const starts = [];
  for (let i = 0; i < target; i++) {
    if (replicas.has(i)) continue;
    starts.push(
      startReplica({ id: `k6r${i + 1}`, port: ports[i], natsUrls: nats.urls, natsUser: nats.user, natsPassword: nats.password, env: { AUTH_SECRET: TEST_SECRET, LOG_LEVEL: 'warn' } }).then((r) => {
        replicas.set(i, r);
      }),
    );
  }
  await Promise.all(starts);
  const stops = [];
  for (const [i, r] of replicas) {
    if (i < target) continue;
    stops.push(r.stop(15000).then(() => replicas.delete(i)));
  }
  await Promise.all(stops);
  writeState();
  console.log(`k6 dev fleet: ${replicas.size} replica(s): ${[...replicas.values()].map((r) => r.id).join(' ')}`);
}

async function shutdown(why) {
  if (stopping) return;
  stopping = true;
  console.log(`k6 dev fleet: stopping (${why})`);
  await Promise.all([...replicas.values()].map((r) => r.stop(10000)));
  await lb.stop();
  await nats.stop();
  rmSync(stateFile, { force: true });
  rmSync(controlFile, { force: true });
  process.exit(0);
}

process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await scaleTo(initial);
writeFileSync(controlFile, `${initial}\n`);
console.log(`k6 dev fleet: balancer http://127.0.0.1:${frontendPort}, stats ${lb.statsUrl}, state ${stateFile}`);

const deadline = Date.now() + maxMinutes * 60000;
let busy = false;
const poll = async () => {
  if (stopping) return;
  if (Date.now() > deadline) {
    await shutdown(`DEV_FLEET_MAX_MIN=${maxMinutes} reached`);
    return;
  }
  if (!busy && existsSync(controlFile)) {
    const want = Number(readFileSync(controlFile, 'utf8').trim());
    if (Number.isInteger(want) && want !== replicas.size) {
      busy = true;
      try {
        await scaleTo(want);
      } catch (err) {
        console.error(`k6 dev fleet: scale to ${want} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      busy = false;
    }
  }
  const t = setTimeout(() => void poll(), 300);
  if (stopping) clearTimeout(t);
};
void poll();
