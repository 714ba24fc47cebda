/**
 * Property-based fuzz against real processes (1 NATS node, 2 replicas): arbitrary HTTP requests —
 * methods, paths with stray percent-encodings, headers, bodies that are JSON, nearly JSON or not at
 * all, with and without a token — and arbitrary WebSocket text frames. For every input the answer is
 * below 500 and no replica crashes; afterwards a normal client on the fuzzed replica still gets a room
 * message and a direct message published from the other replica, so its NATS reader is alive.
 * The case count is bounded (a few hundred requests and frames, paced under the frame rate limit; well under a minute).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startProcessFleet, type ProcessFleet } from '../support/fleet-processes.js';
import type { Replica } from '../support/replica.js';
import { TEST_SECRET, signToken } from '../support/tokens.js';
import { connectClient, type TestClient } from '../support/ws-client.js';
import { waitFor } from '../support/ports.js';

let fleet: ProcessFleet;
let fuzzed: Replica;
let other: Replica;
const open: TestClient[] = [];

const segment = fc.oneof(
  fc.constantFrom('send', 'rooms', 'publish', 'broadcast', 'healthz', 'readyz', 'metrics', 'ws', 'fleet', 'dev', 'token', 'client.js', '%ZZ', '%', '%E0%A4%A', '..', 'chat:lobby', ''),
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
);
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`);
const body = fc.oneof(
  fc.json({ maxDepth: 5 }),
  fc.string({ maxLength: 200 }),
  fc.record({ to: fc.string({ maxLength: 70 }), data: fc.jsonValue({ maxDepth: 3 }), from: fc.string({ maxLength: 10 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.integer({ min: 33, max: 3000 }).map((d) => `{"data":${'['.repeat(d)}1${']'.repeat(d)}}`),
);
const auth = fc.oneof(
  fc.constant(undefined),
  fc.constant(`Bearer ${signToken(TEST_SECRET, 'fuzzer')}`),
  fc.constant('ApiKey wrong-key'),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
  path,
  query: fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }).map((q) => `?${encodeURIComponent(q)}=%ZZ`)),
  body,
  auth,
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
});

describe('fuzz: no client input gets a 5xx, crashes a replica or stalls its NATS reader', { timeout: 120_000 }, () => {
  before(async () => {
    fleet = await startProcessFleet(2, {}, { natsNodes: 1 });
    const [a, b] = fleet.replicas;
    assert.ok(a && b);
    fuzzed = a;
    other = b;
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await fleet.stop();
  });

  it('arbitrary HTTP requests are answered below 500', async () => {
    const seen: number[] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.auth !== undefined) headers.authorization = r.auth;
        if (r.contentType !== '') headers['content-type'] = r.contentType;
        const withBody = r.method !== 'GET' && r.method !== 'OPTIONS';
        const res = await fetch(`${fuzzed.url}${r.path}${r.query}`, { method: r.method, headers, ...(withBody ? { body: r.body } : {}) });
        await res.arrayBuffer();
        seen.push(res.status);
        assert.ok(res.status < 500, `${r.method} ${r.path}${r.query} → ${res.status}`);
      }),
      { numRuns: 300 },
    );
    assert.ok(seen.some((s) => s >= 400), 'the generator reached refusals');
  });

  it('arbitrary WebSocket text frames get error frames, never a dead connection or replica', async () => {
    const c = await connectClient(`${fuzzed.url.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${signToken(TEST_SECRET, 'wsfuzz')}` } });
    open.push(c);
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 5 }),
      fc.record({ type: fc.constantFrom('send', 'join', 'leave', 'publish', 'resume', 'refresh', 'ping', 'broadcast'), to: fc.string({ maxLength: 70 }), room: fc.string({ maxLength: 70 }), after: fc.oneof(fc.integer(), fc.double()), data: fc.jsonValue({ maxDepth: 3 }), token: fc.string({ maxLength: 30 }) }, { requiredKeys: ['type'] }).map((o) => JSON.stringify(o)),
    );
    await fc.assert(fc.asyncProperty(frame, async (text) => { c.sendRaw(text); await new Promise((r) => setTimeout(r, 25)); }), { numRuns: 300 });
    const answer = await c.request({ type: 'leave', room: 'never_joined' });
    assert.equal(answer.type, 'ack', 'the fuzzed connection still answers');
  });

  it('afterwards the fuzzed replica still delivers a room message and a direct message from the other replica', async () => {
    const member = await connectClient(`${fuzzed.url.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${signToken(TEST_SECRET, 'after_rcv')}` } });
    const poster = await connectClient(`${other.url.replace('http', 'ws')}/ws`, { headers: { authorization: `Bearer ${signToken(TEST_SECRET, 'after_snd')}` } });
    open.push(member, poster);
    assert.equal((await member.request({ type: 'join', room: 'after_fuzz' })).type, 'ack');
    assert.equal((await poster.request({ type: 'join', room: 'after_fuzz' })).type, 'ack');
    assert.equal((await poster.request({ type: 'publish', room: 'after_fuzz', data: 'room ok' })).type, 'ack');
    assert.equal((await poster.request({ type: 'send', to: 'after_rcv', data: 'direct ok' })).type, 'ack');
    await waitFor('both messages', () => member.frames.filter((f) => f.type === 'message').length >= 2, 10_000);
    assert.deepEqual(member.frames.filter((f) => f.type === 'message').map((f) => f.data).sort(), ['direct ok', 'room ok']);
  });
});
