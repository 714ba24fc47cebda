import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INBOX, SubjectPositions } from '../../../client/src/positions.js';
import { ReplayTracker, type ReplayReport } from '../../../client/src/replay-tracker.js';

describe('client subject positions', () => {
  it('accepts increasing seqs per subject, drops repeats and older ones', () => {
    const p = new SubjectPositions();
    assert.equal(p.accept(INBOX, 5), true);
    assert.equal(p.accept(INBOX, 5), false);
    assert.equal(p.accept(INBOX, 3), false);
    assert.equal(p.accept(INBOX, 9), true, 'gaps are normal: a stream holds many subjects');
    assert.equal(p.accept('lobby', 2), true, 'subjects are independent');
    assert.deepEqual(p.snapshot(), { inbox: 9, rooms: { lobby: 2 } });
  });

  it('set keeps the higher position and rejects bad ones', () => {
    const p = new SubjectPositions();
    p.set('r', 10);
    p.set('r', 4);
    assert.equal(p.get('r'), 10);
    assert.throws(() => { p.set(INBOX, -1); }, /non-negative integer, got -1 for the inbox/);
    assert.throws(() => { p.set('r', 1.5); }, /room "r"/);
  });

  it('clear forgets everything (a stream reset)', () => {
    const p = new SubjectPositions();
    p.accept(INBOX, 100);
    p.clear();
    assert.equal(p.accept(INBOX, 1), true);
  });
});

describe('client replay tracker', () => {
  function tracker(settleMs = 30): { t: ReplayTracker; done: ReplayReport[]; pages: [string, number][] } {
    const done: ReplayReport[] = [];
    const pages: [string, number][] = [];
    const t = new ReplayTracker({ settleMs, onDone: (r) => done.push(r), requestPage: (s, last) => pages.push([s, last]) });
    return { t, done, pages };
  }

  it('v2: follows replayed.more paging and reports once at the tail', () => {
    const { t, done, pages } = tracker();
    t.reset(true, 0);
    t.begin('lobby');
    for (let i = 0; i < 3; i++) assert.equal(t.onMessage('lobby', 0), true);
    t.onReplayed({ room: 'lobby', last: 30, more: true, recovered: true });
    assert.deepEqual(pages, [['lobby', 30]]);
    assert.equal(done.length, 0);
    t.onMessage('lobby', 0);
    t.onReplayed({ room: 'lobby', last: 31, more: false, recovered: true });
    assert.deepEqual(done, [{ room: 'lobby', replayed: 4, recovered: true, pending: 0 }]);
    assert.equal(t.onMessage('lobby', 0), false, 'after the tail, messages are live');
  });

  it('v2: recovered:false on any page stays false', () => {
    const { t, done } = tracker();
    t.reset(true, 0);
    t.begin(INBOX);
    t.onReplayed({ last: 10, more: true, recovered: false });
    t.onReplayed({ last: 20, more: false, recovered: true });
    assert.deepEqual(done, [{ replayed: 0, recovered: false, pending: 0 }]);
  });

  it('v1: a live message (ts after the welcome) ends the replay', () => {
    const { t, done } = tracker(10_000);
    t.reset(false, 1_000);
    t.begin(INBOX);
    assert.equal(t.onMessage(INBOX, 500), true);
    assert.equal(t.onMessage(INBOX, 900), true);
    assert.equal(t.onMessage(INBOX, 1_001), false);
    assert.deepEqual(done, [{ replayed: 2, recovered: true, pending: 0 }]);
  });

  it('v1: a quiet subject ends the replay after settleMs', async () => {
    const { t, done } = tracker(20);
    t.reset(false, 1_000);
    t.begin('r');
    t.onMessage('r', 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(done, [{ room: 'r', replayed: 1, recovered: true, pending: 0 }]);
    t.stop();
  });
});
