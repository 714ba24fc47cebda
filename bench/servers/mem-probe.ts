/**
 * Preloaded (`node --expose-gc --import mem-probe.mjs <server>`) into the processes whose memory the
 * bench compares, the replica and the bare ws server alike, so both are measured the same way:
 * GET http://127.0.0.1:$BENCH_PROBE_PORT/mem runs a full GC and answers process.memoryUsage().
 * It never touches the server's own port or code.
 */
import { createServer } from 'node:http';

const port = Number(process.env.BENCH_PROBE_PORT ?? '0');
if (port > 0) {
  const gc = (globalThis as { gc?: () => void }).gc;
  const server = createServer((req, res) => {
    if (req.url !== '/mem') {
      res.writeHead(404).end();
      return;
    }
    // Two passes: the first may only move objects to old space; weak callbacks run in between.
    gc?.();
    setTimeout(() => {
      gc?.();
      const m = process.memoryUsage();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...m, gcForced: gc !== undefined }));
    }, 50);
  });
  server.listen(port, '127.0.0.1');
  server.unref();
}
