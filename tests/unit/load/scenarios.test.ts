/**
 * load/scenarios.js: the parameters and thresholds both the k6 scripts and the runner use. The k6
 * side is checked through k6/lib/config.js (it only imports the shared module, so Node can load it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { balancerWsUrl, ConfigError, evaluateThresholds, k6Thresholds, loadParams, parseScalePlan, thresholdsFor } from '../../../load/scenarios.js';
import { loadConfig } from '../../../k6/lib/config.js';

const SECRET = 'x'.repeat(40);

void describe('load scenarios', () => {
  void it('defaults per scenario, overridden by WSFLEET_* values', () => {
    const smoke = loadParams('smoke', {});
    assert.equal(smoke.users, 50);
    assert.equal(smoke.durationMs, 30_000);
    const soak = loadParams('soak', { WSFLEET_DURATION: '3m', WSFLEET_USERS: '500' });
    assert.equal(soak.durationMs, 180_000);
    assert.equal(soak.users, 500);
    assert.equal(soak.memoryCheck, true);
    assert.equal(loadParams('scale', {}).scalePlan, '60s=5,180s=2');
  });

  void it('bad values are refused with the variable and the value named', () => {
    assert.throws(() => loadParams('soak', { WSFLEET_USERS: '1e9' }), (e: unknown) => e instanceof ConfigError && e.message.includes('WSFLEET_USERS="1e9"'));
    assert.throws(() => loadParams('soak', { WSFLEET_DURATION: 'ten' }), /WSFLEET_DURATION="ten": not a duration/);
    assert.throws(() => loadParams('soak', { WSFLEET_USERS: '21', WSFLEET_USERS_PER_VU: '10' }), /group of one user/);
    assert.throws(() => loadParams('smoke', { WSFLEET_SCALE_PLAN: '10s=2' }), /smoke takes no scale plan/);
    assert.throws(() => loadParams('nope', {}), /must be smoke, soak, scale or chaos/);
    assert.throws(() => parseScalePlan('60s=5,30s=2'), /times must increase/);
    assert.deepEqual(parseScalePlan('40s=2'), [{ atMs: 40_000, replicas: 2 }]);
  });

  void it('only 127.0.0.1 is a target', () => {
    assert.equal(balancerWsUrl('http://127.0.0.1:8080'), 'ws://127.0.0.1:8080/ws');
    for (const bad of ['http://localhost:8080', 'http://10.0.0.1:80', 'ws://127.0.0.1.evil.com/ws', 'http://[::1]:80']) {
      assert.throws(() => balancerWsUrl(bad), ConfigError, bad);
    }
  });

  void it('the k6 scripts read the same parameters and thresholds', () => {
    const cfg = loadConfig({ WSFLEET_AUTH_SECRET: SECRET, WSFLEET_BALANCER_URL: 'http://127.0.0.1:9000', WSFLEET_RATE: '42' }, 'smoke');
    assert.equal(cfg.rate, 42);
    assert.equal(cfg.vus, 5);
    const k6 = k6Thresholds(thresholdsFor(cfg.params));
    assert.deepEqual(k6.messages_lost, ['count==0']);
    assert.deepEqual(k6.e2e_latency, ['p(99)<500']);
    // Runner-only metrics never reach k6 (it would refuse a threshold on a metric it does not have).
    assert.equal(k6Thresholds(thresholdsFor(loadParams('soak', {}))).replica_memory_growth, undefined);
  });

  void it('thresholds are evaluated against a summary, and an unmeasured statistic fails', () => {
    const list = thresholdsFor(loadParams('chaos', {}));
    const results = evaluateThresholds(list, {
      messages_acked: { values: { count: 10 } },
      messages_received: { values: { count: 10 } },
      ack_latency: { values: { 'p(99)': 3500 } },
      replica_memory_growth: { values: { max: 0.01 } },
    });
    const byLabel = Object.fromEntries(results.map((r) => [r.label, r.ok]));
    assert.equal(byLabel['messages_lost count==0'], true);
    assert.equal(byLabel['ack_latency p(99)<=3000'], false);
    assert.equal(byLabel['replay_time p(99)<=1000'], false, 'no replay measured: not a pass');
    assert.equal(byLabel['replica_memory_growth max<0.1'], true);
  });
});
