/**
 * The wire protocol's codes, defined once for both ends: the server (server/src) sends them and the
 * client library (client/src) branches on them. Plain constants, no imports, so the browser bundle
 * takes them as they are.
 */

/** Codes of `{"type":"error","code":…}` frames and of HTTP error bodies. */
export const ErrorCode = {
  badJson: 'bad_json',
  badFrame: 'bad_frame',
  unknownType: 'unknown_type',
  forbidden: 'forbidden',
  rateLimited: 'rate_limited',
  remoteUnavailable: 'remote_unavailable',
  draining: 'draining',
  notMember: 'not_member',
  notStored: 'not_stored',
  /** The store did not answer in time (a NATS leader election): not delivered; send it again, same id. */
  storeUnavailable: 'store_unavailable',
  tooManyRooms: 'too_many_rooms',
  roomFull: 'room_full',
  invalidToken: 'invalid_token',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes the server uses, each with what a client should do (the model: Centrifuge's
 * disconnect codes). 1xxx are RFC 6455 codes; 4xxx are ours. The reason texts are the server's
 * (server/src/close-codes.ts).
 */
export const CloseCode = {
  /** A binary frame: the protocol is JSON text. Do not resend it. */
  unsupportedData: 1003,
  /** Text that is not UTF-8 (ws closes with it). */
  badUtf8: 1007,
  /** Rate-limit strikes: the client ignored `rate_limited`. Reconnect later, slower. */
  policy: 1008,
  /** A frame larger than MAX_PAYLOAD_BYTES (ws closes with it). */
  tooBig: 1009,
  /** A server fault. Reconnect with backoff. */
  internal: 1011,
  /** Drain: the replica is going away. Reconnect at once (with jitter) and resume. */
  serviceRestart: 1012,
  /** Try again later: slow consumer, replica over its buffer budget, or not ready. Reconnect and resume. */
  tryAgainLater: 1013,
  /** The token expired and no valid `refresh` frame came within the window. Reconnect with a new token. */
  tokenExpired: 4001,
  /** The token is no longer valid for this user. Do not reconnect with the same token. */
  forbidden: 4003,
  /** Too many connections for this user on this replica. */
  tooManyConnections: 4008,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
