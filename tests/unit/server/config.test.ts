import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../server/src/config.js';

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

  it('DIRECT_DELIVERY: durable by default, volatile on request, anything else named', () => {
    assert.equal(loadConfig(base).directDelivery, 'durable');
    assert.equal(loadConfig({ ...base, DIRECT_DELIVERY: 'volatile' }).directDelivery, 'volatile');
    assert.throws(() => loadConfig({ ...base, DIRECT_DELIVERY: 'fast' }), /DIRECT_DELIVERY: .*"fast"/);
  });

  it('SERVER_ENV_JSON carries the other variables as one JSON object; a variable set on its own wins; bad bundles are named', () => {
    const bundle = JSON.stringify({ SERVER_ID: 'ws-7', NATS_URLS: 'nats://n1:4222', AUTH_SECRET: 'y'.repeat(32), DRAIN_WINDOW_MS: '1200' });
    const c = loadConfig({ SERVER_ENV_JSON: bundle, DRAIN_WINDOW_MS: '900' });
    assert.equal(c.serverId, 'ws-7');
    assert.deepEqual(c.nats.servers, ['nats://n1:4222']);
    assert.equal(c.timing.drainWindowMs, 900, 'the variable of its own wins');
    assert.throws(() => loadConfig({ ...base, SERVER_ENV_JSON: '{nope' }), /SERVER_ENV_JSON: must be a JSON object/);
    assert.throws(() => loadConfig({ ...base, SERVER_ENV_JSON: '[1]' }), /SERVER_ENV_JSON: must be a JSON object/);
    assert.throws(() => loadConfig({ ...base, SERVER_ENV_JSON: '{"PORT":8080}' }), /SERVER_ENV_JSON: PORT must be a string \(got number\)/);
    assert.throws(() => loadConfig({ SERVER_ENV_JSON: JSON.stringify({ SERVER_ID: 'ws.1', NATS_URLS: 'nats://n:1', AUTH_SECRET: 'z'.repeat(32) }) }), /SERVER_ID: .*"ws.1"/, 'a bad bundled value is named like any other');
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

  it('parses NAMESPACES and names the bad namespace and field', () => {
    assert.equal(loadConfig(base).namespaces.size, 0, 'nothing configured: everything denied');
    const ns = { chat: { join: 'grant', history: 'grant', publish: 'members', keepHistory: true, historyMaxAgeSec: 60, historyMaxMsgs: 100 } };
    assert.equal(loadConfig({ ...base, NAMESPACES: JSON.stringify(ns) }).namespaces.get('chat')?.join, 'grant');
    assert.throws(() => loadConfig({ ...base, NAMESPACES: '{nope' }), /NAMESPACES: must be a JSON object/);
    assert.throws(() => loadConfig({ ...base, NAMESPACES: JSON.stringify({ chat: { ...ns.chat, join: 'anyone' } }) }), /NAMESPACES: chat\.join/);
    assert.throws(() => loadConfig({ ...base, NAMESPACES: JSON.stringify({ chat: { ...ns.chat, extra: 1 } }) }), /NAMESPACES: chat/);
    assert.throws(() => loadConfig({ ...base, NAMESPACES: JSON.stringify({ 'a__b': ns.chat }) }), /namespace "a__b"/);
  });

  it('keeps metrics off the public port and the server key apart from the token secret', () => {
    assert.equal(loadConfig(base).metrics.port, 9091);
    assert.throws(() => loadConfig({ ...base, PORT: '9000', METRICS_PORT: '9000' }), /METRICS_PORT/);
    assert.throws(() => loadConfig({ ...base, SERVER_API_KEY: base.AUTH_SECRET }), /SERVER_API_KEY must differ/);
    assert.throws(() => loadConfig({ ...base, SERVER_API_KEY: 'short-key' }), (err: unknown) => err instanceof ConfigError && /SERVER_API_KEY/.test(err.message) && !err.message.includes('short-key'));
  });

  it('has the connection, payload and rate limits with their defaults', () => {
    const c = loadConfig(base);
    assert.deepEqual(
      [c.limits.maxRoomsPerConnection, c.limits.maxConnectionsPerUser, c.limits.maxJsonDepth, c.auth.refreshWindowMs, c.auth.maxLifetimeSec],
      [128, 16, 32, 10_000, 86_400],
    );
    assert.equal(c.limits.userRatePerSec, c.limits.ratePerSec, 'the per-user rate defaults to the per-connection one');
  });

  it('keeps an hour of history in 1 GiB per stream by default', () => {
    const c = loadConfig(base);
    assert.deepEqual([c.history.maxAgeSec, c.history.maxBytes], [3600, 1024 ** 3]);
  });
});
