/**
 * The replica's HTTP endpoints, on the same port as /ws:
 * GET /healthz, GET /readyz, GET /metrics, POST /send, POST /rooms/<room>/publish.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AuthError, verifyToken } from './auth.js';
import type { Config } from './config.js';
import { BodyError, readJsonBody, sendJson } from './http-util.js';
import type { Logger } from './logger.js';
import type { Messaging, SendOutcome } from './messaging.js';
import type { Metrics } from './metrics.js';
import { isValidToken } from './subjects.js';
import { createDemoRoutes } from './demo/routes.js';

export interface HttpDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  messaging: () => Messaging | null;
  readiness: () => { ready: true } | { ready: false; reason: string };
}

const sendBody = z.object({
  to: z.string().refine(isValidToken, 'must be a user id of 1-64 letters, digits, "_" or "-"'),
  data: z.unknown().refine((v) => v !== undefined, 'is required'),
  from: z.string().optional(),
});
const publishBody = z.object({ data: z.unknown().refine((v) => v !== undefined, 'is required'), from: z.string().optional() });
const ROOM_PATH = /^\/rooms\/([^/]+)\/publish$/;

export function createHttpHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const demo = createDemoRoutes(deps); // GET /, /client.js, /fleet, POST /dev/token (server/src/demo)
  return (req, res) => {
    if (demo(req, res)) return;
    handle(deps, req, res).catch((err: unknown) => {
      if (err instanceof BodyError) {
        sendJson(res, err.status, { error: err.code, message: err.message });
        return;
      }
      deps.log.error({ err, path: req.url }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    });
  };
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (req.method === 'GET' && path === '/healthz') {
    sendJson(res, 200, { status: 'ok', server: deps.config.serverId });
    return;
  }
  if (req.method === 'GET' && path === '/readyz') {
    const r = deps.readiness();
    sendJson(res, r.ready ? 200 : 503, { ...r, server: deps.config.serverId });
    return;
  }
  if (req.method === 'GET' && path === '/metrics') {
    const text = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(text);
    return;
  }
  const roomMatch = ROOM_PATH.exec(path);
  if (path === '/send' || roomMatch !== null) {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method_not_allowed', message: `${path} takes POST` }, { allow: 'POST' });
      return;
    }
    await handlePost(deps, req, res, roomMatch === null ? null : decodeURIComponent(roomMatch[1] ?? ''));
    return;
  }
  sendJson(res, 404, { error: 'not_found', message: `no route for ${req.method ?? '?'} ${path}` });
}

async function handlePost(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, room: string | null): Promise<void> {
  const header = req.headers.authorization;
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (token === undefined) {
    sendJson(res, 401, { error: 'missing_token', message: 'Authorization: Bearer <token> is required' }, { 'www-authenticate': 'Bearer' });
    return;
  }
  let sender;
  try {
    sender = verifyToken(token, deps.config.auth.secret);
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    sendJson(res, 401, { error: err.code, message: err.message }, { 'www-authenticate': 'Bearer' });
    return;
  }
  if (room !== null && !isValidToken(room)) {
    sendJson(res, 400, { error: 'invalid_room', message: 'room must be 1-64 letters, digits, "_" or "-"' });
    return;
  }
  const messaging = deps.messaging();
  if (messaging === null) {
    sendJson(res, 503, { error: 'not_ready', message: 'replica is not connected to NATS yet' }, { 'retry-after': '1' });
    return;
  }
  const body = await readJsonBody(req, deps.config.limits.maxPayloadBytes);
  if (room === null) {
    const parsed = sendBody.safeParse(body);
    if (!parsed.success) {
      sendJson(res, 400, { error: 'bad_request', message: describe(parsed.error) });
      return;
    }
    deps.metrics.messages.inc({ type: 'http_send', direction: 'in' });
    const outcome = await messaging.sendDirect(sender, parsed.data.to, parsed.data.data, parsed.data.from);
    if (outcome.ok && outcome.delivered === 0 && !outcome.stored) {
      sendJson(res, 404, { error: 'not_connected', message: `user ${parsed.data.to} is not connected`, delivered: 0 });
      return;
    }
    answer(res, outcome);
    return;
  }
  const parsed = publishBody.safeParse(body);
  if (!parsed.success) {
    sendJson(res, 400, { error: 'bad_request', message: describe(parsed.error) });
    return;
  }
  deps.metrics.messages.inc({ type: 'http_publish', direction: 'in' });
  answer(res, await messaging.publishRoom(sender, room, parsed.data.data, parsed.data.from));
}

function answer(res: ServerResponse, outcome: SendOutcome): void {
  if (outcome.ok) {
    sendJson(res, 202, { delivered: outcome.delivered, stored: outcome.stored, ...(outcome.seq === undefined ? {} : { seq: outcome.seq }) });
  } else {
    sendJson(res, outcome.code === 'forbidden' ? 403 : 503, { error: outcome.code, message: outcome.message, delivered: outcome.delivered });
  }
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return `field "${issue?.path.join('.') ?? ''}" ${issue?.message ?? 'is invalid'}`;
}
