/**
 * The custom metrics every script reports. Message counts are per delivery: a room message that must
 * reach 10 members counts 10 times in messages_received / messages_lost.
 */
import { Counter, Rate, Trend } from 'k6/metrics';

export const metrics = {
  /** Frames of type send/publish written to a socket. */
  sent: new Counter('messages_sent'),
  /** Sends the server acknowledged as delivered (direct: delivered >= 1 or stored; room: ack). */
  acked: new Counter('messages_acked'),
  /** Sends that were not acknowledged as delivered: ack with delivered 0 (recipient offline), an error frame, or no ack before the socket closed. */
  undelivered: new Counter('messages_undelivered'),
  /** Distinct deliveries received (after dropping replays of a seq already seen). */
  received: new Counter('messages_received'),
  /** Acknowledged deliveries never received by the end of the grace period. */
  lost: new Counter('messages_lost'),
  /** The same message received again by the same user with a new seq (or without seq). */
  duplicated: new Counter('messages_duplicated'),
  /** Replays with a seq the client already had (dropped by seq, as a client should). */
  redelivered: new Counter('messages_redelivered'),
  /** Room deliveries a member missed while it was not joined, when the server has no room resume (no seq). */
  missedOffline: new Counter('messages_missed_offline'),
  /** Error frames from the server (any code). */
  serverErrors: new Counter('server_errors'),
  /** From the send timestamp in the message to its receipt, in ms. */
  latency: new Trend('e2e_latency', true),

  /** Connections established: upgrade done and the welcome received first (first connects and reconnects). */
  connects: new Counter('ws_connects'),
  /** Per connection attempt: 1 when it was refused, failed, timed out, or closed before the welcome. */
  connectFailed: new Rate('ws_connect_failed'),
  /** Connections re-established after a close the client did not ask for. */
  reconnects: new Counter('ws_reconnects'),
  /** From the close of a socket to the welcome on its replacement, in ms. */
  reconnectTime: new Trend('ws_reconnect_time', true),
  /** Sockets still not reconnected when the run ended (their time so far is in ws_reconnect_time). */
  reconnectIncomplete: new Counter('ws_reconnect_incomplete'),
  /** Connections whose first frames k6 itself dropped (no welcome first; see lib/group.js): reopened at once. */
  firstFramesDropped: new Counter('ws_first_frames_dropped'),
  /** Closes the client did not ask for, tagged with the close code. */
  closes: new Counter('ws_closes_unexpected'),
};
