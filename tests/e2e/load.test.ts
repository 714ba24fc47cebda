/**
 * The project's load runner against the stack the end-to-end tests deploy (the Fleet helper, same
 * sizing as fleet.test.ts, prefix wsf-load, OS-chosen ports), all through `npm run load` exactly as a
 * user runs it: smoke; a 3-minute soak with a scale-down 3 → 2 (the short chaos run is in load-chaos.test.ts).
 * Each run's thresholds (load/scenarios.js) are asserted from its summary.json.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertReport, loadRunFleet, describeRun, readSummary, resultsDir, value } from '../support/load-run.js';

const PREFIX = 'wsf-load';
void describe('e2e: the load runner against the e2e fleet', { timeout: 16 * 60_000 }, () => {
  const { load } = loadRunFleet(PREFIX, 'load e2e');

  void it('smoke: 50 users, direct and room messages, every one arrives exactly once', async () => {
    const r = await load(['smoke', '--label', 'ci'], 3 * 60_000);
    const dir = resultsDir(r);
    assert.equal(r.code, 0, describeRun(r, dir));
    const s = readSummary(dir);
    assert.equal(s.thresholdsOk, true, `crossed: ${s.failedThresholds.join('; ')}`);
    const planned = (s.params.rate * s.params.durationMs) / 1000;
    assert.ok(value(s, 'messages_sent', 'count') >= 0.9 * planned, `sent ${value(s, 'messages_sent', 'count')} of ~${planned}`);
    assert.equal(value(s, 'messages_acked', 'count'), value(s, 'messages_sent', 'count'));
    assert.deepEqual(s.undeliveredByReason, {}, 'no send went unacknowledged, for any reason');
    assert.equal(value(s, 'ws_connects', 'count'), s.params.users);
    assertReport(dir);
  });

  void it('soak: 3 min with a scale-down 3 → 2: sockets come back, nothing lost, memory flat', async () => {
    const r = await load(['soak', '--duration', '3m', '--users', '300', '--rate', '80', '--ramp', '15s', '--scale-plan', '40s=2',
      '--memory-warmup', '30s', '--no-restore', '--label', 'ci'], 8 * 60_000);
    const dir = resultsDir(r);
    assert.equal(r.code, 0, describeRun(r, dir));
    const s = readSummary(dir);
    assert.equal(s.ok, true, `crossed: ${s.failedThresholds.join('; ')}; ${s.problems.join('; ')}`);
    assert.deepEqual(s.events.map((e) => [e.label, e.ok]), [['scale to 2', true]]);
    assert.ok(value(s, 'ws_reconnects', 'count') > 0, 'the scale-down dropped no socket: did it happen under load?');
    const byReason = Object.values(s.undeliveredByReason).reduce((a, b) => a + b, 0);
    assert.equal(byReason, value(s, 'messages_undelivered', 'count'), `every unacknowledged send has its reason: ${JSON.stringify(s.undeliveredByReason)}`);
    const closes = Object.entries(s.closesByCode);
    assert.equal(closes.reduce((a, [, n]) => a + n, 0), value(s, 'ws_closes_unexpected', 'count'), `every close has its code: ${JSON.stringify(s.closesByCode)}`);
    assert.ok(closes.some(([how]) => how.startsWith('1012')), `the scale-down's drain closes with 1012: ${JSON.stringify(s.closesByCode)}`);
    assert.ok(s.thresholds.some((t) => t.label.startsWith('replica_memory_growth') && t.ok), 'memory checked');
    assertReport(dir);
  });

});
