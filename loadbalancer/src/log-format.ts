/**
 * The balancer's per-connection log line: one JSON object per HTTP transaction, written to stdout.
 *
 * A WebSocket is one transaction (the upgrade request and its 101), logged when the tunnel closes, so
 * `duration_ms` is the socket's whole lifetime and `server` is the replica HAProxy chose. Plain HTTP
 * requests (POST /send, ...) get one line each. The query string is never logged (it may hold `?token=`).
 */

interface LogField {
  readonly name: string;
  /** HAProxy log-format token. */
  readonly token: string;
  /** Whether the token renders as text (wrapped in quotes) rather than a number. */
  readonly text: boolean;
}

/** Field name → meaning, in output order. Numbers are -1 when the step did not happen (e.g. no response). */
export const CONNECTION_LOG_FIELDS: readonly LogField[] = [
  { name: 'kind', token: 'connection', text: true },
  { name: 'ts', token: '%Ts.%ms', text: false }, // accept time, unix seconds with milliseconds
  { name: 'client_ip', token: '%ci', text: true },
  { name: 'client_port', token: '%cp', text: false },
  { name: 'frontend', token: '%f', text: true },
  { name: 'backend', token: '%b', text: true },
  { name: 'server', token: '%s', text: true }, // the replica slot chosen ("<NOSRV>" when none was)
  { name: 'server_ip', token: '%si', text: true },
  { name: 'server_port', token: '%sp', text: true }, // text: "-" when no server was chosen
  { name: 'method', token: '%HM', text: true },
  { name: 'path', token: '%{+Q,+E}HPO', text: false }, // +Q quotes, +E backslash-escapes '"' and '\'
  { name: 'status', token: '%ST', text: false }, // 101 for an upgraded WebSocket
  { name: 'duration_ms', token: '%Tt', text: false }, // accept to close: the socket's lifetime
  { name: 'queue_ms', token: '%Tw', text: false },
  { name: 'connect_ms', token: '%Tc', text: false },
  { name: 'response_ms', token: '%Tr', text: false }, // replica's time to answer the upgrade
  { name: 'bytes_in', token: '%U', text: false },
  { name: 'bytes_out', token: '%B', text: false },
  { name: 'termination', token: '%ts', text: true }, // two-letter session state at close ("--" = normal)
  { name: 'retries', token: '%rc', text: true }, // text: "+N" when the retry went to another replica
  { name: 'frontend_conns', token: '%fc', text: false },
  { name: 'server_conns', token: '%sc', text: false },
];

/** The log-format string: a JSON object, single-quoted for haproxy.cfg (it contains no single quote). */
export const CONNECTION_LOG_FORMAT: string = `{${CONNECTION_LOG_FIELDS.map((f) => `"${f.name}":${f.text ? `"${f.token}"` : f.token}`).join(',')}}`;

/** One parsed line of the connection log. */
export interface ConnectionLogLine {
  kind: 'connection';
  ts: number;
  client_ip: string;
  client_port: number;
  frontend: string;
  backend: string;
  server: string;
  server_ip: string;
  server_port: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  queue_ms: number;
  connect_ms: number;
  response_ms: number;
  bytes_in: number;
  bytes_out: number;
  termination: string;
  retries: string;
  frontend_conns: number;
  server_conns: number;
}

/**
 * Parses one line of HAProxy's stdout; undefined for anything that is not a connection log line
 * (HAProxy also prints free-text events such as "Server ws_replicas/ws2 is DOWN").
 */
export function parseConnectionLogLine(line: string): ConnectionLogLine | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{"kind":"connection"')) return undefined;
  try {
    return JSON.parse(trimmed) as ConnectionLogLine;
  } catch {
    return undefined;
  }
}
