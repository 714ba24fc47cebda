/**
 * The socket under the client: the platform WebSocket in a browser, `ws`'s in Node (passed in by
 * the caller, so the browser bundle has no dependency). How the token travels differs:
 *  - 'protocol': as the second Sec-WebSocket-Protocol entry beside `ws-fleet` (the only way a
 *    browser can send one);
 *  - 'header': `Authorization: Bearer <token>` (Node; keeps the token out of the protocol header).
 */

/** The subprotocol the server selects; the token rides beside it in 'protocol' mode. */
export const SUBPROTOCOL = 'ws-fleet';

export interface MessageEventLike { data: unknown }
export interface CloseEventLike { code: number; reason: string; wasClean?: boolean }
export interface ErrorEventLike { message?: string; error?: unknown }

/**
 * What the client needs of a WebSocket: the subset that both the browser's and `ws`'s have.
 * The handler properties take `never`: each implementation calls them with its own event type,
 * and the client reads the events through the *Like shapes above, defensively.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the TCP connection without a close handshake. */
  terminate?: () => void;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
}

export type WebSocketConstructorLike = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** WebSocket.OPEN in both implementations. */
export const OPEN = 1;

export type TokenPlacement = 'protocol' | 'header';

export function openSocket(Impl: WebSocketConstructorLike, url: string, token: string, placement: TokenPlacement): WebSocketLike {
  if (placement === 'header') return new Impl(url, [SUBPROTOCOL], { headers: { authorization: `Bearer ${token}` } });
  return new Impl(url, [SUBPROTOCOL, token]);
}

/** The platform's WebSocket, when there is one. */
export function globalWebSocket(): WebSocketConstructorLike | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructorLike }).WebSocket;
}

/** The HTTP status of a refused upgrade, when the implementation tells it (`ws`: "Unexpected server response: 401"). */
export function upgradeStatus(ev: ErrorEventLike | undefined): number | undefined {
  const text = ev?.message ?? (ev?.error instanceof Error ? ev.error.message : undefined);
  const m = text === undefined ? null : /Unexpected server response: (\d{3})/.exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * Adds `resume=<seq>` (the inbox position) and the `epoch` it was taken in to the URL, keeping
 * whatever query it has. The server replays a position of another epoch from the start.
 */
export function withResume(url: string, after: number | undefined, epoch: string | undefined): string {
  if (after === undefined) return url;
  const u = new URL(url);
  u.searchParams.set('resume', String(after));
  if (epoch !== undefined) u.searchParams.set('epoch', epoch);
  return u.toString();
}
