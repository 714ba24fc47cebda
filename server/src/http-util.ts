import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { parseJsonLimited } from './json-limits.js';

/** The request target as a URL (path and query only matter); null when it does not parse. */
export function parseRequestUrl(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** decodeURIComponent that answers null for a malformed escape (`%ZZ`) instead of throwing. */
export function decodePathPart(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers an upgrade request with a plain HTTP error (the socket is not a WebSocket yet). */
export function rejectUpgrade(socket: Duplex, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}

export class BodyError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Reads a JSON body of at most `limit` bytes and `maxDepth` nesting; throws BodyError (413, 400, 415) with a clear reason. */
export async function readJsonBody(req: IncomingMessage, limit: number, maxDepth: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new BodyError(415, 'unsupported_media_type', 'content-type must be application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyError(413, 'payload_too_large', `body is larger than ${limit} bytes`);
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new BodyError(413, 'payload_too_large', `body is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof BodyError) throw err;
    // The client went away or sent a broken chunked body: its mistake, answered (if anyone listens) 400.
    throw new BodyError(400, 'bad_body', 'the request body could not be read');
  }
  const json = parseJsonLimited(Buffer.concat(chunks).toString('utf8'), maxDepth);
  if (json.ok) return json.value;
  if (json.reason === 'too_deep') throw new BodyError(400, 'bad_frame', `body ${json.message}`);
  throw new BodyError(400, 'bad_json', 'body is not valid JSON');
}
