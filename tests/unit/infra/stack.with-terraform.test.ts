/**
 * The synthesized stack, checked as JSON (cdktf Testing helpers) and by `terraform validate`.
 * Needs no Docker; `terraform validate` needs the kreuzwerker/docker provider that scripts/setup.sh
 * puts in the project's filesystem mirror.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { readImageVersions, resolveSettings, type Settings } from '../../../infra/settings.js';
import { FleetStack } from '../../../infra/stack.js';
import { renderBalancerConfig } from '../../../infra/render/haproxy.js';
import { generateSecrets, formatSecretsFile, SECRET_VARIABLES, terraformVariableEnv } from '../../../infra/secrets.js';
import { secretsFile, settingsFile } from '../../../infra/paths.js';
import { dockerProviderVersion } from '../../../infra/provider-version.js';
import { buildSnapshotsDir, parseBuildPins, type ServerContext } from '../../../infra/server-context.js';
import { rollingDeploy } from '../../../infra/rolling/rolling-deploy.js';
import { freePort } from '../../support/ports.js';
import { repoRoot } from '../../support/paths.js';
import { checkHaproxyConfig } from '../../support/haproxy.js';
import { formatRoutesValue } from '../../../infra/render/nats-conf.js';

interface Port { internal: number; external?: number; ip?: string; protocol?: string }
interface ContainerJson {
  name: string;
  image: string;
  env?: string[];
  ports?: Port[];
  restart?: string;
  healthcheck?: { test: string[]; interval?: string };
  stop_timeout?: number;
  destroy_grace_seconds?: number;
  user?: string;
  read_only?: boolean;
  tmpfs?: Record<string, string>;
  memory?: number;
  cpus?: string;
  upload?: { file: string; content: string }[];
  networks_advanced?: { name: string; aliases?: string[] }[];
  volumes?: { volume_name: string; container_path: string }[];
  wait?: boolean;
  security_opts?: string[];
  capabilities?: { drop?: string[]; add?: string[] };
  entrypoint?: string[];
  labels?: { label: string; value: string }[];
}
interface StackJson {
  resource: {
    docker_container: Record<string, ContainerJson>;
    docker_image: Record<string, { name: string; keep_locally?: boolean; triggers?: Record<string, string>; build?: { context: string } }>;
    docker_network: Record<string, { name: string; driver: string }>;
    docker_volume: Record<string, { name: string }>;
  };
  variable: Record<string, { sensitive?: boolean; type?: string; default?: unknown }>;
  output: Record<string, { value: unknown }>;
  terraform: { backend: { local: { path: string } }; required_providers: { docker: { source: string; version: string } } };
}

const images = readImageVersions();
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function settingsFor(env: NodeJS.ProcessEnv = {}): Settings {
  return resolveSettings({ env, images });
}

function makeStack(env: NodeJS.ProcessEnv = {}, contextHash = HASH_A): FleetStack {
  const settings = settingsFor(env);
  return new FleetStack(Testing.app(), settings.prefix, {
    settings,
    server: { contextDir: '/tmp/wsfleet-test-context', contextHash },
    balancer: renderBalancerConfig(settings),
    stateFile: '/tmp/wsfleet-test.tfstate',
  });
}

function synth(env: NodeJS.ProcessEnv = {}, contextHash = HASH_A): StackJson {
  return JSON.parse(Testing.synth(makeStack(env, contextHash))) as StackJson;
}

function synthWith(env: NodeJS.ProcessEnv, server: ServerContext): StackJson {
  const settings = settingsFor(env);
  const stack = new FleetStack(Testing.app(), settings.prefix, { settings, server, balancer: renderBalancerConfig(settings), stateFile: '/tmp/wsfleet-test.tfstate' });
  return JSON.parse(Testing.synth(stack)) as StackJson;
}

/** Containers by Docker name. */
function containers(json: StackJson): Map<string, ContainerJson> {
  return new Map(Object.values(json.resource.docker_container).map((c) => [c.name, c]));
}
/** Resource key → resource JSON, for comparing two synths. */
function containersByKey(json: StackJson): Record<string, ContainerJson> {
  return json.resource.docker_container;
}

describe('infra synth: resources follow the settings', () => {
  it('3 replicas and 3 NATS nodes: 7 containers, 3 volumes, 1 network, the server image', () => {
    const json = synth();
    assert.ok(Testing.toHaveResource(JSON.stringify(json), 'docker_network'));
    const names = [...containers(json).keys()].sort();
    assert.deepEqual(names, ['wsfleet-lb', 'wsfleet-nats-1', 'wsfleet-nats-2', 'wsfleet-nats-3', 'wsfleet-ws-1', 'wsfleet-ws-2', 'wsfleet-ws-3']);
    assert.deepEqual(Object.values(json.resource.docker_volume).map((v) => v.name).sort(), ['wsfleet-nats-1-data', 'wsfleet-nats-2-data', 'wsfleet-nats-3-data']);
    const nets = Object.values(json.resource.docker_network);
    assert.deepEqual(nets.map((n) => [n.name, n.driver]), [['wsfleet-net', 'bridge']]);
    assert.deepEqual(json.output['replica_names']?.value, ['wsfleet-ws-1', 'wsfleet-ws-2', 'wsfleet-ws-3']);
    assert.equal(json.output['balancer_url']?.value, 'http://127.0.0.1:8080');
    assert.equal(json.output['stats_url']?.value, 'http://127.0.0.1:8404/stats');
  });

  it('5 replicas on 1 NATS node: 5 ws containers, 1 NATS node without cluster routes', () => {
    const json = synth({ WSFLEET_REPLICAS: '5', WSFLEET_NATS_NODES: '1', WSFLEET_PREFIX: 'small' });
    const c = containers(json);
    assert.equal([...c.keys()].filter((n) => n.startsWith('small-ws-')).length, 5);
    assert.deepEqual([...c.keys()].filter((n) => n.startsWith('small-nats-')), ['small-nats-1']);
    assert.equal(Object.keys(json.resource.docker_volume).length, 1);
    const conf = natsConfig(c.get('small-nats-1'));
    assert.match(conf, /jetstream \{/);
    assert.doesNotMatch(conf, /cluster \{/);
    assert.ok(!(c.get('small-nats-1')?.env ?? []).some((e) => e.startsWith('NATS_ROUTES=')));
    for (let n = 1; n <= 5; n++) {
      const env = c.get(`small-ws-${n}`)?.env ?? [];
      assert.ok(env.includes('NATS_URLS=nats://small-nats-1:4222'), `small-ws-${n} NATS_URLS`);
    }
  });

  it('every replica: SERVER_ID = its name, the service alias, all NATS nodes, non-root, read-only root, limits', () => {
    const c = containers(synth({ WSFLEET_DRAIN_WINDOW_MS: '8000', WSFLEET_WS_MEMORY_MB: '300', WSFLEET_WS_CPUS: '0.75' }));
    for (let n = 1; n <= 3; n++) {
      const ws = c.get(`wsfleet-ws-${n}`);
      assert.ok(ws);
      const env = ws.env ?? [];
      assert.ok(env.includes(`SERVER_ID=wsfleet-ws-${n}`));
      assert.ok(env.includes('NATS_URLS=nats://wsfleet-nats-1:4222,nats://wsfleet-nats-2:4222,nats://wsfleet-nats-3:4222'));
      assert.ok(env.includes('DRAIN_WINDOW_MS=8000'));
      assert.deepEqual(ws.networks_advanced?.[0]?.aliases, ['wsfleet-ws']);
      assert.equal(ws.user, '1000:1000');
      assert.equal(ws.read_only, true);
      assert.ok(ws.tmpfs?.['/tmp'] !== undefined);
      assert.equal(ws.memory, 300);
      assert.equal(ws.cpus, '0.75');
      assert.match(ws.image, /^\$\{docker_image\.ws_image-aaaaaaaaaaaa_[0-9A-F]+\.image_id\}$/);
      assert.ok((ws.stop_timeout ?? 0) > 8, `stop_timeout ${ws.stop_timeout} must exceed the 8 s drain window`);
      // Destroy (scale-down) must be a graceful docker stop, not a forced removal.
      assert.equal(ws.destroy_grace_seconds, ws.stop_timeout);
    }
  });

  it('NATS: JetStream store on a named volume, authenticated routes to the other nodes, credentials only as env references', () => {
    const c = containers(synth());
    for (let n = 1; n <= 3; n++) {
      const nats = c.get(`wsfleet-nats-${n}`);
      assert.ok(nats);
      assert.deepEqual(nats.volumes, [{ volume_name: `\${docker_volume.nats_data-${n}_${volumeHash(n)}.name}`, container_path: '/data' }]);
      const conf = natsConfig(nats);
      assert.match(conf, /jetstream \{\n {2}store_dir: "\/data\/jetstream"/);
      assert.match(conf, /user: \$NATS_USER\n {2}password: \$NATS_PASSWORD/);
      assert.match(conf, /authorization \{\n {4}user: \$NATS_ROUTE_USER\n {4}password: \$NATS_ROUTE_PASSWORD\n {2}\}\n {2}routes: \$NATS_ROUTES/);
      assert.match(conf, /^http: "127\.0\.0\.1:8222"$/m, 'monitoring only on the container loopback');
      assert.match(conf, new RegExp(`server_name: "wsfleet-nats-${n}"`));
      const peers = [1, 2, 3].filter((o) => o !== n).map((o) => `nats://wsfleet-nats-${o}:6222`);
      assert.deepEqual((nats.env ?? []).slice(1), [
        'NATS_USER=${var.nats_user}',
        'NATS_PASSWORD=${var.nats_password}',
        'NATS_ROUTE_USER=${var.nats_route_user}',
        'NATS_ROUTE_PASSWORD=${var.nats_route_password}',
        `NATS_ROUTES=${formatRoutesValue(peers, '${var.nats_route_user}', '${var.nats_route_password}')}`,
      ]);
    }
  });

  it('NATS runs as an unprivileged user from a runtime image that owns /data, read-only root, config on a tmpfs', () => {
    const json = synth();
    const c = containers(json);
    const runtime = Object.entries(json.resource.docker_image).find(([k]) => k.startsWith('nats_runtime-image'));
    assert.ok(runtime, 'the NATS runtime image is built');
    assert.match(runtime[1].name, /^wsfleet-nats:[0-9a-f]{12}$/);
    assert.equal(runtime[1].build?.context, path.join(repoRoot, 'images', 'nats-runtime'));
    assert.equal(runtime[1].keep_locally, false);
    const dockerfile = fs.readFileSync(path.join(repoRoot, 'images', 'nats-runtime', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^COPY --chown=4222:4222 data\/ \/data\/$/m);
    assert.match(dockerfile, /^USER 4222:4222$/m);
    for (let n = 1; n <= 3; n++) {
      const nats = c.get(`wsfleet-nats-${n}`);
      assert.ok(nats);
      assert.equal(nats.image, `\${docker_image.${runtime[0]}.image_id}`);
      assert.equal(nats.user, '4222:4222');
      assert.equal(nats.read_only, true);
      assert.ok(nats.tmpfs?.['/tmp']?.includes('noexec'));
      assert.deepEqual(nats.entrypoint?.slice(0, 2), ['sh', '-c']);
      assert.equal(nats.upload, undefined, 'nothing is uploaded into a read-only root');
    }
  });

  it('every container: no-new-privileges and no capabilities; replicas non-root with a read-only root', () => {
    for (const [name, c] of containers(synth())) {
      assert.deepEqual(c.security_opts, ['no-new-privileges:true'], `${name} security_opts`);
      assert.deepEqual(c.capabilities, { drop: ['ALL'] }, `${name} capabilities`);
      if (name.includes('-ws-')) {
        assert.equal(c.user, '1000:1000');
        assert.equal(c.read_only, true);
      }
    }
  });

  it('replicas get the namespaces, the server API key, the metrics port and the token lifetime from the settings', () => {
    const namespaces = { team: { join: 'grant', history: 'grant', publish: 'server', keepHistory: true, historyMaxAgeSec: 60, historyMaxMsgs: 5 } };
    const c = containers(synth({ WSFLEET_NAMESPACES: JSON.stringify(namespaces), WSFLEET_METRICS_PORT: '9300', WSFLEET_TOKEN_MAX_LIFETIME_SEC: '600' }));
    const env = c.get('wsfleet-ws-2')?.env ?? [];
    assert.ok(env.includes(`NAMESPACES=${JSON.stringify(namespaces)}`), JSON.stringify(env));
    assert.ok(env.includes('SERVER_API_KEY=${var.server_api_key}'));
    assert.ok(env.includes('METRICS_PORT=9300'));
    assert.ok(env.includes('TOKEN_MAX_LIFETIME_SEC=600'));
    const defaults = containers(synth()).get('wsfleet-ws-1')?.env ?? [];
    const ns = defaults.find((e) => e.startsWith('NAMESPACES='));
    assert.deepEqual(Object.keys(JSON.parse(ns?.slice('NAMESPACES='.length) ?? '{}') as object), ['chat']);
    // The metrics port is not the one the balancer routes to.
    const lbConfig = c.get('wsfleet-lb')?.upload?.[0]?.content ?? '';
    assert.match(lbConfig, /wsfleet-ws:8080 /);
    assert.doesNotMatch(lbConfig, /9300/);
  });

  it('the balancer: stats credentials from sensitive variables, expanded by HAProxy; the rate limit from the setting; haproxy -c accepts it', async () => {
    const lb = containers(synth({ WSFLEET_LB_CONN_RATE_PER_SOURCE_PER10S: '250' })).get('wsfleet-lb');
    assert.deepEqual(lb?.env, ['LB_STATS_USER=${var.lb_stats_user}', 'LB_STATS_PASSWORD=${var.lb_stats_password}']);
    // Terraform turns "$${" back into "${": the container gets HAProxy's own "${LB_STATS_USER}".
    const upload = lb.upload?.[0];
    assert.ok(upload !== undefined);
    const config = upload.content.replaceAll('$${', '${').replaceAll('%%{', '%{');
    assert.match(config, /user "\$\{LB_STATS_USER\}" insecure-password "\$\{LB_STATS_PASSWORD\}"/);
    assert.match(config, /sc_conn_rate\(0\) gt 250 \}/);
    assert.match(config, /observe layer4/);
    const check = await checkHaproxyConfig(config, { LB_STATS_USER: 'u1234', LB_STATS_PASSWORD: 'p1234567890' });
    assert.ok(check.ok, check.output);
  });

  it('only the balancer publishes ports, bound to 127.0.0.1 by default (NATS only with the debug setting)', () => {
    const c = containers(synth({ WSFLEET_BALANCER_PORT: '18080', WSFLEET_STATS_PORT: '18404' }));
    for (const [name, container] of c) {
      if (name === 'wsfleet-lb') continue;
      assert.equal(container.ports, undefined, `${name} must publish nothing`);
    }
    const lb = c.get('wsfleet-lb');
    assert.deepEqual(
      lb?.ports?.map((p) => [p.ip, p.external, p.internal]),
      [
        ['127.0.0.1', 18080, 8080],
        ['127.0.0.1', 18404, 8404],
      ],
    );
    const debug = containers(synth({ WSFLEET_DEBUG_NATS_PORT_BASE: '14222', WSFLEET_BIND_ADDRESS: '127.0.0.2' }));
    // Only the client port: monitoring listens on the container's loopback, where nothing can reach it.
    assert.deepEqual(debug.get('wsfleet-nats-2')?.ports?.map((p) => [p.ip, p.external, p.internal]), [['127.0.0.2', 14223, 4222]]);
    assert.deepEqual(debug.get('wsfleet-lb')?.ports?.map((p) => p.ip), ['127.0.0.2', '127.0.0.2']);
  });

  it('every container has a healthcheck, a restart policy and limits', () => {
    for (const [name, c] of containers(synth())) {
      assert.equal(c.restart, 'unless-stopped', `${name} restart`);
      assert.ok((c.healthcheck?.test.length ?? 0) > 1, `${name} healthcheck`);
      assert.ok((c.memory ?? 0) > 0, `${name} memory`);
      assert.ok(Number(c.cpus) > 0, `${name} cpus`);
      assert.equal(c.wait, true, `${name} waits for healthy on apply`);
    }
    const c = containers(synth());
    assert.ok(c.get('wsfleet-nats-1')?.healthcheck?.test.some((a) => a.includes(':8222/healthz')));
    assert.ok(c.get('wsfleet-ws-1')?.healthcheck?.test.some((a) => a.includes('/healthz')));
    assert.ok(c.get('wsfleet-lb')?.healthcheck?.test.some((a) => a.includes('/healthz')));
  });

  it('the balancer carries the rendered haproxy.cfg for the mode, resolving the replicas through Docker DNS', () => {
    const lb = containers(synth({ WSFLEET_LB_MODE: 'sticky' })).get('wsfleet-lb');
    const upload = lb?.upload?.[0];
    assert.ok(upload);
    assert.equal(upload.file, '/usr/local/etc/haproxy/haproxy.cfg');
    assert.match(upload.content, /server-template ws 1-64 wsfleet-ws:8080 resolvers dns/);
    assert.match(upload.content, /cookie WSFLEET_SRV insert/);
    assert.match(upload.content, /nameserver ns1 127\.0\.0\.11:53/);
  });
});

describe('infra synth: changes stay local', () => {
  it('3 → 5 replicas adds exactly two containers and changes nothing else', () => {
    const three = synth();
    const five = synth({ WSFLEET_REPLICAS: '5' });
    const before = containersByKey(three);
    const afterC = containersByKey(five);
    const added = Object.keys(afterC).filter((k) => !(k in before));
    assert.deepEqual(added.map((k) => afterC[k]?.name).sort(), ['wsfleet-ws-4', 'wsfleet-ws-5']);
    for (const [key, c] of Object.entries(before)) assert.deepEqual(afterC[key], c, `${c.name} must be unchanged`);
    assert.deepEqual(five.resource.docker_image, three.resource.docker_image);
    assert.deepEqual(five.resource.docker_volume, three.resource.docker_volume);
  });

  it('5 → 2 replicas removes the highest-numbered ones (replicas are keyed by index)', () => {
    const five = containersByKey(synth({ WSFLEET_REPLICAS: '5' }));
    const two = containersByKey(synth({ WSFLEET_REPLICAS: '2' }));
    const removed = Object.keys(five).filter((k) => !(k in two));
    assert.deepEqual(removed.map((k) => five[k]?.name).sort(), ['wsfleet-ws-3', 'wsfleet-ws-4', 'wsfleet-ws-5']);
    for (const [key, c] of Object.entries(two)) assert.deepEqual(five[key], c);
  });

  it('switching lbMode changes only the balancer container', () => {
    const rr = synth();
    const sticky = synth({ WSFLEET_LB_MODE: 'sticky' });
    const a = containersByKey(rr);
    const b = containersByKey(sticky);
    const changed = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    assert.deepEqual(changed.map((k) => a[k]?.name), ['wsfleet-lb']);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
  });

  it('a changed server bundle gets a new image tag and trigger (so it is rebuilt and replicas replaced)', () => {
    const a = synth({}, HASH_A).resource.docker_image;
    const b = synth({}, HASH_B).resource.docker_image;
    const keyA = Object.keys(a).find((k) => k.startsWith('ws_image-aaaaaaaaaaaa'));
    const keyB = Object.keys(b).find((k) => k.startsWith('ws_image-bbbbbbbbbbbb'));
    assert.ok(keyA !== undefined && keyB !== undefined, 'one image resource per build, keyed by its hash');
    assert.ok(!(keyA in b), 'the old build\'s image is destroyed once no replica uses it');
    assert.equal(a[keyA]?.name, 'wsfleet-server:aaaaaaaaaaaa');
    assert.equal(b[keyB]?.name, 'wsfleet-server:bbbbbbbbbbbb');
    assert.notDeepEqual(a[keyA].triggers, b[keyB].triggers);
    assert.equal(a[keyA].keep_locally, false, 'destroy removes the built image');
    for (const [k, img] of Object.entries(a)) {
      if (k === keyA) continue;
      // Images the stack builds carry the prefix and go with it; the official (or stand-in) ones stay.
      if (img.build !== undefined) assert.deepEqual([img.name.startsWith('wsfleet-'), img.keep_locally, b[k]], [true, false, img], img.name);
      else assert.equal(img.keep_locally, true, `${img.name} is shared, never removed`);
    }
    const c = containers(synth({}, HASH_B));
    assert.ok(c.get('wsfleet-ws-1')?.labels?.some((l) => l.label === 'io.ws-fleet.server-build' && l.value === HASH_B));
  });

  it('rolling: pinned replicas keep the earlier build and its image; exactly the unpinned ones change', () => {
    const old = containersByKey(synth({}, HASH_A));
    const pins = new Map([[2, { contextDir: '/tmp/old', contextHash: HASH_A }], [3, { contextDir: '/tmp/old', contextHash: HASH_A }]]);
    const json = synthWith({}, { contextDir: '/tmp/wsfleet-test-context', contextHash: HASH_B, pinned: pins });
    const step1 = json.resource.docker_container;
    const changed = Object.keys(old).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(step1[k])).map((k) => old[k]?.name);
    assert.deepEqual(changed, ['wsfleet-ws-1'], 'one replica per step');
    const images = Object.values(json.resource.docker_image).map((i) => i.name).filter((n) => n.startsWith('wsfleet-server:')).sort();
    assert.deepEqual(images, ['wsfleet-server:aaaaaaaaaaaa', 'wsfleet-server:bbbbbbbbbbbb'], 'both builds while replicas use both');
  });
});

/** The nats.conf a NATS container writes to its tmpfs at start (from its NATS_CONFIG_TEXT variable). */
function natsConfig(c: ContainerJson | undefined): string {
  const entry = (c?.env ?? []).find((e) => e.startsWith('NATS_CONFIG_TEXT='));
  assert.ok(entry !== undefined, `${c === undefined ? '?' : c.name} has NATS_CONFIG_TEXT`);
  return entry.slice('NATS_CONFIG_TEXT='.length).replaceAll('$${', '${').replaceAll('%%{', '%{');
}

/** The resource-name hash cdktf gives the NATS volumes (stable: derived from the construct path). */
function volumeHash(n: number): string {
  const json = synth();
  const key = Object.keys(json.resource.docker_volume).find((k) => k.startsWith(`nats_data-${n}_`));
  assert.ok(key !== undefined);
  return key.slice(`nats_data-${n}_`.length);
}

describe('infra synth: secrets', () => {
  const prefix = `wsfleet-unit-${process.pid}`;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsfleet-synth-'));
  const contextDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsfleet-context-'));
  const blocker = net.createServer();
  after(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.rmSync(contextDir, { recursive: true, force: true });
    fs.rmSync(secretsFile(prefix), { force: true });
    fs.rmSync(settingsFile(prefix), { force: true });
    fs.rmSync(buildSnapshotsDir(prefix), { recursive: true, force: true });
    for (const f of [`${prefix}.tfstate`, `${prefix}.tfstate.backup`]) fs.rmSync(path.join(repoRoot, '.ws-fleet', 'state', f), { force: true });
    blocker.close();
  });

  function runMain(env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'infra/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, CDKTF_OUTDIR: outdir, WSFLEET_PREFIX: prefix, WSFLEET_SERVER_CONTEXT: contextDir, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: r.status, stderr: r.stderr };
  }

  it('no secret literal anywhere in the synthesized output; secrets are sensitive variables', async () => {
    fs.writeFileSync(path.join(contextDir, 'Dockerfile'), 'FROM scratch\n');
    fs.writeFileSync(path.join(contextDir, 'server.mjs'), '// test bundle\n');
    const secrets = generateSecrets();
    fs.mkdirSync(path.dirname(secretsFile(prefix)), { recursive: true });
    fs.writeFileSync(secretsFile(prefix), formatSecretsFile(secrets), { mode: 0o600 });
    const r = runMain({
      WSFLEET_BALANCER_PORT: String(await freePort()),
      WSFLEET_STATS_PORT: String(await freePort()),
      // As during a deploy: the secrets are in the environment of the synth.
      ...terraformVariableEnv(secrets),
      AUTH_SECRET: secrets.authSecret,
      NATS_PASSWORD: secrets.natsPassword,
      LB_STATS_PASSWORD: secrets.lbStatsPassword,
      SERVER_API_KEY: secrets.serverApiKey,
    });
    assert.equal(r.status, 0, r.stderr);
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else files.push(full);
      }
    };
    walk(outdir);
    const stackFile = path.join(outdir, 'stacks', prefix, 'cdk.tf.json');
    assert.ok(files.includes(stackFile), `synth wrote ${stackFile}`);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      for (const what of Object.keys(SECRET_VARIABLES) as (keyof typeof secrets)[]) {
        assert.ok(!text.includes(secrets[what]), `${what} appears in ${f}`);
      }
    }
    const json = JSON.parse(fs.readFileSync(stackFile, 'utf8')) as StackJson;
    for (const v of Object.values(SECRET_VARIABLES).map((x) => x.tfVar)) {
      const variable = json.variable[v];
      assert.ok(variable, `variable ${v} declared`);
      assert.equal(variable.sensitive, true, `${v} sensitive`);
      assert.ok(!('default' in variable), `${v} has no default`);
    }
    const ws1 = Object.values(json.resource.docker_container).find((c) => c.name === `${prefix}-ws-1`);
    assert.ok(ws1?.env?.includes('AUTH_SECRET=${var.auth_secret}'));
    assert.equal(json.terraform.backend.local.path, path.join(repoRoot, '.ws-fleet', 'state', `${prefix}.tfstate`));
  });

  it('a balancer port in use by another process fails at synth naming the setting', async () => {
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const addr = blocker.address();
    assert.ok(addr !== null && typeof addr === 'object');
    const r = runMain({ WSFLEET_BALANCER_PORT: String(addr.port), WSFLEET_STATS_PORT: String(await freePort()) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`balancerPort=${addr.port}.*already in use`));
  });

  it('out-of-range settings fail at synth naming the setting', () => {
    for (const [env, expected] of [
      [{ WSFLEET_REPLICAS: '0' }, /replicas=0/],
      [{ WSFLEET_REPLICAS: '500' }, /replicas=500/],
      [{ WSFLEET_LB_MODE: 'random' }, /lbMode="random"/],
    ] as const) {
      const r = runMain(env);
      assert.equal(r.status, 1);
      assert.match(r.stderr, expected);
    }
  });
});

describe('infra synth: provider version', () => {
  it('pins the version setup installed: env first, then the stamp file, else the bindings\' 3.6.2', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsfleet-stamp-'));
    try {
      const stamp = path.join(dir, 'provider-docker.stamp');
      assert.equal(dockerProviderVersion({}, stamp), '3.6.2');
      fs.writeFileSync(stamp, '4.6.1-0.20260916201441-96d331c98ff4 source v0.0.0-20260916201441-96d331c98ff4\n');
      assert.equal(dockerProviderVersion({}, stamp), '4.6.1-0.20260916201441-96d331c98ff4');
      assert.equal(dockerProviderVersion({ WSFLEET_DOCKER_PROVIDER_VERSION: '3.6.2' }, stamp), '3.6.2');
      assert.equal(dockerProviderVersion({ WSFLEET_DOCKER_PROVIDER_VERSION: 'latest' }, stamp), '4.6.1-0.20260916201441-96d331c98ff4');
      const json = synth();
      assert.equal(json.terraform.required_providers.docker.version, dockerProviderVersion());
      assert.equal(json.terraform.required_providers.docker.source, 'kreuzwerker/docker');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('infra synth: terraform validate', () => {
  const cliConfig = path.join(repoRoot, '.ws-fleet', 'terraform', 'terraformrc');

  it('the synthesized stack passes terraform init (offline, from the provider mirror) and validate', () => {
    assert.ok(
      fs.existsSync(cliConfig),
      `${cliConfig} is missing: the kreuzwerker/docker provider mirror comes from scripts/setup.sh (run \`bash scripts/setup.sh\`)`,
    );
    const outdir = Testing.fullSynth(makeStack({ WSFLEET_REPLICAS: '2' }));
    const stackDir = path.join(outdir, 'stacks', 'wsfleet');
    const env = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
    try {
      const init = spawnSync('terraform', ['init', '-backend=false', '-input=false', '-no-color'], { cwd: stackDir, env, encoding: 'utf8', timeout: 120_000 });
      assert.equal(init.status, 0, `terraform init failed:\n${init.stdout}\n${init.stderr}`);
      const validate = spawnSync('terraform', ['validate', '-json', '-no-color'], { cwd: stackDir, env, encoding: 'utf8', timeout: 120_000 });
      const result = JSON.parse(validate.stdout) as { valid: boolean; error_count: number; diagnostics: unknown[] };
      assert.equal(result.valid, true, JSON.stringify(result.diagnostics, null, 2));
      assert.equal(validate.status, 0);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('rolling deploy: the order of steps', () => {
  it('replaces the replicas on another build one at a time, pinning the rest, and waits for each to be routed', async () => {
    const OLD = 'c'.repeat(64);
    const NEW = 'd'.repeat(64);
    const builds = new Map<number, string>([[1, OLD], [2, NEW], [3, OLD]]);
    const events: string[] = [];
    const report = await rollingDeploy({
      replicas: 3,
      targetBuild: NEW,
      currentBuild: (n) => Promise.resolve(builds.get(n)),
      apply: (env) => {
        const pins = parseBuildPins(env['WSFLEET_SERVER_BUILD_PINS']);
        events.push(`apply pins=${[...pins.keys()].join(',')}`);
        // What Terraform does with these pins: every unpinned replica runs the target build.
        for (const n of [1, 2, 3]) if (!pins.has(n)) builds.set(n, NEW);
        return Promise.resolve();
      },
      waitRouted: (n) => {
        events.push(`routed ${n}`);
        return Promise.resolve();
      },
    });
    assert.deepEqual(events, ['apply pins=3', 'routed 1', 'apply pins=', 'routed 3']);
    assert.deepEqual(report.steps.map((s) => s.replica), [1, 3]);
    assert.equal(report.nothingToRoll, false);
  });

  it('with nothing to roll, makes one plain apply; a step whose replica is not on the new build fails', async () => {
    const same = await rollingDeploy({ replicas: 2, targetBuild: HASH_A, currentBuild: () => Promise.resolve(HASH_A), apply: () => Promise.resolve(), waitRouted: () => Promise.resolve() });
    assert.equal(same.nothingToRoll, true);
    await assert.rejects(
      rollingDeploy({ replicas: 1, targetBuild: HASH_B, currentBuild: () => Promise.resolve(HASH_A), apply: () => Promise.resolve(), waitRouted: () => Promise.resolve() }),
      /replica 1 runs build a{64} after its step/,
    );
    assert.throws(() => parseBuildPins('{"x":"1"}'), /not a replica number/);
    assert.throws(() => parseBuildPins('{"2":"abc"}'), /not a build hash/);
  });
});
