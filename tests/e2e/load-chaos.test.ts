/**
 * The short chaos run of the project's load runner against the stack the end-to-end tests deploy
 * (the Fleet helper, same sizing as fleet.test.ts, prefix wsf-chaos, OS-chosen ports), through
 * `npm run load -- chaos` exactly as a user runs it: under soak traffic and the jitter profile, a
 * replica SIGKILL, a NATS node kill and restart, a 20 s NATS partition, scale 3 → 5 → 2 and a
 * rolling deploy of a changed server build. Every chaos threshold (load/scenarios.js) is asserted
 * from its summary.json, except the open defects NOT_YET_HELD names; the smoke and soak runs are in
 * load.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertReport, describeRun, loadRunFleet, readSummary, resultsDir, value } from '../support/load-run.js';

const PREFIX = 'wsf-chaos';
/** ~5.5 min of run: 10 s ramp, 285 s of traffic (the memory check's window after the last event included), 20 s grace. */
// The partition comes ~50 s after the killed NATS node is back: 14 s after it (the first plan), that node was still
// catching up the inbox stream, so cutting off a second node left the stream without a quorum (docs/chaos.md).
export const CI_CHAOS_PLAN = '10s=crash-replica:1,30s=kill-nats:2:10s,55s=scale:5,90s=partition-nats:3:20s,115s=scale:2,145s=rolling';

/**
 * Chaos thresholds (load/scenarios.js, unchanged) that this fleet does not hold yet on the 2-core CI box, each
 * with the cause measured in docs/chaos.md. The test fails on any other threshold, on a failed event and on
 * a threshold that was not measured; a listed threshold that holds is simply a pass.
 */
const NOT_YET_HELD: Record<string, string> = {
  'ack_latency p(99)<=3000': 'a SIGKILLed NATS node or a partition leaves a JetStream stream without a leader for 6-7 s (nats-server elects a new one after a random 4-9 s: minElectionTimeoutDefault and maxElectionTimeoutDefault in server/raft.go, not configurable), and the replicas on a cut-off node wait 3-4.5 s for their pings to fail: no store can be acknowledged meanwhile (session 6: 1.22 s, 3.36 s, 2.95 s in three runs; the NATS kill window 7.98 s in the second; session 7: 3.32 s, kill window 4.31 s, partition window 5.05 s; session 11: held at 2.89 s, kill window 1.61 s, partition window 6.22 s, the election after the heal: the cut-off node comes back with a higher raft term)',
  'replay_time p(99)<=1000': 'the same seconds: held in session 6\'s third run (559 ms) after route pings of 2 s and 1 s page reads (5.31 s before: nats.js waits 5 s for a direct-get batch routed to a cut-off node), crossed in the second (1.11 s; partition window 3.86 s)',
};

void describe("e2e: the load runner's chaos scenario against the e2e fleet", { timeout: 20 * 60_000 }, () => {
  const { load } = loadRunFleet(PREFIX, 'chaos e2e');

  void it('chaos: replica SIGKILL, NATS kill, NATS partition, scale 3 → 5 → 2, rolling deploy, jitter: every threshold holds except the open defects listed by name in NOT_YET_HELD (docs/chaos.md)', async () => {
    const r = await load(['chaos', '--duration', '285s', '--users', '200', '--rate', '60', '--ramp', '10s', '--no-restore', '--label', 'ci',
      '--chaos-plan', CI_CHAOS_PLAN], 12 * 60_000);
    const dir = resultsDir(r);
    // The workers' own account of each lost or repeated message (kind, users, when sent and acked), for the CI log.
    for (const line of `${r.stdout}\n${r.stderr}`.split('\n')) if (/worker \d+: (lost|duplicate): /.test(line)) console.log(`chaos: ${line.trim()}`);
    const s = readSummary(dir);
    assert.deepEqual(s.events.map((e) => [e.label, e.ok]), [
      ['SIGKILL replica ws-1', true], ['docker kill nats-2, start after 10 s', true], ['scale to 5', true],
      ['partition nats-3 for 20 s', true], ['scale to 2', true], ['rolling deploy', true],
    ], describeRun(r, dir));
    assert.ok(value(s, 'jitter_drops', 'count') > 0, 'the jitter profile dropped no socket');
    assert.ok(value(s, 'replay_time', 'count') > 0, 'no replay was measured');
    assert.deepEqual(s.problems, [], describeRun(r, dir));
    const failed = s.thresholds.filter((t) => !t.ok);
    for (const t of failed) console.log(`chaos: threshold not held (known, docs/chaos.md): ${t.label}, actual ${String(t.actual)}: ${NOT_YET_HELD[t.label] ?? 'NOT KNOWN'}`);
    assert.deepEqual(failed.map((t) => t.label).filter((l) => NOT_YET_HELD[l] === undefined), [], describeRun(r, dir));
    for (const t of failed) assert.notEqual(t.actual, null, `${t.label} was not measured: ${describeRun(r, dir)}`);
    // The thresholds stay as they are: the runner still exits 99 when one of the known ones is crossed.
    assert.equal(r.code, failed.length === 0 ? 0 : 99, describeRun(r, dir));
    assertReport(dir);
  });
});
