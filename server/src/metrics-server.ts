/**
 * GET /metrics (Prometheus text) on its own port (METRICS_PORT), which the balancer does not
 * route: the replicas' internals are for the scraper on the fleet network, not for clients.
 */
import { createServer, type Server } from 'node:http';
import { sendJson } from './http-util.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export function createMetricsServer(metrics: Metrics, log: Logger): Server {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
      sendJson(res, 404, { error: 'not_found', message: 'this port serves GET /metrics only' });
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics collection failed');
        sendJson(res, 500, { error: 'internal' });
      },
    );
  });
  server.on('clientError', (_err, socket) => { socket.destroy(); });
  return server;
}
