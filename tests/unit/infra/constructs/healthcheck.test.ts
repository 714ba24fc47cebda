/**
 * The containers' healthcheck command, run with the real bash against a real HTTP server: healthy
 * only on a 200 status line, and unhealthy (not hanging) when nothing listens.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpHealthcheck } from '../../../../infra/constructs/healthcheck.js';

/** Runs the check as the engine does (the words after CMD), within a bound; resolves its exit code. */
function runCheck(port: number, path: string): Promise<number | null> {
  const [cmd, ...args] = httpHealthcheck(port, path).test.slice(1);
  assert.ok(cmd !== undefined);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore', timeout: 5000 });
    child.on('error', reject);
    child.on('exit', (code) => { resolve(code); });
  });
}

describe('httpHealthcheck', () => {
  let server: http.Server;
  let port = 0;
  before(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 503, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((r) => { server.listen(0, '127.0.0.1', r); });
    port = (server.address() as AddressInfo).port;
  });
  after(() => { server.close(); });

  it('is a CMD with the engine\'s timing fields', () => {
    const h = httpHealthcheck(8080, '/healthz');
    assert.equal(h.test[0], 'CMD');
    assert.ok(h.test.join(' ').includes('/dev/tcp/127.0.0.1/8080'));
    assert.deepEqual([h.interval, h.timeout, h.retries], ['5s', '3s', 3]);
  });

  it('passes on a 200', async () => {
    assert.equal(await runCheck(port, '/healthz'), 0);
  });

  it('fails on a 503', async () => {
    assert.notEqual(await runCheck(port, '/readyz'), 0);
  });

  it('fails at once when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => { closed.listen(0, '127.0.0.1', r); });
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => { closed.close(() => { r(); }); });
    assert.notEqual(await runCheck(free, '/healthz'), 0);
  });
});
