/**
 * The demo's HTTP routes, on the replicas' public port: GET / (the demo page), GET /client.js (the
 * client library's browser bundle), GET /demo.js and /demo.css, GET /fleet (JSON for the fleet
 * panel), POST /dev/token (only with DEV_TOKENS=true). `createDemoRoutes(deps)` returns a handler
 * that answers these and returns true, or returns false for any other path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { BodyError, sendJson } from '../http-util.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { ASSET_PATHS, loadAssets, notModified, type Asset } from './assets.js';
import { parseDevTokens } from './demo-config.js';
import { devTokenHandler } from './dev-token.js';
import { LoadMeter } from '../replica-load.js';
import { FleetViewer, type FleetSource } from './fleet-view.js';

export interface DemoDeps {
  config: Pick<Config, 'serverId' | 'auth' | 'nats'>;
  log: Logger;
  metrics: Metrics;
  /** The other replicas' numbers (from heartbeats); without it /fleet shows this replica only. */
  fleet?: FleetSource | undefined;
  /** This replica's numbers (default: a meter of its own on `metrics`). */
  load?: LoadMeter | undefined;
  /** DEV_TOKENS as given (default: process.env.DEV_TOKENS). */
  devTokens?: string | undefined;
  /** Where the built assets are (default: beside the server bundle, else client/dist). */
  assetDirs?: string[];
}

export type DemoRoutes = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Security headers for the page: scripts, styles and sockets from this origin only; no framing. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Builds the routes (call once, at startup): throws DemoConfigError for a bad DEV_TOKENS. */
export function createDemoRoutes(deps: DemoDeps): DemoRoutes {
  const devTokens = parseDevTokens('devTokens' in deps ? deps.devTokens : process.env.DEV_TOKENS);
  const { dir, assets } = loadAssets(deps.assetDirs);
  if (dir === undefined) deps.log.warn('demo assets not found (build them with `node client/build.mjs`): / and /client.js answer 404');
  const viewer = new FleetViewer({
    serverId: deps.config.serverId,
    metrics: deps.metrics,
    load: deps.load ?? new LoadMeter(deps.metrics),
    natsServers: deps.config.nats.servers,
    source: deps.fleet,
  });
  const devToken = devTokenHandler(devTokens, deps.config.auth.secret);

  return (req, res) => {
    const path = pathOf(req.url);
    const method = req.method ?? 'GET';
    if (ASSET_PATHS.includes(path)) {
      if (method !== 'GET' && method !== 'HEAD') {
        sendJson(res, 405, { error: 'method_not_allowed', message: `${path} takes GET` }, { allow: 'GET, HEAD' });
        return true;
      }
      const asset = assets.get(path);
      if (asset === undefined) {
        sendJson(res, 404, { error: 'not_built', message: `${path} is not built on this replica` });
        return true;
      }
      serveAsset(req, res, asset, method === 'HEAD');
      return true;
    }
    if (path === '/fleet') {
      if (method !== 'GET') {
        sendJson(res, 405, { error: 'method_not_allowed', message: '/fleet takes GET' }, { allow: 'GET' });
        return true;
      }
      viewer.view().then(
        (view) => { sendJson(res, 200, view, { 'cache-control': 'no-store' }); },
        (err: unknown) => { fail(deps, res, err, path); },
      );
      return true;
    }
    if (path === '/dev/token') {
      devToken(req, res).catch((err: unknown) => { fail(deps, res, err, path); });
      return true;
    }
    return false;
  };
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, head: boolean): void {
  const headers: Record<string, string> = { etag: asset.etag, 'cache-control': asset.cacheControl, ...PAGE_HEADERS };
  if (notModified(req.headers['if-none-match'], asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': asset.contentType, 'content-length': asset.body.length });
  res.end(head ? undefined : asset.body);
}

function fail(deps: DemoDeps, res: ServerResponse, err: unknown, path: string): void {
  if (err instanceof BodyError) {
    sendJson(res, err.status, { error: err.code, message: err.message });
    return;
  }
  deps.log.error({ err, path }, 'demo route failed');
  if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
}

/** The path of a request target; a target that is not a path (e.g. `*`) matches nothing here. */
function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}
