import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientFrame } from '../../server/src/protocol.js';
import { isValidToken, parsePresenceKey, presenceKey, subjects } from '../../server/src/subjects.js';

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
  });
});

describe('subject tokens', () => {
  it('never let ".", "*", ">" or whitespace into a subject', () => {
    for (const bad of ['a.b', '*', '>', 'a b', 'a\tb', 'a\nb', '', 'x'.repeat(65), 'ü']) assert.equal(isValidToken(bad), false, JSON.stringify(bad));
    for (const good of ['a', 'Bob_1', 'x-y', 'x'.repeat(64)]) assert.equal(isValidToken(good), true, good);
  });

  it('build and parse presence keys and subjects', () => {
    assert.equal(subjects.server('ws-1'), 'server.ws-1');
    assert.equal(subjects.room('lobby'), 'room.lobby');
    assert.deepEqual(parsePresenceKey(presenceKey('bob', 'ws-2')), { userId: 'bob', serverId: 'ws-2' });
    assert.equal(parsePresenceKey('a.b.c'), null);
    assert.equal(parsePresenceKey('nodot'), null);
  });
});
