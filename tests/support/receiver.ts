import { connectClient, type Frame, type TestClient } from './ws-client.js';

export interface ReceivedMessage {
  /** 0 for a message delivered live without a seq (not stored). */
  seq: number;
  from: string;
  data: unknown;
}

/**
 * A client that keeps its inbox: de-duplicates by seq, and when its socket closes it reconnects
 * (to the next URL of `urls`) with ?resume=<last seq>. Counts duplicates and closes by code.
 */
export class Receiver {
  readonly messages: ReceivedMessage[] = [];
  readonly closeCodes: number[] = [];
  readonly closeTimes: number[] = [];
  readonly servers: string[] = [];
  duplicates = 0;
  outOfOrder = 0;
  /** Messages that came without a seq (delivered live, not stored). */
  unsequenced = 0;
  reconnects = 0;
  lastSeq = 0;
  private client: TestClient | undefined;
  private stopped = false;
  private next = 0;
  private reconnecting: Promise<void> | undefined;

  constructor(private readonly urls: () => string[], private readonly token: string) {}

  async connect(resume?: number): Promise<void> {
    const candidates = this.urls();
    const url = candidates[this.next % candidates.length] ?? '';
    this.next += 1;
    const q = resume === undefined ? '' : `&resume=${resume}`;
    const client = await connectClient(`${url}?token=${this.token}${q}`);
    this.client = client;
    this.servers.push(String(client.welcome.server));
    // Frames that came in the same read as the welcome (a replay) are already in client.frames.
    for (const f of client.frames) this.onFrame(f);
    client.ws.on('message', (raw: Buffer) => { this.onFrame(JSON.parse(raw.toString('utf8')) as Frame); });
    void client.closed.then(({ code }) => {
      this.closeCodes.push(code);
      this.closeTimes.push(Date.now());
      if (!this.stopped) this.reconnecting = this.reconnect();
    });
  }

  private onFrame(f: Frame): void {
    if (f.type !== 'message' || f.room !== undefined) return;
    if (typeof f.seq !== 'number') {
      // Delivered live without a seq: the server could not store it (JetStream had no leader for
      // longer than its append deadline) and said so in the ack (`stored: false`). Still delivered.
      this.unsequenced += 1;
      this.messages.push({ seq: 0, from: String(f.from), data: f.data });
      return;
    }
    if (f.seq <= this.lastSeq) {
      if (this.messages.some((m) => m.seq === f.seq)) this.duplicates += 1;
      else this.outOfOrder += 1;
      return;
    }
    this.lastSeq = f.seq;
    this.messages.push({ seq: f.seq, from: String(f.from), data: f.data });
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; attempt < 50 && !this.stopped; attempt++) {
      try {
        await this.connect(this.lastSeq);
        this.reconnects += 1;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async settled(): Promise<void> {
    await this.reconnecting;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.reconnecting;
    await this.client?.close();
  }
}
