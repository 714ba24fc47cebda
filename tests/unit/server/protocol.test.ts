import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientFrame } from '../../../server/src/protocol.js';
import { jsonDepth } from '../../../server/src/json-limits.js';
import { canonicalRoom, parseRoom } from '../../../server/src/rooms.js';
import { isValidToken, parsePresenceKey, presenceKey, roomToken, subjects } from '../../../server/src/subjects.js';

describe('client frame parsing', () => {
  it('accepts each frame type', () => {
    for (const frame of [
      { type: 'send', to: 'bob', data: { a: 1 }, id: 'x' },
      { type: 'send', to: 'bob', data: null },
      { type: 'join', room: 'lobby' },
      { type: 'leave', room: 'lobby', id: 3 },
      { type: 'publish', room: 'lobby', data: [1, 2] },
      { type: 'broadcast', data: 'hi' },
      { type: 'ping' },
      { type: 'resume', after: 4, epoch: 'Qm9-x_1' },
      { type: 'join', room: 'lobby', after: 2, epoch: 'Qm9-x_1' },
    ]) {
      const r = parseClientFrame(JSON.stringify(frame));
      assert.ok(r.ok, JSON.stringify(frame));
      assert.equal(r.frame.type, frame.type);
    }
  });

  it('turns bad input into error codes, keeping the client id', () => {
    assert.deepEqual(parseClientFrame('{').ok, false);
    const cases: [string, string][] = [
      ['{', 'bad_json'],
      ['"text"', 'bad_frame'],
      ['null', 'bad_frame'],
      ['{"type":"nope","id":"q"}', 'unknown_type'],
      ['{"id":"q"}', 'unknown_type'],
      ['{"type":"send","to":"a b","data":1,"id":"q"}', 'bad_frame'],
      ['{"type":"send","to":"bob","id":"q"}', 'bad_frame'],
      ['{"type":"join","room":"a.b","id":"q"}', 'bad_frame'],
      ['{"type":"join","room":7,"id":"q"}', 'bad_frame'],
      ['{"type":"resume","after":1,"epoch":"a b","id":"q"}', 'bad_frame'],
      ['{"type":"resume","after":1,"epoch":7,"id":"q"}', 'bad_frame'],
      ['{"type":"join","room":"r","after":1,"epoch":"","id":"q"}', 'bad_frame'],
    ];
    for (const [text, code] of cases) {
      const r = parseClientFrame(text);
      assert.ok(!r.ok, text);
      assert.equal(r.code, code, text);
      if (text.includes('"id":"q"')) assert.equal(r.id, 'q', text);
    }
  });

  it('names the bad field', () => {
    const r = parseClientFrame('{"type":"publish","room":"r"}');
    assert.ok(!r.ok);
    assert.match(r.message, /publish: field "data"/);
    const epoch = parseClientFrame('{"type":"resume","after":1,"epoch":"a/b"}');
    assert.ok(!epoch.ok);
    assert.match(epoch.message, /field "epoch".*welcome's epoch/);
  });
});

describe('room names', () => {
  it('take an optional namespace, canonicalise the default one, and map to one subject token each', () => {
    assert.deepEqual(parseRoom('lobby'), { room: 'lobby', namespace: 'default', name: 'lobby' });
    assert.deepEqual(parseRoom('default:lobby'), { room: 'lobby', namespace: 'default', name: 'lobby' });
    assert.deepEqual(parseRoom('chat:a__b'), { room: 'chat:a__b', namespace: 'chat', name: 'a__b' });
    for (const bad of ['', ':x', 'x:', 'a:b:c', 'a.b:c', 'a__b:c', 'a_:b', 'x'.repeat(65), 'ns:x y']) assert.equal(parseRoom(bad), null, JSON.stringify(bad));
    const tokens = new Set(['a:_b', 'a:b', 'a-:b', 'a:b_', 'ab', 'a__b', '_a:b'].map((r) => roomToken(canonicalRoom(r))));
    assert.equal(tokens.size, 7, 'distinct rooms never share a subject token');
  });

  it('are refused in frames when malformed, and canonical when accepted', () => {
    const r = parseClientFrame('{"type":"join","room":"default:lobby"}');
    assert.ok(r.ok && r.frame.type === 'join' && r.frame.room === 'lobby');
    const bad = parseClientFrame('{"type":"join","room":"a__b:c"}');
    assert.ok(!bad.ok && bad.code === 'bad_frame');
  });
});

describe('JSON depth', () => {
  it('counts nesting outside strings, without recursion', () => {
    assert.equal(jsonDepth('1'), 0);
    assert.equal(jsonDepth('{"a":[1,{"b":2}]}'), 3);
    assert.equal(jsonDepth('"[[[[{{{{"'), 0);
    assert.equal(jsonDepth('"\\"'), 0);
    assert.equal(jsonDepth(String.raw`["\\\"[[["]`), 1);
    assert.equal(jsonDepth('['.repeat(1_000_000)), 1_000_000);
  });

  it('answers frames nested deeper than the limit bad_frame', () => {
    const deep = `{"type":"send","to":"b","data":${'['.repeat(33)}${']'.repeat(33)}}`;
    const r = parseClientFrame(deep, 32);
    assert.ok(!r.ok && r.code === 'bad_frame' && /deeper/.test(r.message));
    assert.ok(parseClientFrame(`{"type":"send","to":"b","data":${'['.repeat(30)}${']'.repeat(30)}}`, 32).ok);
    const huge = parseClientFrame(`{"type":"send","to":"b","data":${'['.repeat(100_000)}`, 32);
    assert.ok(!huge.ok && huge.code === 'bad_frame');
  });
});

describe('subject tokens', () => {
  it('never let ".", "*", ">" or whitespace into a subject', () => {
    for (const bad of ['a.b', '*', '>', 'a b', 'a\tb', 'a\nb', '', 'x'.repeat(65), 'ü']) assert.equal(isValidToken(bad), false, JSON.stringify(bad));
    for (const good of ['a', 'Bob_1', 'x-y', 'x'.repeat(64)]) assert.equal(isValidToken(good), true, good);
  });

  it('build and parse presence keys and subjects', () => {
    assert.equal(subjects.server('ws-1'), 'server.ws-1');
    assert.equal(subjects.room('lobby'), 'room.default__lobby');
    assert.equal(subjects.roomLog('chat:lobby'), 'roomlog.chat__lobby');
    assert.deepEqual(parsePresenceKey(presenceKey('bob', 'ws-2')), { userId: 'bob', serverId: 'ws-2' });
    assert.equal(parsePresenceKey('a.b.c'), null);
    assert.equal(parsePresenceKey('nodot'), null);
  });
});
