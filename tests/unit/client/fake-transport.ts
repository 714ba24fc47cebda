/**
 * A fake WebSocket for the client library's unit tests: each socket the client opens is recorded;
 * the test plays the server (open, frames, close codes, refused upgrades) and reads what was sent.
 */
import type { WebSocketConstructorLike, WebSocketLike } from '../../../client/src/index.js';

export type Sent = Record<string, unknown> & { type: string };

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: Sent[] = [];
  closedByClient: { code?: number; reason?: string } | undefined;
  onopen: ((ev: never) => void) | null = null;
  onmessage: ((ev: never) => void) | null = null;
  onclose: ((ev: never) => void) | null = null;
  onerror: ((ev: never) => void) | null = null;

  constructor(readonly url: string, readonly protocols: string[], readonly headers: Record<string, string>) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as Sent);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) };
    if (this.readyState === 3) return;
    this.readyState = 2;
    // The server answers the close handshake on the next tick.
    setTimeout(() => { this.finish(code ?? 1005, reason ?? ''); }, 0);
  }

  /** Server side: the upgrade succeeded. */
  accept(): void {
    this.readyState = 1;
    call(this.onopen, {});
  }

  /** Server side: accept and send a welcome. */
  welcome(fields: Record<string, unknown> = {}): void {
    if (this.readyState === 0) this.accept();
    this.frame({ type: 'welcome', server: 'r1', user: 'anne', conn: 'c1', ...fields });
  }

  frame(f: Record<string, unknown>): void {
    call(this.onmessage, { data: JSON.stringify(f) });
  }

  raw(data: unknown): void {
    call(this.onmessage, { data });
  }

  /** Server side: close with a code. */
  serverClose(code: number, reason = ''): void {
    this.finish(code, reason);
  }

  /** Server side: refuse the upgrade with an HTTP status, the way `ws` reports it. */
  refuse(status: number): void {
    call(this.onerror, { message: `Unexpected server response: ${status}` });
    this.finish(1006, '');
  }

  /** Frames of `type` the client sent. */
  ofType(type: string): Sent[] {
    return this.sent.filter((f) => f.type === type);
  }

  private finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    call(this.onclose, { code, reason });
  }
}

function call(handler: ((ev: never) => void) | null, ev: unknown): void {
  if (handler !== null) (handler as (e: unknown) => void)(ev);
}

export interface FakeTransport {
  Impl: WebSocketConstructorLike;
  sockets: FakeSocket[];
  /** Resolves with socket number `index` (0-based) once the client has opened it. */
  socket(index: number, timeoutMs?: number): Promise<FakeSocket>;
}

export function fakeTransport(): FakeTransport {
  const sockets: FakeSocket[] = [];
  const waiters: { index: number; resolve: (s: FakeSocket) => void }[] = [];
  class Impl extends FakeSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols], options?.headers ?? {});
      sockets.push(this);
      for (const w of [...waiters]) {
        const s = sockets[w.index];
        if (s !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(s);
        }
      }
    }
  }
  return {
    Impl,
    sockets,
    socket: (index, timeoutMs = 2_000) => {
      const s = sockets[index];
      if (s !== undefined) return Promise.resolve(s);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`socket ${index} was not opened within ${timeoutMs} ms (${sockets.length} opened)`)); }, timeoutMs);
        waiters.push({ index, resolve: (sock) => { clearTimeout(timer); resolve(sock); } });
      });
    },
  };
}

/** Waits until `check` holds (bounded). */
export async function until(what: string, check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
