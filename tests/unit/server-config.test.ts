import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../server/src/config.js';

const base = { SERVER_ID: 'ws-1', NATS_URLS: 'nats://n1:4222,nats://n2:4222', AUTH_SECRET: 'x'.repeat(32) };

describe('server configuration', () => {
  it('parses a minimal environment with defaults', () => {
    const c = loadConfig(base);
    assert.equal(c.serverId, 'ws-1');
    assert.equal(c.port, 8080);
    assert.deepEqual(c.nats.servers, ['nats://n1:4222', 'nats://n2:4222']);
    assert.equal(c.auth.allowDevUser, false);
    assert.equal(c.timing.drainWindowMs, 5000);
    assert.ok(c.timing.replicaDeadAfterMs < 10_000, 'dead replicas are noticed within 10 s');
  });

  it('names each bad variable and what is wrong, without echoing secrets', () => {
    const bad = { ...base, SERVER_ID: 'ws.1', PORT: '70000', AUTH_SECRET: 'short-secret', MAX_CONNECTIONS: 'lots', LOG_LEVEL: 'loud' };
    assert.throws(() => loadConfig(bad), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      for (const name of ['SERVER_ID', 'PORT', 'AUTH_SECRET', 'MAX_CONNECTIONS', 'LOG_LEVEL']) assert.match(err.message, new RegExp(`${name}:`));
      assert.match(err.message, /PORT: .*"70000"/);
      assert.doesNotMatch(err.message, /short-secret/);
      return true;
    });
  });

  it('reports missing required variables as missing', () => {
    assert.throws(() => loadConfig({}), /SERVER_ID: .*missing[\s\S]*NATS_URLS: .*missing[\s\S]*AUTH_SECRET: .*missing/);
  });

  it('rejects NATS URLs that are not nats://host:port', () => {
    assert.throws(() => loadConfig({ ...base, NATS_URLS: 'http://x:1' }), /NATS_URLS/);
    assert.throws(() => loadConfig({ ...base, NATS_URLS: ' , ' }), /NATS_URLS/);
  });

  it('needs NATS_USER and NATS_PASSWORD together', () => {
    assert.throws(() => loadConfig({ ...base, NATS_USER: 'u' }), /NATS_USER and NATS_PASSWORD/);
    assert.equal(loadConfig({ ...base, NATS_USER: 'u', NATS_PASSWORD: 'p' }).nats.user, 'u');
  });

  it('reads the dev switch only from an explicit boolean', () => {
    assert.equal(loadConfig({ ...base, AUTH_ALLOW_DEV_USER: 'true' }).auth.allowDevUser, true);
    assert.throws(() => loadConfig({ ...base, AUTH_ALLOW_DEV_USER: 'maybe' }), /AUTH_ALLOW_DEV_USER/);
  });
});
