/**
 * Real HAProxy processes for tests: config checks with `haproxy -c` and a foreground `haproxy -db`
 * whose stdout (the JSON connection log) and stderr land in .ws-fleet/logs/tests/<name>.log.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parseConnectionLogLine, renderHaproxyConfig, type ConnectionLogLine, type LbMode } from '../../loadbalancer/src/index.js';
import { findBinary } from './paths.js';
import { freePort, waitFor } from './ports.js';
import { startProcess } from './processes.js';

/** The haproxy binary (HAPROXY_BIN, .ws-fleet/bin, PATH, /usr/sbin); a clear error when it is absent. */
export function haproxyBinary(): string {
  try {
    return findBinary('haproxy', 'HAPROXY_BIN');
  } catch {
    throw new Error(
      'haproxy is not installed: run "bash scripts/setup.sh" (it installs Debian\'s haproxy package), ' +
        'or "apt-get install haproxy", or point HAPROXY_BIN at a binary',
    );
  }
}

export interface ConfigCheck {
  readonly ok: boolean;
  /** haproxy's combined output (warnings and alerts). */
  readonly output: string;
}

/**
 * Runs `haproxy -c -dW -f <file>`: -dW (zero-warning) turns every warning into a failure, so a config
 * that 2.6 merely warns about (deprecated or ignored directives) fails here too.
 */
export async function checkHaproxyConfig(config: string, env: Record<string, string> = {}): Promise<ConfigCheck> {
  const bin = haproxyBinary();
  const dir = mkdtempSync(join(tmpdir(), 'wsf-haproxy-check-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  try {
    return await new Promise<ConfigCheck>((resolve) => {
      // `env`: the variables the config expands ("${NAME}"), as the container's environment would hold them.
      execFile(bin, ['-c', '-dW', '-f', file], { timeout: 20_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
        resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HaproxyProcess {
  readonly configFile: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  /** Connection log lines written so far (JSON lines only; HAProxy's free-text events are skipped). */
  connectionLog(): ConnectionLogLine[];
  /** Everything HAProxy printed so far. */
  output(): string;
  /** Stops HAProxy (SIGTERM: immediate stop; SIGKILL after a grace period) and removes its config. */
  stop(): Promise<void>;
}

export interface StartHaproxyOptions {
  config: string;
  /** Port the frontend binds (waited for before returning). */
  frontendPort: number;
  /** Log file name under .ws-fleet/logs/tests/ (default "haproxy"). */
  name?: string;
  /** Bounded wait for the frontend to accept (default 10 s). */
  readyTimeoutMs?: number;
  /** Environment the config expands ("${NAME}"), e.g. the stats credentials. */
  env?: Record<string, string>;
}

async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/** Starts `haproxy -db -f <config>` in the foreground and waits until the frontend port accepts. */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<HaproxyProcess> {
  const bin = haproxyBinary();
  const dir = mkdtempSync(join(tmpdir(), 'wsf-haproxy-'));
  const configFile = join(dir, 'haproxy.cfg');
  writeFileSync(configFile, opts.config);
  const proc = startProcess(opts.name ?? 'haproxy', bin, ['-db', '-f', configFile], opts.env ?? {});
  const readLog = (): string => (existsSync(proc.logFile) ? readFileSync(proc.logFile, 'utf8') : '');
  const early = proc.exited.then((code) => {
    throw new Error(`haproxy exited with ${code} before its frontend accepted:\n${readLog()}`);
  });
  try {
    await Promise.race([waitFor(`haproxy frontend on port ${opts.frontendPort}`, () => portAccepts(opts.frontendPort), opts.readyTimeoutMs ?? 10_000, 50), early]);
  } catch (err) {
    await proc.stop(1000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  early.catch(() => undefined); // exits after start are reported by `exited`, not as an unhandled rejection
  return {
    configFile,
    logFile: proc.logFile,
    exited: proc.exited,
    output: readLog,
    connectionLog: () =>
      readLog()
        .split('\n')
        .map(parseConnectionLogLine)
        .filter((l): l is ConnectionLogLine => l !== undefined),
    stop: async () => {
      await proc.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface StaticBalancerOptions {
  mode: LbMode;
  /** The replicas on 127.0.0.1, by HAProxy server name. */
  servers: readonly { name: string; port: number }[];
  /** Log file name under .ws-fleet/logs/ (see startHaproxy). */
  name: string;
  /** Frontend port (default: one the OS picks). */
  frontendPort?: number;
  /** HAProxy's global connection cap (default: the renderer's). */
  maxConnections?: number;
}

export interface StaticBalancer {
  readonly proc: HaproxyProcess;
  readonly frontendPort: number;
  /** ws://127.0.0.1:<frontend>/ws */
  readonly wsUrl: string;
  /** http://127.0.0.1:<stats port>/stats */
  readonly statsUrl: string;
  stop(): Promise<void>;
}

/** HAProxy rendered by loadbalancer/src (static server list) in front of replicas on this machine, on loopback ports. */
export async function startStaticBalancer(opts: StaticBalancerOptions): Promise<StaticBalancer> {
  const frontendPort = opts.frontendPort ?? (await freePort());
  const statsPort = await freePort();
  const config = renderHaproxyConfig({
    mode: opts.mode,
    frontend: { address: '127.0.0.1', port: frontendPort },
    stats: { address: '127.0.0.1', port: statsPort },
    backend: { kind: 'static', servers: opts.servers.map((s) => ({ name: s.name, host: '127.0.0.1', port: s.port })) },
    ...(opts.maxConnections === undefined ? {} : { maxConnections: { global: opts.maxConnections } }),
  });
  const proc = await startHaproxy({ config, frontendPort, name: opts.name });
  return { proc, frontendPort, wsUrl: `ws://127.0.0.1:${frontendPort}/ws`, statsUrl: `http://127.0.0.1:${statsPort}/stats`, stop: () => proc.stop() };
}

export interface ServerState {
  /** "UP", "DOWN", "MAINT", "no check", "UP 1/2" (going down), "DOWN 1/2" (going up), ... */
  readonly status: string;
  /** Current connections HAProxy holds to this server. */
  readonly current: number;
  /** Connections HAProxy has sent to it since start. */
  readonly total: number;
  readonly address: string;
}

/** Basic-auth credentials of a stats page that has them. */
export interface StatsAuth {
  readonly user: string;
  readonly password: string;
}

/** The Authorization header for `auth`, or no header. */
export function statsAuthHeaders(auth?: StatsAuth): Record<string, string> {
  return auth === undefined ? {} : { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` };
}

/** Per-server state of one backend from the stats page's CSV (`<statsUrl>;csv`). */
export async function fetchServerStates(statsUrl: string, backend: string, auth?: StatsAuth): Promise<Map<string, ServerState>> {
  const res = await fetch(`${statsUrl};csv`, { headers: statsAuthHeaders(auth), signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`stats CSV answered ${res.status}`);
  const [headerLine = '', ...rows] = (await res.text()).trim().split('\n');
  const cols = headerLine.replace(/^# /, '').split(',');
  const idx = (name: string): number => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`stats CSV has no "${name}" column`);
    return i;
  };
  const [pxname, svname, status, scur, stot, addr] = ['pxname', 'svname', 'status', 'scur', 'stot', 'addr'].map(idx) as [number, number, number, number, number, number];
  const states = new Map<string, ServerState>();
  for (const row of rows) {
    const f = row.split(',');
    if (f[pxname] !== backend) continue;
    const name = f[svname] ?? '';
    if (name === 'FRONTEND' || name === 'BACKEND') continue;
    states.set(name, { status: f[status] ?? '', current: Number(f[scur]), total: Number(f[stot]), address: f[addr] ?? '' });
  }
  return states;
}

/** Waits (bounded) until HAProxy reports `server` of `backend` in a status starting with `status`. */
export async function waitForServerStatus(statsUrl: string, backend: string, server: string, status: 'UP' | 'DOWN' | 'MAINT', timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `haproxy to see ${backend}/${server} ${status}`,
    async () => {
      const s = (await fetchServerStates(statsUrl, backend)).get(server);
      return s !== undefined && (s.status === status || (status !== 'UP' && s.status.startsWith(status)));
    },
    timeoutMs,
    100,
  );
}

export interface BalancedClient {
  readonly ws: WebSocket;
  /** SERVER_ID of the replica that answered, from the welcome frame. */
  readonly server: string;
  /** The Set-Cookie header(s) of the 101 upgrade response. */
  readonly setCookie: readonly string[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Sends {"type":"ping"} and waits (bounded) for the pong: proves the tunnel still carries frames. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The `name=value` pair of a Set-Cookie header, ready for a Cookie header; undefined when absent. */
export function cookiePair(setCookie: readonly string[], name: string): string | undefined {
  return setCookie.map((c) => c.split(';')[0]?.trim() ?? '').find((pair) => pair.startsWith(`${name}=`));
}

/**
 * Opens a WebSocket through the balancer and waits for the welcome frame; rejects (bounded) on an HTTP
 * refusal, a socket error or no welcome within timeoutMs.
 */
export async function connectThroughBalancer(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<BalancedClient> {
  const ws = new WebSocket(url, { headers });
  let setCookie: readonly string[] = [];
  ws.once('upgrade', (res) => {
    setCookie = res.headers['set-cookie'] ?? [];
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  const frames: Record<string, unknown>[] = [];
  const listeners = new Set<(f: Record<string, unknown>) => void>();
  ws.on('message', (data: Buffer) => {
    try {
      const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      frames.push(frame);
      for (const l of listeners) l(frame);
    } catch {
      // not JSON: irrelevant to the balancer tests
    }
  });
  const nextFrame = (type: string, ms: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const seen = frames.find((f) => f.type === type);
      if (seen !== undefined) {
        resolve(seen);
        return;
      }
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`no "${type}" frame within ${ms} ms from ${url}`));
      }, ms);
      const listener = (f: Record<string, unknown>): void => {
        if (f.type !== type) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(f);
      };
      listeners.add(listener);
    });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`WebSocket to ${url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`upgrade through the balancer refused: HTTP ${String(res.statusCode)}`));
      });
    });
    ws.on('error', () => {
      // after the open, errors end in a 'close' event, which `closed` reports
    });
    const welcome = await nextFrame('welcome', timeoutMs);
    const server = welcome.server;
    if (typeof server !== 'string') throw new Error(`welcome frame without a server: ${JSON.stringify(welcome)}`);
    return {
      ws,
      server,
      setCookie,
      closed,
      ping: async (ms = 3000) => {
        frames.length = 0;
        ws.send(JSON.stringify({ type: 'ping' }));
        await nextFrame('pong', ms);
      },
      close: async () => {
        if (ws.readyState === WebSocket.CLOSED) return;
        ws.close();
        const timer = setTimeout(() => {
          ws.terminate();
        }, 2000);
        await closed;
        clearTimeout(timer);
      },
    };
  } catch (err) {
    ws.terminate();
    throw err;
  }
}

export interface StubDns {
  readonly port: number;
  /** Replaces the A records served for `name` (an empty list answers NXDOMAIN, as Docker does). */
  setRecords(name: string, ips: readonly string[]): void;
  stop(): Promise<void>;
}

/**
 * A tiny authoritative DNS server on 127.0.0.1 answering A queries from a mutable table, standing in
 * for Docker's embedded DNS so HAProxy's server-template discovery runs for real without Docker.
 * Other query types get an empty NOERROR answer; unknown names NXDOMAIN.
 */
export async function startStubDns(): Promise<StubDns> {
  const records = new Map<string, readonly string[]>();
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = answerDnsQuery(msg, records);
    if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      resolve();
    });
  });
  return {
    port: socket.address().port,
    setRecords: (name, ips) => {
      records.set(name.toLowerCase(), [...ips]);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        socket.close(() => {
          resolve();
        });
      }),
  };
}

function answerDnsQuery(msg: Buffer, records: ReadonlyMap<string, readonly string[]>): Buffer | undefined {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1) return undefined; // exactly one question
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const len = msg[offset];
    if (len === undefined || len > 63) return undefined;
    offset += 1;
    if (len === 0) break;
    labels.push(msg.subarray(offset, offset + len).toString('ascii'));
    offset += len;
  }
  if (offset + 4 > msg.length) return undefined;
  const qtype = msg.readUInt16BE(offset);
  const question = msg.subarray(12, offset + 4);
  const ips = records.get(labels.join('.').toLowerCase()) ?? [];
  const answers = qtype === 1 ? ips : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
  // QR=1, opcode 0, AA=1, RD copied, RA=1, rcode NXDOMAIN (3) for unknown names.
  header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (ips.length === 0 ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const rrs = answers.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(1, 6); // TTL 1 s
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  return Buffer.concat([header, question, ...rrs]);
}
