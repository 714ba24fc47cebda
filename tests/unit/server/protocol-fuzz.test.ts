/**
 * Property-based: whatever text a client sends, the frame parser answers — it never throws, every refusal
 * carries one of the protocol's error codes, and JSON nested past the depth limit is `bad_frame`, never
 * parsed. The generators make arbitrary strings, arbitrary JSON values, near-valid frames with one field
 * wrong, and deeply nested values; the case count is bounded (a few thousand, well under a second each).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_MAX_JSON_DEPTH, ErrorCode, parseClientFrame } from '../../../server/src/protocol.js';

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));
const TYPES = ['send', 'join', 'leave', 'publish', 'broadcast', 'ping', 'resume', 'refresh'];

function answers(text: string): void {
  const r = parseClientFrame(text);
  if (!r.ok) {
    assert.ok(CODES.has(r.code), `unknown error code ${r.code}`);
    assert.equal(typeof r.message, 'string');
  } else {
    assert.ok(TYPES.includes(r.frame.type), `parsed an unknown type ${r.frame.type}`);
  }
}

/** JSON text of a value nested `depth` levels deep, alternating arrays and objects (built as text:
 * JSON.stringify itself recurses and would overflow the stack on the deepest cases). */
function nested(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '[' : '{"k":';
    close = (i % 2 === 0 ? ']' : '}') + close;
  }
  return `${open}1${close}`;
}

describe('frame parser under arbitrary input', () => {
  it('never throws on arbitrary text (unicode, control characters, truncated JSON)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), answers), { numRuns: 2000 });
  });

  it('never throws on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), answers), { numRuns: 2000 });
  });

  it('frames with a known type and arbitrary fields are parsed or refused with a code', () => {
    const frame = fc.record({
      type: fc.constantFrom(...TYPES),
      to: fc.oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.constant(null)),
      room: fc.oneof(fc.string({ maxLength: 140 }), fc.integer(), fc.constant(null)),
      data: fc.jsonValue({ maxDepth: 4 }),
      id: fc.oneof(fc.string({ maxLength: 200 }), fc.double(), fc.constant(null)),
      after: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 20 })),
      token: fc.string({ maxLength: 100 }),
    }, { requiredKeys: ['type'] });
    fc.assert(fc.property(frame, (f) => { answers(JSON.stringify(f)); }), { numRuns: 3000 });
  });

  it('JSON nested past the limit is bad_frame wherever it sits; at the limit it is not refused for depth', () => {
    fc.assert(
      fc.property(fc.integer({ min: DEFAULT_MAX_JSON_DEPTH + 1, max: 20_000 }), fc.constantFrom('send', 'publish'), (depth, type) => {
        const r = parseClientFrame(`{"type":"${type}","to":"bob","room":"chat:r","data":${nested(depth)}}`);
        assert.equal(r.ok ? 'parsed' : r.code, ErrorCode.badFrame);
      }),
      { numRuns: 200 },
    );
    const atLimit = parseClientFrame(`{"type":"send","to":"bob","data":${nested(DEFAULT_MAX_JSON_DEPTH - 2)}}`);
    assert.equal(atLimit.ok, true, JSON.stringify(atLimit));
  });
});
