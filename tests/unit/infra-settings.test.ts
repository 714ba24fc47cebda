import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  envNameFor,
  readImageVersions,
  resolveSettings,
  SettingsError,
  type Settings,
} from '../../infra/settings.js';
import { assertBalancerPortsAvailable, canBind } from '../../infra/port-check.js';
import { freePort } from '../support/ports.js';
import { formatSecretsFile, generateSecrets, parseSecretsFile, terraformVariableEnv } from '../../infra/secrets.js';

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

  it('rejects unknown or mistyped keys in the settings file', () => {
    assert.throws(() => resolve({}, { replica: 3 }), /unknown setting "replica"/);
    assert.throws(() => resolve({}, { replicas: '3' }), /replicas="3" \(from file test\.json\)/);
    assert.throws(() => resolve({}, [1, 2]), /JSON object/);
  });
});

describe('infra secrets', () => {
  it('generates distinct secrets that survive the file format; NATS values are bare tokens', () => {
    const a = generateSecrets();
    const b = generateSecrets();
    assert.notEqual(a.authSecret, b.authSecret);
    assert.notEqual(a.natsPassword, b.natsPassword);
    assert.ok(a.authSecret.length >= 32);
    assert.match(a.natsUser, /^[A-Za-z][A-Za-z0-9]+$/);
    assert.match(a.natsPassword, /^[A-Za-z][A-Za-z0-9]{39}$/);
    assert.deepEqual(parseSecretsFile(formatSecretsFile(a), 'x.env'), a);
    assert.deepEqual(terraformVariableEnv(a), {
      TF_VAR_auth_secret: a.authSecret,
      TF_VAR_nats_user: a.natsUser,
      TF_VAR_nats_password: a.natsPassword,
    });
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
