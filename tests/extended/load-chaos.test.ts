/**
 * Nothing lost or doubled under chaos: the project's load runner (`npm run load -- chaos`, as a user
 * runs it) against a fleet deployed like the end-to-end tests' (prefix wsf-chaos, OS-chosen ports) through
 * a replica SIGKILL, a NATS node kill and restart, a NATS partition, scale 3 → 5 → 2 and the jitter
 * profile. The thresholds (load/scenarios.js) are asserted from its summary.json.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertReport, loadRunFleet, describeRun, readSummary, resultsDir, value } from '../support/load-run.js';

const PREFIX = 'wsf-chaos';
void describe('e2e: the load runner against the e2e fleet', { timeout: 16 * 60_000 }, () => {
  const { load } = loadRunFleet(PREFIX, 'load e2e');

  void it('chaos: replica SIGKILL, NATS kill, NATS partition, scale 3 → 5 → 2, jitter: nothing lost or doubled', async () => {
    // Short CI plan (the default plan needs 270 s of traffic): ~5 min in all.
    const r = await load(['chaos', '--duration', '200s', '--users', '200', '--rate', '60', '--ramp', '10s', '--no-restore', '--label', 'ci',
      '--chaos-plan', '10s=crash-replica:1,30s=kill-nats:2:10s,55s=partition-nats:3:20s,85s=scale:5,125s=scale:2'], 9 * 60_000);
    const dir = resultsDir(r);
    const s = readSummary(dir);
    assert.deepEqual(s.events.map((e) => e.ok), [true, true, true, true, true], describeRun(r, dir));
    for (const label of ['messages_lost count==0', 'messages_duplicated count==0', 'ws_reconnect_incomplete count==0']) {
      assert.ok(s.thresholds.find((t) => t.label === label)?.ok, `${label}: ${describeRun(r, dir)}`);
    }
    assert.ok(value(s, 'jitter_drops', 'count') > 0, 'the jitter profile dropped no socket');
    assert.equal(r.code, 0, describeRun(r, dir));
    assertReport(dir);
  });
});
