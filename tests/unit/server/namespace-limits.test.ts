import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Access } from '../../../server/src/access.js';
import { loadConfig } from '../../../server/src/config.js';
import { StreamFullError } from '../../../server/src/history.js';
import { HistoryLimits } from '../../../server/src/history-limits.js';
import { parseNamespaces } from '../../../server/src/namespaces.js';
import { parseRoom, type RoomName } from '../../../server/src/rooms.js';
import { namespaceOfRoomLog, subjects } from '../../../server/src/subjects.js';

const policy = { join: 'authenticated', history: 'members', publish: 'members', keepHistory: true } as const;
const NAMESPACES = {
  short: { ...policy, historyMaxAgeSec: 60, historyMaxMsgs: 10_000 },
  few: { ...policy, historyMaxAgeSec: 86_400, historyMaxMsgs: 5 },
  big: { ...policy, historyMaxAgeSec: 7 * 86_400, historyMaxMsgs: 50_000, maxMembers: 2 },
};
const config = loadConfig({ SERVER_ID: 'ws-1', NATS_URLS: 'nats://n1:4222', AUTH_SECRET: 'x'.repeat(32), NAMESPACES: JSON.stringify(NAMESPACES), HISTORY_MAX_AGE_SEC: '86400' });

function room(name: string): RoomName {
  const r = parseRoom(name);
  assert.ok(r);
  return r;
}

describe('namespace limits', () => {
  it('a room history subject names its namespace; other subjects none', () => {
    assert.equal(namespaceOfRoomLog(subjects.roomLog('chat:a__b')), 'chat');
    assert.equal(namespaceOfRoomLog(subjects.roomLog('lobby')), 'default');
    assert.equal(namespaceOfRoomLog(subjects.inbox('anne')), undefined);
  });

  it('only what is stricter than the streams becomes a per-room limit; more than they keep is named at start-up', () => {
    const limits = new HistoryLimits(config);
    assert.deepEqual(limits.of(subjects.roomLog('short:r')), { ttlSec: 60 });
    assert.deepEqual(limits.of(subjects.roomLog('few:r')), { maxMsgs: 5 });
    assert.deepEqual(limits.of(subjects.roomLog('big:r')), {});
    assert.deepEqual(limits.of(subjects.inbox('few')), {}, 'an inbox has the stream\'s limits only');
    assert.deepEqual([limits.maxAgeSecOf(subjects.roomLog('short:r')), limits.maxAgeSecOf(subjects.inbox('x'))], [60, 86_400]);
    assert.deepEqual(limits.capped, ['big.historyMaxAgeSec 604800 > HISTORY_MAX_AGE_SEC 86400', 'big.historyMaxMsgs 50000 > HISTORY_MAX_MSGS_PER_USER 10000']);
  });

  it('a full room and a full recipient are told apart in the refusal', () => {
    assert.match(new StreamFullError(subjects.roomLog('few:r'), 'per_subject', 30).message, /this room/);
    assert.match(new StreamFullError(subjects.inbox('bob'), 'per_subject').message, /this recipient/);
    assert.match(new StreamFullError(subjects.inbox('bob'), 'stream').message, /store full/);
  });

  it('maxMembers refuses a join with room_full once the right to join is there', () => {
    const access = new Access(parseNamespaces(JSON.stringify(NAMESPACES)));
    const user = { kind: 'user', grants: { join: [], history: [], publish: [] }, member: false } as const;
    assert.deepEqual(access.join(user, room('big:r'), 1), { ok: true });
    const full = access.join(user, room('big:r'), 2);
    assert.ok(!full.ok);
    assert.equal(full.code, 'room_full');
    assert.deepEqual(access.join(user, room('few:r'), 1_000), { ok: true }, 'no maxMembers: no member limit');
    const unconfigured = access.join(user, room('nope:r'), 5);
    assert.ok(!unconfigured.ok);
    assert.equal(unconfigured.code, undefined, 'a namespace that is not configured is forbidden, not full');
  });
});
