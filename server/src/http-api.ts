/**
 * The replica's public HTTP endpoints, on the same port as /ws:
 * GET /healthz, GET /readyz, POST /send, POST /rooms/<room>/publish, POST /broadcast.
 * (/metrics is on its own port: metrics-server.ts.)
 *
 * POST routes take a user token (`Authorization: Bearer …`: the same grant and rate checks as
 * WebSocket) or the server API key (`Authorization: ApiKey …`: publish anywhere configured, send
 * as anyone, broadcast). Every client mistake is a 4xx with a JSON body `{error, message}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AuthError, isServerApiKey, verifyToken } from './auth.js';
import type { Config } from './config.js';
import { BodyError, decodePathPart, parseRequestUrl, readJsonBody, sendJson } from './http-util.js';
import type { Logger } from './logger.js';
import type { Messaging, Sender, SendOutcome } from './messaging.js';
import type { Metrics } from './metrics.js';
import { ROOM_RULE, parseRoom } from './rooms.js';
import { isValidToken } from './subjects.js';
import { createDemoRoutes, type DemoDeps } from './demo/routes.js';

export interface HttpDeps extends Pick<DemoDeps, 'fleet' | 'load'> {
  config: Config;
  log: Logger;
  metrics: Metrics;
  messaging: () => Messaging | null;
  readiness: () => { ready: true } | { ready: false; reason: string };
}

const userId = z.string().refine(isValidToken, 'must be a user id of 1-64 letters, digits, "_" or "-"');
const data = z.unknown().refine((v) => v !== undefined, 'is required');
const sendBody = z.object({ to: userId, data, from: userId.optional() });
const publishBody = z.object({ data, from: userId.optional() });
const broadcastBody = z.object({ data, from: userId.optional() });
const ROOM_PATH = /^\/rooms\/([^/]+)\/publish$/;

class HttpRefusal extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export function createHttpHandler(deps: HttpDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const demo = createDemoRoutes(deps); // GET /, /client.js, /fleet, POST /dev/token (server/src/demo)
  return (req, res) => {
    if (demo(req, res)) return;
    handle(deps, req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof BodyError) {
        sendJson(res, err.status, { error: err.code, message: err.message });
        return;
      }
      if (err instanceof HttpRefusal) {
        sendJson(res, err.status, { error: err.code, message: err.message }, err.headers);
        return;
      }
      deps.log.error({ err, path: req.url }, 'http handler failed');
      sendJson(res, 500, { error: 'internal' });
    });
  };
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = parseRequestUrl(req.url);
  if (url === null) throw new HttpRefusal(400, 'bad_request', 'request target is not a valid URL');
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
  const roomMatch = ROOM_PATH.exec(path);
  if (path === '/send' || path === '/broadcast' || roomMatch !== null) {
    if (req.method !== 'POST') throw new HttpRefusal(405, 'method_not_allowed', `${path} takes POST`, { allow: 'POST' });
    let room: string | null = null;
    if (roomMatch !== null) {
      const decoded = decodePathPart(roomMatch[1] ?? '');
      if (decoded === null) throw new HttpRefusal(400, 'bad_path', 'the room in the path is not valid percent-encoding');
      const parsed = parseRoom(decoded);
      if (parsed === null) throw new HttpRefusal(400, 'invalid_room', `room ${ROOM_RULE}`);
      room = parsed.room;
    }
    await handlePost(deps, req, res, path === '/broadcast' ? 'broadcast' : room === null ? 'send' : { room });
    return;
  }
  sendJson(res, 404, { error: 'not_found', message: `no route for ${req.method ?? '?'} ${path}` });
}

/** The caller: the server API key, or a user token (which may not broadcast). */
function callerOf(deps: HttpDeps, req: IncomingMessage): Sender {
  const header = req.headers.authorization;
  if (isServerApiKey(header, deps.config.auth.serverApiKey)) return { kind: 'server' };
  if (header !== undefined && /^ApiKey\s/i.test(header)) {
    throw new HttpRefusal(401, 'invalid_api_key', deps.config.auth.serverApiKey === undefined ? 'this deployment has no server API key' : 'the server API key is not valid', { 'www-authenticate': 'ApiKey' });
  }
  const token = header === undefined ? undefined : /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (token === undefined) throw new HttpRefusal(401, 'missing_token', 'Authorization: Bearer <token> (or ApiKey <server key>) is required', { 'www-authenticate': 'Bearer' });
  try {
    const p = verifyToken(token, deps.config.auth);
    return { kind: 'user', userId: p.userId, actor: { kind: 'user', grants: p.grants, member: null } };
  } catch (err) {
    if (!(err instanceof AuthError)) throw err;
    throw new HttpRefusal(401, err.code, err.message, { 'www-authenticate': 'Bearer' });
  }
}

async function handlePost(deps: HttpDeps, req: IncomingMessage, res: ServerResponse, route: 'send' | 'broadcast' | { room: string }): Promise<void> {
  const sender = callerOf(deps, req);
  if (route === 'broadcast' && sender.kind !== 'server') throw new HttpRefusal(403, 'forbidden', 'broadcast is for the server API only');
  const messaging = deps.messaging();
  if (messaging === null) throw new HttpRefusal(503, 'not_ready', 'replica is not connected to NATS yet', { 'retry-after': '1' });
  const body = await readJsonBody(req, deps.config.limits.maxPayloadBytes, deps.config.limits.maxJsonDepth);
  if (route === 'broadcast') {
    const parsed = parse(broadcastBody, body);
    deps.metrics.messages.inc({ type: 'http_broadcast', direction: 'in' });
    answer(res, messaging.broadcast(sender, parsed.data, parsed.from));
    return;
  }
  if (route === 'send') {
    const parsed = parse(sendBody, body);
    deps.metrics.messages.inc({ type: 'http_send', direction: 'in' });
    const outcome = await messaging.sendDirect(sender, parsed.to, parsed.data, { from: parsed.from, transport: 'http' });
    if (outcome.ok && outcome.delivered === 0 && !outcome.stored && (outcome.forwarded ?? 0) === 0) {
      sendJson(res, 404, { error: 'not_connected', message: `user ${parsed.to} is not connected`, delivered: 0 });
      return;
    }
    answer(res, outcome);
    return;
  }
  const parsed = parse(publishBody, body);
  deps.metrics.messages.inc({ type: 'http_publish', direction: 'in' });
  answer(res, await messaging.publishRoom(sender, route.room, parsed.data, { from: parsed.from, transport: 'http' }));
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpRefusal(400, 'bad_request', `field "${issue?.path.join('.') ?? ''}" ${issue?.message ?? 'is invalid'}`);
}

type Refusal = Extract<SendOutcome, { ok: false }>;

/**
 * The status of a refusal. A full quota (the recipient's or the room's history, a namespace's
 * historyMaxMsgs) is the sender's matter, like a rate limit: 429, with Retry-After when the oldest
 * message ages out. A full store, or NATS unreachable, is the deployment's: 503. (HAProxy takes no
 * replica out for any status: `observe layer4`.)
 */
function statusOf(outcome: Refusal): number {
  switch (outcome.code) {
    case 'forbidden':
      return 403;
    case 'rate_limited':
      return 429;
    case 'not_stored':
      return outcome.full === 'quota' ? 429 : 503;
    case 'remote_unavailable':
    case 'store_unavailable':
      return 503;
  }
}

function answer(res: ServerResponse, outcome: SendOutcome): void {
  if (outcome.ok) {
    sendJson(res, 202, {
      delivered: outcome.delivered,
      stored: outcome.stored,
      ...(outcome.seq === undefined ? {} : { seq: outcome.seq }),
      ...(outcome.duplicate === true ? { duplicate: true } : {}),
      ...(outcome.forwarded === undefined ? {} : { forwarded: outcome.forwarded }),
    });
    return;
  }
  const status = statusOf(outcome);
  const headers: Record<string, string> = {};
  if (outcome.retryAfterMs !== undefined || outcome.code === 'rate_limited') headers['retry-after'] = String(Math.max(1, Math.ceil((outcome.retryAfterMs ?? 1000) / 1000)));
  else if (status === 503) headers['retry-after'] = '1';
  sendJson(res, status, { error: outcome.code, message: outcome.message, delivered: outcome.delivered }, headers);
}
