/**
 * A minimal WebSocket client for the fan-out members: it does the RFC 6455 upgrade over a plain TCP
 * socket and, once counting, only walks frame headers and counts text frames, with no per-frame
 * event, allocation or parsing. On a 2-core machine the receivers of a 1,000-member room compete with
 * the servers for CPU; a `ws` client spends about as much CPU receiving as a bare server spends
 * sending, which would make the generator, not the server, the limit of every system measured.
 * Control frames are honoured: pings get pongs (a replica terminates peers that miss two).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawWsOptions {
  /** ws://host:port/path?query */
  url: string;
  /** Called with each text frame's payload while not counting (handshake-time frames: welcome, acks). */
  onControlText: (text: string, self: RawWsClient) => void;
  /** Counting: only text frames whose payload starts with this byte are counted (Socket.IO events: "4"). */
  countPrefix?: number;
  /** Engine.IO heartbeat: answer its "2" ping text frames with "3", also while counting. */
  engineIoPings?: boolean;
  /**
   * Centrifugo's JSON protocol: a frame may carry several newline-separated messages (each counted),
   * and its ping `{}` gets a `{}` pong, also while counting.
   */
  centrifugo?: boolean;
  /** Source address of the TCP connection (127.0.0.x spreads ephemeral ports). */
  localAddress?: string;
  /** Called once when the connection ends: the close frame's code, or 1006 without one. */
  onClose?: (code: number) => void;
  timeoutMs?: number;
}

export class RawWsClient {
  count = 0;
  counting = false;
  /** A copy of a recent counted payload (every 256th), for sanity checks. */
  sample: Buffer | undefined;
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private readonly mask = randomBytes(4);
  private constructor(private readonly socket: Socket, private readonly opts: RawWsOptions) {}

  static open(opts: RawWsOptions): Promise<RawWsClient> {
    const url = new URL(opts.url);
    return new Promise((resolve, reject) => {
      const socket = connect({ port: Number(url.port), host: url.hostname, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
      socket.setNoDelay(true);
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`upgrade to ${url.host} timed out`)); }, opts.timeoutMs ?? 15_000);
      let head = Buffer.alloc(0);
      const onData = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        clearTimeout(timer);
        const status = head.subarray(0, end).toString('latin1').split('\r\n')[0] ?? '';
        if (!/^HTTP\/1\.1 101/.test(status)) {
          socket.destroy();
          // Who refused: a replica answers JSON {"error": "<reason>"}; HAProxy its own HTML page.
          const body = head.subarray(end + 4).toString('utf8');
          const reason = /"error":"(\w+)"/.exec(body)?.[1] ?? (/No server is available/i.test(body) ? 'haproxy_no_server' : /<html>/i.test(body) ? 'haproxy' : '');
          reject(new Error(`upgrade refused: ${status}${reason === '' ? '' : ` [${reason}]`}`));
          return;
        }
        const client = new RawWsClient(socket, opts);
        socket.on('data', (d: Buffer) => { client.onData(d); });
        socket.on('close', () => { client.ended(1006); });
        socket.on('error', () => { client.ended(1006); });
        resolve(client);
        const rest = head.subarray(end + 4);
        if (rest.length > 0) client.onData(rest);
      };
      socket.on('data', onData);
      socket.once('error', (err) => { clearTimeout(timer); reject(err); });
      socket.once('connect', () => {
        socket.write(
          `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  sendText(text: string): void {
    this.sendFrame(0x1, Buffer.from(text, 'utf8'));
  }

  /** Drops the connection at once (no close handshake), like ws.terminate(). */
  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  get open(): boolean {
    return !this.closed;
  }

  private closeCode: number | undefined;

  private ended(code: number): void {
    if (this.closeCode !== undefined) return;
    this.closeCode = this.closed && code === 1006 ? 1000 : code;
    const wasClosedByUs = this.closed && code === 1006;
    this.closed = true;
    if (!wasClosedByUs) this.opts.onClose?.(this.closeCode);
  }

  private sendFrame(opcode: number, payload: Buffer): void {
    const len = payload.length;
    const headerLen = len < 126 ? 2 : len < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(headerLen + 4 + len);
    frame[0] = 0x80 | opcode;
    if (len < 126) {
      frame[1] = 0x80 | len;
    } else if (len < 65_536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(len), 2);
    }
    this.mask.copy(frame, headerLen);
    for (let i = 0; i < len; i++) frame[headerLen + 4 + i] = (payload[i] ?? 0) ^ (this.mask[i & 3] ?? 0);
    this.socket.write(frame);
  }

  /** Counts the messages of a Centrifugo frame (newline-separated), answering a ping `{}` among them. */
  private countCentrifugo(data: Buffer, start: number, end: number): void {
    let lines = 1;
    for (let i = data.indexOf(0x0a, start); i >= 0 && i < end; i = data.indexOf(0x0a, i + 1)) lines += 1;
    // A ping is the 2-byte message `{}`: alone, or the last of the frame.
    if (end - start >= 2 && data[end - 2] === 0x7b && data[end - 1] === 0x7d && (end - start === 2 || data[end - 3] === 0x0a)) {
      lines -= 1;
      this.sendText('{}');
    }
    if (lines <= 0) return;
    this.count += lines;
    if ((this.count & 0xff) < lines) this.sample = Buffer.from(data.subarray(start, end));
  }

  private onData(chunk: Buffer): void {
    const data = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    for (;;) {
      if (data.length - off < 2) break;
      const b0 = data[off] ?? 0;
      const b1 = data[off + 1] ?? 0;
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (data.length - off < 4) break;
        len = data.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (data.length - off < 10) break;
        len = Number(data.readBigUInt64BE(off + 2));
        hdr = 10;
      }
      if ((b1 & 0x80) !== 0) hdr += 4; // servers never mask, but skip a key if one is there
      if (data.length - off < hdr + len) break;
      const opcode = b0 & 0x0f;
      const start = off + hdr;
      if (opcode === 0x1) {
        if (this.opts.engineIoPings === true && len === 1 && data[start] === 0x32) {
          this.sendText('3');
        } else if (this.opts.centrifugo === true && this.counting) {
          this.countCentrifugo(data, start, start + len);
        } else if (this.counting) {
          if (this.opts.countPrefix === undefined || data[start] === this.opts.countPrefix) {
            this.count += 1;
            if ((this.count & 0xff) === 0) this.sample = Buffer.from(data.subarray(start, start + len));
          }
        } else {
          this.opts.onControlText(data.toString('utf8', start, start + len), this);
        }
      } else if (opcode === 0x9) {
        this.sendFrame(0xa, Buffer.from(data.subarray(start, start + len)));
      } else if (opcode === 0x8) {
        const code = len >= 2 ? data.readUInt16BE(start) : 1005;
        this.ended(code);
        this.socket.end();
      }
      off = start + len;
    }
    this.buf = off >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(off));
  }
}
