/**
 * WebSocket close codes the server uses, each with the reason text it sends and what a client
 * should do (the model: Centrifuge's disconnect codes). 1xxx are RFC 6455 codes; 4xxx are ours.
 * Error codes for `error` frames live beside them in protocol.ts (`ErrorCode`).
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

/** The reason text sent with each of our own closes (at most 123 bytes by RFC 6455). */
export const CloseReason = {
  tokenExpired: 'token expired',
  forbidden: 'forbidden',
  tooManyConnections: 'too many connections for this user',
  slowConsumer: 'slow consumer: reconnect and resume',
  tooFarBehind: 'too far behind: reconnect and resume',
  historyUnavailable: 'history unavailable: reconnect and resume',
  bufferBudget: 'replica send budget exceeded: reconnect and resume',
  rateLimit: 'rate limit exceeded',
  binary: 'binary frames are not supported',
  restart: 'service restart: reconnect',
  notReady: 'not ready',
} as const;
