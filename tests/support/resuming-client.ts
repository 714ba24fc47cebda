/**
 * The tests' resuming client: the project's client library (client/src, FleetClient) on `ws`, with
 * what a test reads off it besides the library's own events: every replica that welcomed it, the close
 * codes and times of its sockets, the sticky cookie its upgrade was given, and what it received
 * (the messages in order, and the `data.id` of each). The library reconnects, resumes the inbox from
 * the last seq and drops repeats; this wrapper only watches. Raw frames (malformed input, protocol
 * checks) go through ./ws-client.ts instead.
 */
import WebSocket from 'ws';
import { FleetClient, FleetError, type Ack, type FleetMessage, type Welcome } from '../../client/src/index.js';
import type { WebSocketConstructorLike } from '../../client/src/index.js';

export interface ResumingClientOptions {
  /** The WebSocket endpoint; a function is asked again on every (re)connect (e.g. to rotate over replicas). */
  url: string | (() => string);
  token: string;
  /** Cookie header to send on every upgrade (sticky sessions). */
  cookie?: string;
  /** Reconnect (and resume) when the socket closes; without it the client stops at the first close. Default false. */
  autoReconnect?: boolean;
  /** Opening + welcome of one attempt. Default 5000. */
  connectTimeoutMs?: number;
}

/** A send's outcome: the ack, or an error-typed result naming why there was none. */
export type SendResult = Ack | { type: 'error'; id: string; code: string; delivered?: undefined; stored?: undefined };

/** True when an ack means the server took responsibility for the message (delivered or stored). */
export function acknowledged(ack: SendResult): boolean {
  return ack.type === 'ack' && ((ack.delivered ?? 0) > 0 || ack.stored === true);
}

/** A `url` option that takes the next of `urls()` on every (re)connect: a client that moves to another replica when its own goes away. */
export function rotating(urls: () => string[]): () => string {
  let next = 0;
  return () => {
    const candidates = urls();
    const url = candidates[next % candidates.length] ?? '';
    next += 1;
    return url;
  };
}

/** "Unexpected server response: 503" (ws) → "upgrade refused: HTTP 503", the wording the tests match. */
function describeFailure(message: string | undefined, code: number): string {
  const status = message === undefined ? null : /Unexpected server response: (\d{3})/.exec(message);
  if (status?.[1] !== undefined) return `upgrade refused: HTTP ${status[1]}`;
  return `connection failed before its welcome (close ${code}${message === undefined ? '' : `: ${message}`})`;
}

export class ResumingClient {
  /** Every replica that welcomed this client, in order. */
  readonly servers: string[] = [];
  /** `data.id` of every message received (the library has dropped repeats). */
  readonly received = new Set<string>();
  /** Every message received, in the order the library delivered it. */
  readonly messages: FleetMessage[] = [];
  /** Close codes of this client's welcomed sockets, and when each closed (ms since the epoch). */
  readonly closeCodes: number[] = [];
  readonly closeTimes: number[] = [];
  /** The cookies the last upgrade response set (`name=value; …`), e.g. the balancer's sticky cookie. */
  setCookie: string | undefined;
  private client: FleetClient | undefined;
  private lastError: string | undefined;
  private failFirst: ((err: Error) => void) | undefined;

  constructor(private readonly opts: ResumingClientOptions) {}

  /** The replica of the current (or last) connection. */
  get server(): string | undefined {
    return this.servers.at(-1);
  }

  get isOpen(): boolean {
    return this.client?.state === 'open';
  }

  /** Reconnects after the first welcome. */
  get reconnects(): number {
    return this.client?.stats.reconnects ?? 0;
  }

  /** Repeats the library dropped (a seq at or below the last one received). */
  get duplicates(): number {
    return this.client?.stats.duplicatesDropped ?? 0;
  }

  /** Messages that came without a seq (delivered live, not stored). */
  get unsequenced(): number {
    return this.messages.filter((m) => m.seq === undefined).length;
  }

  /**
   * Opens the connection and resolves with the first welcome. The first attempt failing (refused
   * upgrade, closed before its welcome) rejects, as a fresh client would see it; call again to retry.
   */
  async connect(): Promise<Welcome> {
    await this.client?.close();
    const client = new FleetClient({
      url: this.opts.url,
      token: this.opts.token,
      WebSocket: this.socketClass(),
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000,
      // Quick, bounded retries: the fleet under test is on this machine.
      reconnect: { initialMs: 100, maxMs: 2000 },
    });
    this.client = client;
    client.on('welcome', (w) => { this.servers.push(w.server); });
    client.on('message', (m) => {
      this.messages.push(m);
      const id = (m.data as { id?: unknown } | null)?.id;
      if (typeof id === 'string') this.received.add(id);
    });
    client.on('error', (e) => { this.lastError = e.message; });
    const failed = new Promise<never>((_resolve, reject) => { this.failFirst = reject; });
    try {
      return await Promise.race([client.connect(), failed]);
    } catch (err) {
      await client.close();
      throw err;
    } finally {
      this.failFirst = undefined;
    }
  }

  /** Resolves once the client is open (again), or rejects after `ms`. */
  async waitConnected(ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.isOpen) {
      if (Date.now() > deadline) throw new Error(`client not reconnected within ${ms} ms (last error: ${this.lastError ?? 'none'})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves once a reconnect in progress is done (bounded): the client is open or closed for good. */
  async settled(ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.client !== undefined && this.client.state !== 'open' && this.client.state !== 'closed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Sends `{id}` to user `to` and resolves with the ack, or with an error-typed result when the library
   * gave up (no ack after its retries, closed). Never rejects.
   */
  async send(to: string, id: string, timeoutMs = 5000): Promise<SendResult> {
    const client = this.client;
    if (client === undefined || client.state === 'closed') return { type: 'error', id, code: 'not_open' };
    try {
      return await client.send(to, { id }, { timeoutMs });
    } catch (err) {
      return { type: 'error', id, code: err instanceof FleetError ? err.code : 'internal' };
    }
  }

  /** Closes for good; resolves when the socket is closed (bounded by the library). */
  async close(): Promise<void> {
    await this.client?.close();
  }

  /** `ws`'s WebSocket, with this client's cookie on the upgrade and its sockets' fates recorded. */
  private socketClass(): WebSocketConstructorLike {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the class below reports to this client
    const owner = this;
    return class InstrumentedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
        const headers = { ...(options?.headers ?? {}), ...(owner.opts.cookie === undefined ? {} : { cookie: owner.opts.cookie }) };
        super(url, protocols, { headers });
        let welcomedBefore = owner.servers.length;
        let error: string | undefined;
        this.on('upgrade', (res) => {
          const cookies = res.headers['set-cookie'];
          if (cookies !== undefined && cookies.length > 0) owner.setCookie = cookies.map((c) => c.split(';')[0]).join('; ');
          welcomedBefore = owner.servers.length;
        });
        this.on('error', (err) => { error = err.message; });
        this.on('close', (code) => { owner.onSocketClosed(code, owner.servers.length > welcomedBefore, error); });
      }
    };
  }

  private onSocketClosed(code: number, welcomed: boolean, error: string | undefined): void {
    if (!welcomed) {
      // A failed attempt: the first one fails connect(); later ones the library retries.
      this.failFirst?.(new Error(describeFailure(error, code)));
      return;
    }
    this.closeCodes.push(code);
    this.closeTimes.push(Date.now());
    if (this.opts.autoReconnect !== true) void this.client?.close();
  }
}
