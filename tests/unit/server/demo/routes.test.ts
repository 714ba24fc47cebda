/**
 * The demo's HTTP routes (server/src/demo) on a real HTTP server: static assets with ETag and
 * Cache-Control, /fleet, and /dev/token on and off.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { verifyToken } from '../../../../server/src/auth.js';
import { DemoConfigError, parseDevTokens } from '../../../../server/src/demo/demo-config.js';
import type { FleetSource } from '../../../../server/src/demo/fleet-view.js';
import { createDemoRoutes } from '../../../../server/src/demo/routes.js';
import { Metrics } from '../../../../server/src/metrics.js';

const secret = new TextEncoder().encode('demo-routes-test-secret-0123456789abcdef');
const dir = mkdtempSync(join(tmpdir(), 'wsf-demo-'));
writeFileSync(join(dir, 'fleet-client.js'), 'export class FleetClient {}\n');
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>demo</title>\n');

async function serve(devTokens: string | undefined, fleet?: FleetSource): Promise<{ url: string; server: Server }> {
  const metrics = new Metrics('r9');
  metrics.connections.set(3);
  const routes = createDemoRoutes({
    config: { serverId: 'r9', auth: { secret, allowDevUser: false, maxLifetimeSec: 86_400, refreshWindowMs: 10_000 }, nats: { servers: ['nats://127.0.0.1:1'] } },
    log: pino({ level: 'silent' }),
    metrics,
    devTokens,
    assetDirs: [join(dir, 'absent'), dir],
    fleet,
  });
  const server = createServer((req, res) => {
    if (!routes(req, res)) {
      res.writeHead(418);
      res.end();
    }
  });
  await new Promise<void>((r) => { server.listen(0, '127.0.0.1', r); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('demo routes', () => {
  let on: { url: string; server: Server };
  let off: { url: string; server: Server };
  before(async () => {
    on = await serve('true');
    off = await serve(undefined);
  });
  after(() => {
    on.server.close();
    off.server.close();
  });

  it('serves /client.js with an ETag and Cache-Control, and 304 for a matching If-None-Match', async () => {
    const res = await fetch(`${on.url}/client.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
    const etag = res.headers.get('etag') ?? assert.fail('no etag');
    assert.equal(await res.text(), 'export class FleetClient {}\n');
    const again = await fetch(`${on.url}/client.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const other = await fetch(`${on.url}/client.js`, { headers: { 'if-none-match': '"nope"' } });
    assert.equal(other.status, 200);
  });

  it('serves the page at / with a content security policy; a missing asset is 404 JSON; POST is 405', async () => {
    const page = await fetch(`${on.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const css = await fetch(`${on.url}/demo.css`);
    assert.equal(css.status, 404);
    assert.equal(((await css.json()) as { error: string }).error, 'not_built');
    assert.equal((await fetch(`${on.url}/client.js`, { method: 'POST' })).status, 405);
  });

  it('leaves other paths to the server', async () => {
    assert.equal((await fetch(`${on.url}/healthz`)).status, 418);
  });

  it('GET /fleet: this replica with its connections, and the NATS nodes probed', async () => {
    const res = await fetch(`${on.url}/fleet`);
    assert.equal(res.status, 200);
    const view = (await res.json()) as { server: string; source: string; replicas: { id: string; connections: number; self?: boolean }[]; nats: { nodes: { node: string; up: boolean }[] } };
    assert.equal(view.server, 'r9');
    assert.equal(view.source, 'self');
    assert.deepEqual(view.replicas.map((r) => [r.id, r.connections, r.self]), [['r9', 3, true]]);
    assert.deepEqual(view.nats.nodes, [{ node: '127.0.0.1:1', up: false }]);
  });

  it("GET /fleet with a heartbeat source: every live replica in one answer, this one's numbers its own", async () => {
    const withFleet = await serve(undefined, () => [
      { id: 'r2', connections: 5, messagesInPerSec: 1.5, messagesOutPerSec: 2, ageMs: 800 },
      { id: 'r9', connections: 99, messagesInPerSec: 0, messagesOutPerSec: 0, ageMs: 1500 },
    ]);
    try {
      const view = (await (await fetch(`${withFleet.url}/fleet`)).json()) as { source: string; replicas: { id: string; connections: number; ageMs: number; self?: boolean }[] };
      assert.equal(view.source, 'heartbeats');
      assert.deepEqual(view.replicas.map((r) => [r.id, r.connections, r.ageMs, r.self ?? false]), [['r2', 5, 800, false], ['r9', 3, 0, true]]);
    } finally {
      withFleet.server.close();
    }
  });

  it('POST /dev/token mints a token the server accepts (DEV_TOKENS=true)', async () => {
    const res = await fetch(`${on.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'anne' }) });
    assert.equal(res.status, 200);
    const { token } = (await res.json()) as { token: string };
    assert.equal(verifyToken(token, { secret, allowDevUser: false, maxLifetimeSec: 86_400 }).userId, 'anne');
  });

  it('POST /dev/token refuses bad input with 4xx JSON', async () => {
    const post = (body: string, type = 'application/json'): Promise<Response> => fetch(`${on.url}/dev/token`, { method: 'POST', headers: { 'content-type': type }, body });
    const bad = await post(JSON.stringify({ user: 'not a name!' }));
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /field "user"/);
    assert.equal((await post('{')).status, 400);
    assert.equal((await post('x'.repeat(5000))).status, 413);
    assert.equal((await post('{}', 'text/plain')).status, 415);
    assert.equal((await fetch(`${on.url}/dev/token`)).status, 405);
  });

  it('POST /dev/token is 404 JSON when DEV_TOKENS is not on', async () => {
    const res = await fetch(`${off.url}/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"anne"}' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'dev_tokens_off');
  });

  it('DEV_TOKENS is validated, naming the bad value', () => {
    assert.equal(parseDevTokens('yes'), true);
    assert.equal(parseDevTokens(undefined), false);
    assert.throws(() => parseDevTokens('maybe'), (e: unknown) => e instanceof DemoConfigError && /got "maybe"/.test(e.message));
  });
});
