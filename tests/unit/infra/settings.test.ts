import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  envNameFor,
  readImageVersions,
  resolveSettings,
  SettingsError,
  type Settings,
} from '../../../infra/settings.js';
import { assertBalancerPortsAvailable, canBind } from '../../../infra/port-check.js';
import { freePort } from '../../support/ports.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ensureSecrets,
  formatSecretsFile,
  generateSecrets,
  parseSecretsFile,
  protectDeploymentFiles,
  SECRET_VARIABLES,
  terraformVariableEnv,
} from '../../../infra/secrets.js';
import { BYTES_PER_CONNECTION, maxConnectionsFor, memoryMbFor, REPLICA_BASELINE_BYTES } from '../../../infra/capacity.js';

const images = readImageVersions();
const resolve = (env: NodeJS.ProcessEnv, file?: unknown): Settings =>
  resolveSettings({ env, images, file, fileName: 'test.json' });

function rejects(env: NodeJS.ProcessEnv, ...fragments: string[]): void {
  assert.throws(
    () => resolve(env),
    (err: unknown) => {
      assert.ok(err instanceof SettingsError, `expected SettingsError, got ${String(err)}`);
      for (const f of fragments) assert.ok(err.message.includes(f), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
      return true;
    },
  );
}

describe('infra settings', () => {
  it('defaults: 3 replicas, roundrobin, 3 NATS nodes, 127.0.0.1:8080 and :8404, tags from images/versions.json', () => {
    const s = resolve({});
    assert.equal(s.prefix, 'wsfleet');
    assert.equal(s.replicas, 3);
    assert.equal(s.lbMode, 'roundrobin');
    assert.equal(s.natsNodes, 3);
    assert.equal(s.bindAddress, '127.0.0.1');
    assert.equal(s.balancerPort, 8080);
    assert.equal(s.statsPort, 8404);
    assert.equal(s.natsImage, images.nats);
    assert.equal(s.haproxyImage, images.haproxy);
    assert.equal(s.nodeImage, images.node);
  });

  it('the file overrides defaults and the environment overrides the file', () => {
    const s = resolve({ WSFLEET_LB_MODE: 'leastconn' }, { replicas: 5, lbMode: 'sticky' });
    assert.equal(s.replicas, 5);
    assert.equal(s.lbMode, 'leastconn');
    assert.equal(resolve({ WSFLEET_REPLICAS: '7', WSFLEET_PREFIX: 'other-fleet' }).replicas, 7);
    assert.equal(resolve({ WSFLEET_PREFIX: 'other-fleet' }).prefix, 'other-fleet');
  });

  it('maps setting names to WSFLEET_ environment names', () => {
    assert.equal(envNameFor('replicas'), 'WSFLEET_REPLICAS');
    assert.equal(envNameFor('lbMode'), 'WSFLEET_LB_MODE');
    assert.equal(envNameFor('debugNatsPortBase'), 'WSFLEET_DEBUG_NATS_PORT_BASE');
  });

  it('rejects out-of-range and malformed values, naming the setting, the value and its source', () => {
    rejects({ WSFLEET_REPLICAS: '0' }, 'replicas=0', 'WSFLEET_REPLICAS', 'from 1 to 64');
    rejects({ WSFLEET_REPLICAS: '500' }, 'replicas=500', 'from 1 to 64');
    rejects({ WSFLEET_REPLICAS: 'five' }, 'replicas="five"', 'must be a number');
    rejects({ WSFLEET_REPLICAS: '2.5' }, 'replicas=2.5');
    rejects({ WSFLEET_LB_MODE: 'random' }, 'lbMode="random"', 'roundrobin');
    rejects({ WSFLEET_NATS_NODES: '2' }, 'natsNodes=2', 'must be 1 or 3');
    rejects({ WSFLEET_BIND_ADDRESS: 'localhost' }, 'bindAddress="localhost"');
    rejects({ WSFLEET_BALANCER_PORT: '70000' }, 'balancerPort=70000');
    rejects({ WSFLEET_STATS_PORT: '8080' }, 'statsPort=8080', 'balancerPort');
    rejects({ WSFLEET_DRAIN_WINDOW_MS: '-1' }, 'drainWindowMs=-1');
    rejects({ WSFLEET_PREFIX: 'Bad_Prefix' }, 'prefix="Bad_Prefix"');
    rejects({ WSFLEET_NATS_IMAGE: 'nats' }, 'natsImage="nats"');
  });

  it('namespaces: nothing but the demo namespace "chat" is open by default; JSON from the environment, validated by field', () => {
    const s = resolve({});
    assert.deepEqual(Object.keys(s.namespaces), ['chat'], 'default (rooms without a namespace) is not configured: it denies everything');
    assert.equal(s.namespaces['chat']?.join, 'authenticated');
    const custom = resolve({ WSFLEET_NAMESPACES: '{"team":{"join":"grant","history":"grant","publish":"server","keepHistory":true,"historyMaxAgeSec":60,"historyMaxMsgs":5,"maxMembers":10}}' });
    assert.deepEqual(custom.namespaces, { team: { join: 'grant', history: 'grant', publish: 'server', keepHistory: true, historyMaxAgeSec: 60, historyMaxMsgs: 5, maxMembers: 10 } });
    assert.deepEqual(resolve({}, { namespaces: {} }).namespaces, {}, 'a deployment may close everything');
    rejects({ WSFLEET_NAMESPACES: '{"team":' }, 'namespaces', 'not valid JSON', 'WSFLEET_NAMESPACES');
    rejects({ WSFLEET_NAMESPACES: '{"team":{"join":"anyone","history":"members","publish":"members","keepHistory":true,"historyMaxAgeSec":60,"historyMaxMsgs":5}}' }, 'namespaces.team.join="anyone"', 'env WSFLEET_NAMESPACES');
    rejects({ WSFLEET_NAMESPACES: '{"bad name":{"join":"grant","history":"grant","publish":"server","keepHistory":true,"historyMaxAgeSec":60,"historyMaxMsgs":5}}' }, 'namespace names are 1-64');
    // The server's own rule (no "__", no trailing "_"), checked at synth: such a name would stop the replicas at start.
    rejects({ WSFLEET_NAMESPACES: '{"a__b":{"join":"grant","history":"grant","publish":"server","keepHistory":true,"historyMaxAgeSec":60,"historyMaxMsgs":5}}' }, 'namespace "a__b"', 'namespace names are 1-64');
    rejects({ WSFLEET_NAMESPACES: '{"t":{"join":"grant","history":"grant","publish":"server","keepHistory":true,"historyMaxAgeSec":60,"historyMaxMsgs":5,"admin":true}}' }, 'namespaces.t', '"admin"');
    rejects({ WSFLEET_NAMESPACES: '{"t":{"join":"grant","history":"members","publish":"server","keepHistory":false,"historyMaxAgeSec":60,"historyMaxMsgs":5}}' }, 'namespaces.t.history="members"', 'keepHistory is false');
    rejects({ WSFLEET_NAMESPACES: '{"t":{"join":"grant"}}' }, 'namespaces.t.history=missing');
  });

  it('server settings: token lifetime, metrics port apart from the client port, balancer connection rate', () => {
    const s = resolve({});
    assert.equal(s.tokenMaxLifetimeSec, 86_400);
    assert.equal(s.metricsPort, 9091);
    assert.equal(s.lbConnRatePerSourcePer10s, 1000);
    rejects({ WSFLEET_METRICS_PORT: '8080' }, 'metricsPort=8080', 'the balancer does not route');
    rejects({ WSFLEET_TOKEN_MAX_LIFETIME_SEC: '10' }, 'tokenMaxLifetimeSec=10');
    rejects({ WSFLEET_LB_CONN_RATE_PER_SOURCE_PER10S: '-5' }, 'lbConnRatePerSourcePer10s=-5');
    assert.equal(resolve({ WSFLEET_LB_CONN_RATE_PER_SOURCE_PER10S: '0' }).lbConnRatePerSourcePer10s, 0);
    assert.equal(s.directDelivery, 'durable');
    assert.equal(resolve({ WSFLEET_DIRECT_DELIVERY: 'volatile' }).directDelivery, 'volatile');
    rejects({ WSFLEET_DIRECT_DELIVERY: 'fast' }, 'directDelivery="fast"', 'must be "durable" or "volatile"');
  });

  it('maxConnections must fit wsMemoryMb by the measured per-connection cost; the error names both', () => {
    // The measured constants (infra/capacity.ts) decide; this checks the arithmetic built on them.
    assert.equal(maxConnectionsFor(64), 0, 'below the baseline nothing fits');
    assert.equal(memoryMbFor(0), Math.ceil(REPLICA_BASELINE_BYTES / 2 ** 20));
    assert.ok(memoryMbFor(1000) - memoryMbFor(0) >= Math.floor((1000 * BYTES_PER_CONNECTION) / 2 ** 20));
    const fits = maxConnectionsFor(256);
    assert.ok(fits > 3000 && fits < 10_000, `256 MiB holds ${fits}`);
    assert.ok(memoryMbFor(fits) <= 256 && memoryMbFor(fits + 100) > 256);
    assert.equal(resolve({ WSFLEET_MAX_CONNECTIONS: String(fits) }).maxConnections, fits);
    rejects({ WSFLEET_MAX_CONNECTIONS: '50000' }, 'maxConnections=50000', 'wsMemoryMb=256', 'env WSFLEET_MAX_CONNECTIONS', `at least ${memoryMbFor(50_000)}`);
    rejects({ WSFLEET_WS_MEMORY_MB: '128' }, 'maxConnections=3000 (from defaults)', 'wsMemoryMb=128 (from env WSFLEET_WS_MEMORY_MB)');
    assert.equal(resolve({ WSFLEET_MAX_CONNECTIONS: '50000', WSFLEET_WS_MEMORY_MB: String(memoryMbFor(50_000)) }).maxConnections, 50_000);
  });

  it('rejects unknown or mistyped keys in the settings file', () => {
    assert.throws(() => resolve({}, { replica: 3 }), /unknown setting "replica"/);
    assert.throws(() => resolve({}, { replicas: '3' }), /replicas="3" \(from file test\.json\)/);
    assert.throws(() => resolve({}, [1, 2]), /JSON object/);
  });
});

describe('infra secrets', () => {
  it('generates distinct secrets that survive the file format; NATS, route and stats values are bare tokens', () => {
    const a = generateSecrets();
    const b = generateSecrets();
    for (const k of Object.keys(SECRET_VARIABLES) as (keyof typeof a)[]) assert.notEqual(a[k], b[k], k);
    assert.ok(a.authSecret.length >= 32);
    assert.ok(a.serverApiKey.length >= 32);
    assert.notEqual(a.serverApiKey, a.authSecret, 'the server API key never signs tokens');
    assert.match(a.natsUser, /^[A-Za-z][A-Za-z0-9]+$/);
    for (const v of [a.natsPassword, a.natsRoutePassword, a.lbStatsPassword, a.natsRouteUser, a.lbStatsUser]) assert.match(v, /^[A-Za-z][A-Za-z0-9]{4,}$/);
    assert.match(a.natsPassword, /^[A-Za-z][A-Za-z0-9]{39}$/);
    assert.deepEqual(parseSecretsFile(formatSecretsFile(a), 'x.env'), a);
    assert.deepEqual(terraformVariableEnv(a), {
      TF_VAR_auth_secret: a.authSecret,
      TF_VAR_server_api_key: a.serverApiKey,
      TF_VAR_nats_user: a.natsUser,
      TF_VAR_nats_password: a.natsPassword,
      TF_VAR_nats_route_user: a.natsRouteUser,
      TF_VAR_nats_route_password: a.natsRoutePassword,
      TF_VAR_lb_stats_user: a.lbStatsUser,
      TF_VAR_lb_stats_password: a.lbStatsPassword,
    });
  });

  it('secrets and state: directories 0700, files 0600, the state file created private before Terraform writes it', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'wsf-perms-'));
    const oldUmask = process.umask(0o022);
    try {
      const files = { secrets: path.join(root, 'secrets', 'x.env'), state: path.join(root, 'state', 'x.tfstate') };
      // An earlier version's world-readable leftovers.
      fs.mkdirSync(path.dirname(files.state), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(root, 'state', 'old.tfstate'), '{}', { mode: 0o644 });
      const { created, secrets } = ensureSecrets('x', files);
      assert.equal(created, true);
      const mode = (f: string): number => fs.statSync(f).mode & 0o777;
      assert.equal(mode(path.join(root, 'secrets')), 0o700);
      assert.equal(mode(path.join(root, 'state')), 0o700);
      for (const f of [files.secrets, files.state, `${files.state}.backup`, path.join(root, 'state', 'old.tfstate')]) assert.equal(mode(f), 0o600, f);
      assert.equal(fs.readFileSync(files.state, 'utf8'), '', 'an empty state file is "no state" for Terraform');
      fs.chmodSync(files.secrets, 0o644);
      fs.writeFileSync(files.state, '{"version":4}');
      fs.chmodSync(files.state, 0o644);
      protectDeploymentFiles(files);
      assert.equal(mode(files.secrets), 0o600);
      assert.equal(mode(files.state), 0o600);
      assert.equal(fs.readFileSync(files.state, 'utf8'), '{"version":4}', 'existing state is kept');
      // A file from an earlier version lacks the new secrets: they are added, the old values kept.
      fs.writeFileSync(files.secrets, `AUTH_SECRET=${secrets.authSecret}\nNATS_USER=${secrets.natsUser}\nNATS_PASSWORD=${secrets.natsPassword}\n`);
      const again = ensureSecrets('x', files);
      assert.equal(again.created, false);
      assert.equal(again.secrets.authSecret, secrets.authSecret);
      assert.equal(again.secrets.natsPassword, secrets.natsPassword);
      assert.ok(again.secrets.serverApiKey.length >= 32);
      assert.equal(mode(files.secrets), 0o600);
    } finally {
      process.umask(oldUmask);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses a secrets file that lacks a value', () => {
    assert.throws(() => parseSecretsFile('AUTH_SECRET=short\n', 'x.env'), /AUTH_SECRET is missing or shorter/);
  });
});

describe('infra port check', () => {
  const servers: net.Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  async function holdPort(): Promise<number> {
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    assert.ok(addr !== null && typeof addr === 'object');
    return addr.port;
  }

  it('a port held by another process fails naming the setting', async () => {
    const port = await holdPort();
    assert.equal(await canBind('127.0.0.1', port), false);
    const settings = resolve({ WSFLEET_BALANCER_PORT: String(port), WSFLEET_STATS_PORT: String(port === 65535 ? 1 : port + 1) });
    await assert.rejects(
      assertBalancerPortsAvailable(settings, { canBind: (h, p) => (p === port ? Promise.resolve(false) : Promise.resolve(true)), publishedPorts: () => Promise.resolve([]) }),
      (err: unknown) => err instanceof SettingsError && err.message.includes(`balancerPort=${port}`) && err.message.includes('already in use'),
    );
  });

  it('a port held by this deployment\'s own balancer container is accepted', async () => {
    const port = await holdPort();
    const settings = resolve({ WSFLEET_STATS_PORT: String(port) });
    const calls: string[] = [];
    await assertBalancerPortsAvailable(settings, {
      canBind: (_h, p) => Promise.resolve(p !== port),
      publishedPorts: (name) => {
        calls.push(name);
        return Promise.resolve([`127.0.0.1:${port}`]);
      },
    });
    assert.deepEqual(calls, ['wsfleet-lb']);
  });

  it('free ports pass with the real bind check', async () => {
    const settings = resolve({ WSFLEET_BALANCER_PORT: String(await freePort()), WSFLEET_STATS_PORT: String(await freePort()) });
    await assertBalancerPortsAvailable(settings, { canBind, publishedPorts: () => Promise.resolve([]) });
  });
});
