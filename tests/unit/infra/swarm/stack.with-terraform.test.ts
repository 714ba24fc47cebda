/**
 * The Swarm stack (infra/swarm/), checked as synthesized JSON, by the real haproxy and nats-server on the
 * configs it carries, and by `terraform validate` (offline, from the project's provider mirror).
 * Needs no Docker.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Testing } from 'cdktf';
import { readImageVersions, resolveSettings, type Settings } from '../../../../infra/settings.js';
import { SwarmStack } from '../../../../infra/swarm/stack.js';
import { renderBalancerConfig } from '../../../../infra/render/haproxy.js';
import { stopTimeoutSeconds } from '../../../../infra/constructs/ws-pool.js';
import { dockerProviderVersion } from '../../../../infra/provider-version.js';
import { checkHaproxyConfig } from '../../../support/haproxy.js';
import { findBinary, repoRoot } from '../../../support/paths.js';

interface ServiceJson {
  name: string;
  mode: { replicated?: { replicas: number }; global?: boolean };
  endpoint_spec: { mode: string; ports?: { target_port: number; published_port: number; publish_mode: string }[] };
  task_spec: {
    container_spec: {
      image: string;
      hostname?: string;
      env?: Record<string, string>;
      args?: string[];
      user?: string;
      read_only?: boolean;
      stop_grace_period?: string;
      stop_signal?: string;
      healthcheck?: { test: string[] };
      configs?: { config_id: string; config_name: string; file_name: string }[];
      mounts?: { type: string; source?: string; target: string }[];
    };
    placement?: { constraints?: string[]; prefs?: string[] };
    resources?: { limits?: { memory_bytes: number; nano_cpus: number } };
    networks_advanced?: { id?: string; name?: string }[];
  };
  update_config?: { parallelism: number; order: string; delay?: string; failure_action?: string };
  rollback_config?: { parallelism: number; order: string };
  depends_on?: string[];
}
interface StackJson {
  resource: {
    docker_service: Record<string, ServiceJson>;
    docker_config: Record<string, { name: string; data: string; lifecycle?: { create_before_destroy?: boolean } }>;
    docker_network: Record<string, { name: string; driver: string; attachable?: boolean }>;
    docker_volume?: Record<string, unknown>;
    docker_container?: Record<string, unknown>;
    docker_image?: Record<string, unknown>;
    docker_tag?: Record<string, { source_image: string; target_image: string }>;
    docker_registry_image?: Record<string, { name: string; keep_remotely?: boolean }>;
  };
  provider: { docker: { host?: string }[] };
  variable: Record<string, { sensitive?: boolean }>;
}

const images = readImageVersions();
const SWARM = { WSFLEET_ENGINE: 'swarm', WSFLEET_BIND_ADDRESS: '0.0.0.0' };
const NODE_IDS = ['a'.repeat(25), 'b'.repeat(25), 'c'.repeat(25)];

function settingsFor(env: NodeJS.ProcessEnv = {}): Settings {
  return resolveSettings({ env: { ...SWARM, ...env }, images });
}

function makeStack(env: NodeJS.ProcessEnv = {}): SwarmStack {
  const settings = settingsFor(env);
  return new SwarmStack(Testing.app(), settings.prefix, {
    settings,
    images: { server: `${settings.prefix}-server:0123456789ab`, nats: settings.natsImage, haproxy: settings.haproxyImage },
    balancer: renderBalancerConfig(settings),
    stateFile: '/tmp/wsfsw-unit.tfstate',
  });
}

/** The replicas' variables, bundled in SERVER_ENV_JSON (infra/swarm/ws-service.ts). */
function bundledEnv(ws: { task_spec: { container_spec: { env?: Record<string, string> } } }): Record<string, string> {
  return JSON.parse(ws.task_spec.container_spec.env?.['SERVER_ENV_JSON'] ?? '{}') as Record<string, string>;
}

function synth(env: NodeJS.ProcessEnv = {}): StackJson {
  return JSON.parse(Testing.synth(makeStack(env))) as StackJson;
}

function services(json: StackJson): Map<string, ServiceJson> {
  return new Map(Object.values(json.resource.docker_service).map((s) => [s.name, s]));
}

function service(json: StackJson, name: string): ServiceJson {
  const s = services(json).get(name);
  assert.ok(s, `service ${name} exists`);
  return s;
}

/** JSON paths (a.b.c) whose values differ between two objects. */
function diffPaths(a: unknown, b: unknown, at = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) || Array.isArray(b)) return [at];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at === '' ? k : `${at}.${k}`));
}

const decode = (data: string): string => Buffer.from(data, 'base64').toString('utf8');

describe('swarm synth: what it creates', () => {
  it('an attachable overlay network, 3 NATS services, 1 ws service, 1 balancer service, 4 configs, and no containers or volumes', () => {
    const json = synth();
    assert.deepEqual(Object.values(json.resource.docker_network).map((n) => [n.name, n.driver, n.attachable]), [['wsfleet-net', 'overlay', true]]);
    assert.deepEqual([...services(json).keys()].sort(), ['wsfleet-lb', 'wsfleet-nats-1', 'wsfleet-nats-2', 'wsfleet-nats-3', 'wsfleet-ws']);
    assert.equal(Object.keys(json.resource.docker_config).length, 4);
    assert.equal(json.resource.docker_container, undefined, 'no plain containers on swarm');
    assert.equal(json.resource.docker_volume, undefined, 'volumes are created by the pinned NATS tasks on their nodes');
    assert.equal(json.resource.docker_image, undefined, 'the deploy command builds and distributes the images');
    for (const [name, s] of services(json)) {
      assert.equal(s.endpoint_spec.mode, 'dnsrr', `${name}: endpoint mode dnsrr (no IPVS)`);
      // By id: provider 4.x keeps the id in `id` (3.x in `name`); anything else plans a replacement on every apply.
      const attachment = Number(dockerProviderVersion().split('.')[0]) >= 4 ? { id: '${docker_network.network_overlay_50072514.id}' } : { name: '${docker_network.network_overlay_50072514.id}' };
      assert.deepEqual(s.task_spec.networks_advanced, [attachment], `${name} on the overlay`);
      assert.ok((s.task_spec.resources?.limits?.memory_bytes ?? 0) > 0 && (s.task_spec.resources?.limits?.nano_cpus ?? 0) > 0, `${name} limits`);
      assert.ok((s.task_spec.container_spec.healthcheck?.test.length ?? 0) > 1, `${name} healthcheck`);
    }
  });

  it('services join the network by id, in the form the pinned provider keeps in its state', () => {
    const saved = process.env['WSFLEET_DOCKER_PROVIDER_VERSION'];
    try {
      process.env['WSFLEET_DOCKER_PROVIDER_VERSION'] = '3.6.2';
      assert.deepEqual(service(synth(), 'wsfleet-ws').task_spec.networks_advanced, [{ name: '${docker_network.network_overlay_50072514.id}' }]);
      process.env['WSFLEET_DOCKER_PROVIDER_VERSION'] = '4.6.1';
      assert.deepEqual(service(synth(), 'wsfleet-ws').task_spec.networks_advanced, [{ id: '${docker_network.network_overlay_50072514.id}' }]);
    } finally {
      if (saved === undefined) Reflect.deleteProperty(process.env, 'WSFLEET_DOCKER_PROVIDER_VERSION');
      else process.env['WSFLEET_DOCKER_PROVIDER_VERSION'] = saved;
    }
  });

  it('replica count, NATS node count and limits follow the settings', () => {
    const json = synth({ WSFLEET_REPLICAS: '7', WSFLEET_NATS_NODES: '1', WSFLEET_WS_MEMORY_MB: '300', WSFLEET_WS_CPUS: '0.25' });
    const ws = service(json, 'wsfleet-ws');
    assert.deepEqual(ws.mode, { replicated: { replicas: 7 } });
    assert.deepEqual(ws.task_spec.resources?.limits, { memory_bytes: 300 * 1024 * 1024, nano_cpus: 250_000_000 });
    assert.deepEqual([...services(json).keys()].filter((n) => n.includes('nats')), ['wsfleet-nats-1']);
    assert.equal(bundledEnv(ws)['NATS_URLS'], 'nats://wsfleet-nats-1:4222');
    const conf = decode(Object.values(json.resource.docker_config).find((c) => c.name.startsWith('wsfleet-nats-1-conf-'))?.data ?? '');
    assert.doesNotMatch(conf, /cluster \{/, 'one node: no cluster block');
  });

  it('ws: SERVER_ID and hostname from the task slot, non-root, read-only root, tmpfs /tmp, secrets as variables', () => {
    const ws = service(synth(), 'wsfleet-ws');
    const c = ws.task_spec.container_spec;
    assert.deepEqual(Object.keys(c.env ?? {}), ['SERVER_ENV_JSON'], 'one variable: a map of several reaches Swarm in a random order, and every update then replaces every task');
    const env = bundledEnv(ws);
    assert.equal(env['SERVER_ID'], 'wsfleet-ws-{{.Task.Slot}}');
    assert.equal(c.hostname, 'wsfleet-ws-{{.Task.Slot}}');
    assert.equal(c.user, '1000:1000');
    assert.equal(c.read_only, true);
    assert.deepEqual(c.mounts?.map((m) => [m.type, m.target]), [['tmpfs', '/tmp']]);
    assert.equal(env['AUTH_SECRET'], '${var.auth_secret}');
    assert.equal(env['NATS_PASSWORD'], '${var.nats_password}');
    assert.equal(env['NATS_URLS'], 'nats://wsfleet-nats-1:4222,nats://wsfleet-nats-2:4222,nats://wsfleet-nats-3:4222');
    assert.equal(c.image, 'wsfleet-server:0123456789ab');
    assert.ok(ws.depends_on?.every((d) => d.startsWith('docker_service.nats_')) === true && ws.depends_on.length === 3, 'starts after the NATS services');
  });

  it('ws updates: stop-first, one at a time, a delay covering the drain, rollback; stop grace longer than the drain window', () => {
    for (const drainMs of [0, 3000, 5000, 30_000]) {
      const ws = service(synth({ WSFLEET_DRAIN_WINDOW_MS: String(drainMs) }), 'wsfleet-ws');
      const u = ws.update_config;
      assert.ok(u);
      assert.equal(u.order, 'stop-first', 'two tasks never share a SERVER_ID');
      assert.equal(u.parallelism, 1);
      assert.equal(u.failure_action, 'rollback');
      assert.ok(Number.parseInt(u.delay ?? '0', 10) * 1000 > drainMs, `delay ${u.delay} covers the ${drainMs} ms drain`);
      assert.deepEqual([ws.rollback_config?.order, ws.rollback_config?.parallelism], ['stop-first', 1]);
      const grace = Number.parseInt(ws.task_spec.container_spec.stop_grace_period ?? '0', 10);
      assert.equal(grace, stopTimeoutSeconds(drainMs));
      assert.ok(grace * 1000 > drainMs, `stop grace ${grace}s > drain ${drainMs} ms`);
      assert.equal(ws.task_spec.container_spec.stop_signal, 'SIGTERM');
    }
  });

  it('NATS: one pinned replica per node, a named volume, content-named config, advertise = service name', () => {
    const json = synth({ WSFLEET_NATS_PLACEMENT: NODE_IDS.map((id) => `id:${id}`).join(',') });
    const configs = Object.values(json.resource.docker_config);
    for (let n = 1; n <= 3; n++) {
      const name = `wsfleet-nats-${n}`;
      const s = service(json, name);
      assert.deepEqual(s.mode, { replicated: { replicas: 1 } });
      assert.deepEqual(s.task_spec.placement?.constraints, [`node.id==${NODE_IDS[n - 1] ?? ''}`]);
      assert.deepEqual(s.task_spec.container_spec.mounts?.map((m) => [m.type, m.source, m.target]), [['volume', `${name}-data`, '/data']]);
      const args = s.task_spec.container_spec.args ?? [];
      assert.equal(args[args.indexOf('--client_advertise') + 1], `${name}:4222`);
      assert.equal(args[args.indexOf('--cluster_advertise') + 1], `${name}:6222`);
      assert.equal(s.update_config?.order, 'stop-first', 'the old task releases the store first');
      const mounted = s.task_spec.container_spec.configs?.[0];
      const config = configs.find((c) => c.name.startsWith(`${name}-conf-`));
      assert.ok(config && mounted);
      assert.match(mounted.config_name, new RegExp(`^\\$\\{docker_config\\.nats_config-${n}_[A-Z0-9]+\\.name\\}$`), 'mounts its own config');
      assert.equal(mounted.file_name, '/etc/nats/ws-fleet.conf');
      assert.equal(config.lifecycle?.create_before_destroy, true);
      const text = decode(config.data);
      assert.match(text, new RegExp(`server_name: "${name}"`));
      assert.ok(!text.includes('nats://' + name + ':6222'), 'no route to itself');
    }
    // Nodes roll one at a time: each after the previous one.
    assert.deepEqual(service(json, 'wsfleet-nats-1').depends_on ?? [], []);
    assert.match((service(json, 'wsfleet-nats-2').depends_on ?? []).join(), /docker_service\.nats_node-1_/);
    assert.match((service(json, 'wsfleet-nats-3').depends_on ?? []).join(), /docker_service\.nats_node-2_/);
  });

  it('NATS placement by label: the default labels, or the given ones', () => {
    const byDefault = synth();
    for (let n = 1; n <= 3; n++) {
      assert.deepEqual(service(byDefault, `wsfleet-nats-${n}`).task_spec.placement?.constraints, [`node.labels.ws-fleet.nats==${n}`]);
    }
    const zoned = synth({ WSFLEET_NATS_PLACEMENT: 'label:zone=a,label:zone=b,label:zone=c' });
    assert.deepEqual(service(zoned, 'wsfleet-nats-2').task_spec.placement?.constraints, ['node.labels.zone==b']);
  });

  it('config names carry a hash of their content: same text, same name; other text, other name', () => {
    const a = synth();
    const b = synth();
    const sticky = synth({ WSFLEET_LB_MODE: 'sticky' });
    const names = (j: StackJson): string[] => Object.values(j.resource.docker_config).map((c) => c.name).sort();
    assert.deepEqual(names(a), names(b));
    const lbName = (j: StackJson): string => Object.values(j.resource.docker_config).find((c) => c.name.startsWith('wsfleet-lb-cfg-'))?.name ?? '';
    assert.match(lbName(a), /^wsfleet-lb-cfg-[0-9a-f]{12}$/);
    assert.notEqual(lbName(a), lbName(sticky));
  });

  it('balancer: global on the placed nodes, host-mode published ports, discovery of the ws tasks through DNS', () => {
    const json = synth({ WSFLEET_BALANCER_PORT: '18080', WSFLEET_STATS_PORT: '18404', WSFLEET_BALANCER_PLACEMENT: 'label:edge=true,role:worker' });
    const lb = service(json, 'wsfleet-lb');
    assert.deepEqual(lb.mode, { global: true });
    assert.deepEqual(lb.task_spec.placement?.constraints, ['node.labels.edge==true', 'node.role==worker']);
    assert.deepEqual(
      lb.endpoint_spec.ports?.map((p) => [p.publish_mode, p.published_port, p.target_port]),
      [
        ['host', 18080, 8080],
        ['host', 18404, 8404],
      ],
    );
    assert.equal(lb.update_config?.order, 'stop-first', 'host ports are freed before the replacement binds them');
    const cfg = decode(Object.values(json.resource.docker_config).find((c) => c.name.startsWith('wsfleet-lb-cfg-'))?.data ?? '');
    assert.match(cfg, /server-template ws 1-64 wsfleet-ws:8080 resolvers dns/);
    assert.match(cfg, /nameserver ns1 127\.0\.0\.11:53/);
    assert.deepEqual(service(synth(), 'wsfleet-lb').task_spec.placement?.constraints, ['node.role==manager'], 'default: the managers');
  });

  it('the provider talks to the configured manager endpoint', () => {
    assert.deepEqual(synth().provider.docker, [{}]);
    assert.deepEqual(synth({ WSFLEET_SWARM_MANAGER: 'ssh://ops@manager-1' }).provider.docker, [{ host: 'ssh://ops@manager-1' }]);
  });

  it('with a registry: each image is tagged, pushed and the services pin the pushed digest', () => {
    const json = synth({ WSFLEET_REGISTRY: 'registry.example:5000/team' });
    const tags = Object.values(json.resource.docker_tag ?? {});
    assert.deepEqual(tags.map((t) => t.target_image).sort(), [
      'registry.example:5000/team/haproxy:3.2.7',
      'registry.example:5000/team/nats:2.15.2-alpine',
      'registry.example:5000/team/wsfleet-server:0123456789ab',
    ]);
    assert.equal(Object.keys(json.resource.docker_registry_image ?? {}).length, 3);
    const ws = service(json, 'wsfleet-ws');
    assert.match(ws.task_spec.container_spec.image, /^registry\.example:5000\/team\/wsfleet-server@\$\{docker_registry_image\.images_server-push_[A-Z0-9]+\.sha256_digest\}$/);
    assert.match(service(json, 'wsfleet-nats-1').task_spec.container_spec.image, /^registry\.example:5000\/team\/nats@\$\{/);
  });
});

describe('swarm synth: changes stay local', () => {
  it('3 → 5 replicas is one in-place update of the ws service: its replica count (and how long apply waits)', () => {
    const three = synth();
    const five = synth({ WSFLEET_REPLICAS: '5' });
    assert.deepEqual(Object.keys(five.resource.docker_service).sort(), Object.keys(three.resource.docker_service).sort(), 'no service added or removed');
    assert.deepEqual(five.resource.docker_config, three.resource.docker_config);
    assert.deepEqual(five.resource.docker_network, three.resource.docker_network);
    const changed = Object.keys(three.resource.docker_service).filter(
      (k) => JSON.stringify(three.resource.docker_service[k]) !== JSON.stringify(five.resource.docker_service[k]),
    );
    assert.deepEqual(changed.map((k) => three.resource.docker_service[k]?.name), ['wsfleet-ws']);
    const key = changed[0] ?? '';
    assert.deepEqual(diffPaths(three.resource.docker_service[key], five.resource.docker_service[key]).sort(), [
      'converge_config.timeout',
      'mode.replicated.replicas',
    ]);
  });

  it('an lbMode change touches only the balancer: a new content-named config, which only the balancer service mounts', () => {
    const rr = synth();
    const lc = synth({ WSFLEET_LB_MODE: 'leastconn' });
    assert.deepEqual(lc.resource.docker_service, rr.resource.docker_service, 'services refer to the config by resource, so their JSON is unchanged');
    const changedConfigs = Object.keys(rr.resource.docker_config).filter(
      (k) => JSON.stringify(rr.resource.docker_config[k]) !== JSON.stringify(lc.resource.docker_config[k]),
    );
    assert.equal(changedConfigs.length, 1);
    const key = changedConfigs[0] ?? '';
    assert.notEqual(rr.resource.docker_config[key]?.name, lc.resource.docker_config[key]?.name, 'a new name: Terraform replaces the config');
    // Terraform then updates exactly the services that reference it: the balancer.
    const referencing = Object.values(lc.resource.docker_service).filter((svc) => JSON.stringify(svc).includes(`docker_config.${key}.`));
    assert.deepEqual(referencing.map((svc) => svc.name), ['wsfleet-lb']);
  });
});

describe('swarm settings: what an engine cannot honour is refused by name', () => {
  const refused = (env: NodeJS.ProcessEnv, pattern: RegExp): void => {
    assert.throws(() => resolveSettings({ env, images }), pattern);
  };

  it('swarm refuses a bind address (host-mode ports bind every address) and NATS debug ports', () => {
    refused({ WSFLEET_ENGINE: 'swarm' }, /bindAddress="127\.0\.0\.1".*engine swarm.*every address/);
    refused({ WSFLEET_ENGINE: 'swarm', WSFLEET_BIND_ADDRESS: '10.0.0.5' }, /bindAddress="10\.0\.0\.5"/);
    refused({ ...SWARM, WSFLEET_DEBUG_NATS_PORT_BASE: '14222' }, /debugNatsPortBase=14222.*engine swarm/);
  });

  it('the docker engine refuses the swarm-only settings', () => {
    refused({ WSFLEET_REGISTRY: 'reg.example:5000' }, /registry="reg\.example:5000".*only the swarm engine/);
    refused({ WSFLEET_NATS_PLACEMENT: 'label:a=1,label:a=2,label:a=3' }, /natsPlacement=.*only the swarm engine/);
    refused({ WSFLEET_SWARM_MANAGER: 'unix:///run/docker.sock' }, /swarmManager=.*only the swarm engine/);
    refused({ WSFLEET_BALANCER_PLACEMENT: 'role:worker' }, /balancerPlacement=.*only the swarm engine/);
  });

  it('bad placements, endpoints and registries are refused naming the setting', () => {
    refused({ ...SWARM, WSFLEET_NATS_PLACEMENT: 'hostname:box1,label:a=2,label:a=3' }, /natsPlacement=.*"hostname:box1" is not a placement.*never a hostname/);
    refused({ ...SWARM, WSFLEET_NATS_PLACEMENT: 'id:tooshort,label:a=2,label:a=3' }, /natsPlacement=.*"id:tooshort"/);
    refused({ ...SWARM, WSFLEET_NATS_PLACEMENT: 'label:a=1,label:a=2' }, /natsPlacement=.*one entry per NATS node \(natsNodes=3\)/);
    refused({ ...SWARM, WSFLEET_NATS_PLACEMENT: 'label:a=1,label:a=1,label:a=3' }, /natsPlacement=.*two NATS nodes on node\.labels\.a==1/);
    refused({ ...SWARM, WSFLEET_NATS_PLACEMENT: 'label:a=1 || true,label:b=2,label:c=3' }, /natsPlacement=/);
    refused({ ...SWARM, WSFLEET_BALANCER_PLACEMENT: 'node.role==manager' }, /balancerPlacement=.*not a placement/);
    refused({ ...SWARM, WSFLEET_SWARM_MANAGER: 'http://manager:2375' }, /swarmManager="http:\/\/manager:2375".*Docker endpoint/);
    refused({ ...SWARM, WSFLEET_SWARM_NODES: 'unix:///a.sock,ssh://host;rm -rf /' }, /swarmNodes=.*Docker endpoint/);
    refused({ ...SWARM, WSFLEET_REGISTRY: 'https://reg.example' }, /registry="https:\/\/reg\.example".*without a scheme/);
    refused({ WSFLEET_ENGINE: 'kubernetes' }, /engine="kubernetes"/);
  });

  it('valid swarm settings resolve, lists from comma-separated strings or arrays', () => {
    const s = resolveSettings({
      env: { ...SWARM, WSFLEET_SWARM_NODES: 'unix:///run/n1.sock, ssh://ops@n2:2222' },
      images,
      file: { natsPlacement: NODE_IDS.map((id) => `id:${id}`) },
      fileName: 'test.json',
    });
    assert.deepEqual(s.swarmNodes, ['unix:///run/n1.sock', 'ssh://ops@n2:2222']);
    assert.deepEqual(s.natsPlacement, NODE_IDS.map((id) => `id:${id}`));
    assert.equal(s.engine, 'swarm');
  });
});

describe('swarm synth: the real binaries accept what it carries', () => {
  it('haproxy -c accepts the balancer config for every mode', async () => {
    for (const mode of ['roundrobin', 'leastconn', 'sticky']) {
      const json = synth({ WSFLEET_LB_MODE: mode });
      const cfg = decode(Object.values(json.resource.docker_config).find((c) => c.name.startsWith('wsfleet-lb-cfg-'))?.data ?? '');
      // The stats credentials are environment variables HAProxy expands (the service sets them).
      const check = await checkHaproxyConfig(cfg, { LB_STATS_USER: 'stats', LB_STATS_PASSWORD: 'stats-password' });
      assert.ok(check.ok, `${mode}: ${check.output}`);
    }
  });

  it('nats-server -t accepts each NATS node config', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsfsw-nats-'));
    try {
      for (const c of Object.values(synth().resource.docker_config).filter((x) => x.name.includes('-nats-'))) {
        const file = path.join(dir, `${c.name}.conf`);
        // The store dir in the config is /data (the volume); -t only parses.
        fs.writeFileSync(file, decode(c.data));
        const r = spawnSync(findBinary('nats-server', 'NATS_SERVER_BIN'), ['-t', '-c', file], {
          env: { ...process.env, NATS_USER: 'u', NATS_PASSWORD: 'p', NATS_ROUTE_USER: 'ru', NATS_ROUTE_PASSWORD: 'rp', NATS_ROUTES: '["nats://ru:rp@peer:6222"]' },
          encoding: 'utf8',
          timeout: 10_000,
        });
        assert.equal(r.status, 0, `${c.name}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('swarm synth: terraform validate', () => {
  const cliConfig = path.join(repoRoot, '.ws-fleet', 'terraform', 'terraformrc');

  for (const [what, env] of [
    ['tags', {}],
    ['a registry', { WSFLEET_REGISTRY: 'registry.example:5000' }],
  ] as const) {
    it(`the stack with ${what} passes terraform init (offline, from the provider mirror) and validate`, () => {
      assert.ok(fs.existsSync(cliConfig), `${cliConfig} is missing: the provider mirror comes from scripts/setup.sh`);
      const outdir = Testing.fullSynth(makeStack(env));
      const stackDir = path.join(outdir, 'stacks', 'wsfleet');
      const tfEnv = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
      try {
        const init = spawnSync('terraform', ['init', '-backend=false', '-input=false', '-no-color'], { cwd: stackDir, env: tfEnv, encoding: 'utf8', timeout: 120_000 });
        assert.equal(init.status, 0, `terraform init failed:\n${init.stdout}\n${init.stderr}`);
        const validate = spawnSync('terraform', ['validate', '-json', '-no-color'], { cwd: stackDir, env: tfEnv, encoding: 'utf8', timeout: 120_000 });
        const result = JSON.parse(validate.stdout) as { valid: boolean; diagnostics: unknown[] };
        assert.equal(result.valid, true, JSON.stringify(result.diagnostics, null, 2));
      } finally {
        fs.rmSync(outdir, { recursive: true, force: true });
      }
    });
  }
});
